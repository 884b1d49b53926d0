"""Personal API tokens: `Authorization: Bearer <token>`, stored as a SHA-256 hash."""

import hashlib
import secrets

from django.utils import timezone
from rest_framework import authentication, exceptions

from clinic import rls
from clinic.models import ApiToken

TOKEN_PREFIX = "mf_"  # noqa: S105  (a public prefix, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return None


def find_token(token_hash: str) -> ApiToken | None:
    """The live token with this hash. Row-level security admits it by its hash; its membership is then
    read in the token's clinic, which stays the request's scope (clinic.rls restores it afterwards)."""
    rls.activate(rls.Scope(token_hash=token_hash))
    clinic_id = ApiToken.objects.filter(token_hash=token_hash).values_list("clinic_id", flat=True).first()
    rls.activate(rls.NOTHING if clinic_id is None else rls.clinic_scope(clinic_id))
    token = (
        ApiToken.objects.select_related("membership__user")
        .filter(clinic_id=clinic_id, token_hash=token_hash, revoked_at__isnull=True, membership__is_active=True)
        .first()
    )
    if token is None:
        rls.activate(rls.NOTHING)
        return None
    rls.activate(rls.clinic_scope(clinic_id, token.membership.user_id))
    # Bounded write: at most once a minute per token.
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class ApiTokenMiddleware:
    """Authenticates Bearer tokens before the audit middleware reads request.user, so writes made
    through the API name their actor. Only on /api/ paths: pages need a signed-in session (with MFA
    and idle logoff). The token's clinic is checked by clinic.tenancy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.api_token = None
        raw = bearer_token(request) if request.path.startswith("/api/") else None
        if raw:
            token = find_token(hash_token(raw))
            if token is not None and token.membership.user.is_active:
                request.user = token.membership.user
                request.api_token = token
        return self.get_response(request)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """DRF side of the middleware above. A Bearer header that did not match is a 401."""

    def authenticate(self, request):
        if bearer_token(request) is None:
            return None
        token = getattr(request._request, "api_token", None)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return (token.membership.user, token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
