"""Resolving the clinic and the acting membership for a request.

Every page under /c/<clinic_slug>/ and every API path under /api/v1/clinics/<clinic_slug>/ goes
through `resolve_membership`, which also narrows the database connection to that one clinic
(row-level security, clinic/rls.py). No membership, an inactive one, another clinic's object, or an object
the role may not see: all give the same 404, so nobody can learn what exists elsewhere.
"""

import zoneinfo
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone

from clinic import rls
from clinic.compiled import CompiledQuery, columns_of
from clinic.models import Clinic, Invitation, Membership
from clinic.permissions import has_permission
from clinic.sessions import must_set_up_mfa
from clinic.tokens import hash_token

# Every clinic page reads these: the SQL compiled once (clinic.compiled; 0.65 → 0.25 ms of CPU a page, issue 11).
ACTIVE_MEMBERSHIPS = CompiledQuery(
    lambda user_id: Membership.objects.select_related("clinic").filter(user_id=user_id, is_active=True).order_by("pk"),
    user_id=-1,
)


def active_memberships(user) -> list[Membership]:
    """The person's active memberships with their clinics, in one query."""
    membership_columns, clinic_columns = columns_of(Membership), columns_of(Clinic)
    memberships = []
    for row in ACTIVE_MEMBERSHIPS.rows(user_id=user.pk):
        membership = Membership.from_db("default", membership_columns, row[: len(membership_columns)])
        membership.clinic = Clinic.from_db("default", clinic_columns, row[len(membership_columns) :])
        membership.user = user  # the request's user already: no join for it (every page reads these, issue 11)
        memberships.append(membership)
    return memberships


def activate_member_clinics(request) -> list[Membership]:
    """For pages of no one clinic (the physician portal): the person's active memberships (active_memberships,
    read in their own scope), kept for the header as `clinic_view` keeps them, with the connection narrowed to
    their clinics (rls.member_clinics_scope). One query where the scope and the header read the
    memberships apart (issue 11)."""
    with rls.scoped(rls.Scope(user_id=request.user.pk)):
        request.my_memberships = active_memberships(request.user)
    rls.activate(rls.member_clinics_scope(request.user, request.my_memberships))
    return request.my_memberships


def resolve_membership(memberships: list[Membership], clinic_slug: str, api_token=None) -> Membership:
    """The membership of the clinic among the person's active ones (active_memberships), or a 404."""
    membership = next((m for m in memberships if m.clinic.slug == clinic_slug), None)
    if membership is None:
        raise Http404
    # A token belongs to one membership: it cannot be used in another clinic.
    if api_token is not None and api_token.membership_id != membership.pk:
        raise Http404
    rls.activate(rls.clinic_scope(membership.clinic_id, membership.user_id))
    return membership


def invitation_scope(user, raw_token: str) -> rls.Scope:
    """An invitation link is opened before anyone knows its clinic: row-level security admits the
    invitation by its hash, then the page works in the invitation's clinic."""
    token_hash = hash_token(raw_token)
    with rls.scoped(rls.Scope(token_hash=token_hash)):
        clinic_id = Invitation.objects.filter(token_hash=token_hash).values_list("clinic_id", flat=True).first()
    user_id = user.pk if user.is_authenticated else None
    return rls.Scope(clinic_ids=(clinic_id,) if clinic_id else (), user_id=user_id, token_hash=token_hash)


def require_permission(membership: Membership, permission: str) -> None:
    if not has_permission(membership, permission):
        raise Http404


def clinic_view(permission: str | None = None):
    """Decorator for HTML views under /c/<clinic_slug>/.

    Sets request.membership and request.clinic; anonymous users go to the login page.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, clinic_slug, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            # All of them: the header's clinic switcher lists them (clinic.context_processors), and
            # reading them once saves that a query on every page (issue 11).
            request.my_memberships = active_memberships(request.user)
            membership = resolve_membership(request.my_memberships, clinic_slug)
            if permission is not None:
                require_permission(membership, permission)
            if must_set_up_mfa(request, membership.clinic):
                messages.warning(
                    request, f"{membership.clinic.name} requires two-factor authentication. Set it up to continue."
                )
                return redirect("mfa_activate_totp")
            request.membership = membership
            request.clinic = membership.clinic
            if request.session.get("current_clinic") != membership.clinic.slug:
                request.session["current_clinic"] = membership.clinic.slug
            # Dates and times on the clinic's pages are in the clinic's time zone.
            with timezone.override(zoneinfo.ZoneInfo(membership.clinic.timezone)):
                return view(request, *args, **kwargs)

        return wrapper

    return decorator
