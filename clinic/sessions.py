"""Session policy: automatic logoff after idle time, logoff on browser close, and required MFA."""

import time

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from clinic.models import Membership

IDLE_KEY = "idle_timeout_seconds"
LAST_SEEN_KEY = "last_seen"
MFA_REQUIRED_KEY = "mfa_required"
LAST_SEEN_RESOLUTION = 30
# Requests that must not count as activity (the warning banner polls nothing, but keep the hook).
EXEMPT_PREFIXES = ("/static/", "/healthz")


def start_session_policy(request, user):
    """At sign-in, take the strictest policy of the clinics the person belongs to."""
    clinics = [m.clinic for m in Membership.objects.filter(user=user, is_active=True).select_related("clinic")]
    minutes = min([c.idle_timeout_minutes for c in clinics] or [settings.IDLE_TIMEOUT_MINUTES])
    request.session[IDLE_KEY] = minutes * 60
    request.session[LAST_SEEN_KEY] = time.time()
    request.session[MFA_REQUIRED_KEY] = any(c.mfa_required for c in clinics)
    if any(c.logout_on_browser_close for c in clinics):
        request.session.set_expiry(0)


HAS_TOTP_KEY = "has_totp"


def must_set_up_mfa(request, clinic) -> bool:
    """True when this clinic requires MFA and the person has none: checked on every clinic page, so a
    clinic that turns MFA on, or an invitation accepted mid-session, takes effect at once."""
    if not clinic.mfa_required or request.session.get(HAS_TOTP_KEY):
        return False
    if Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists():
        request.session[HAS_TOTP_KEY] = True
        return False
    request.session[MFA_REQUIRED_KEY] = True
    return True


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.user.is_authenticated
            and not getattr(request, "api_token", None)
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            timeout = request.session.get(IDLE_KEY, settings.IDLE_TIMEOUT_MINUTES * 60)
            last_seen = request.session.get(LAST_SEEN_KEY, time.time())
            if time.time() - last_seen > timeout:
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
                return redirect(f"{reverse('account_login')}?next={request.path}")
            # Saving the session costs a write; once every 30 s is precise enough for a 15-minute timeout.
            if time.time() - last_seen > LAST_SEEN_RESOLUTION:
                request.session[LAST_SEEN_KEY] = time.time()
        return self.get_response(request)


# Where a member who must set up MFA may still go.
MFA_SETUP_ALLOWED = ("/accounts/", "/static/", "/healthz", "/session/")


class RequireMfaMiddleware:
    """A member of a clinic that requires MFA, without an authenticator, may do nothing but set one up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.user.is_authenticated
            and not getattr(request, "api_token", None)
            and request.session.get(MFA_REQUIRED_KEY)
            and not request.path.startswith(MFA_SETUP_ALLOWED)
        ):
            if Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists():
                request.session[MFA_REQUIRED_KEY] = False
            else:
                messages.warning(request, "Your clinic requires two-factor authentication. Set it up to continue.")
                return redirect("mfa_activate_totp")
        return self.get_response(request)
