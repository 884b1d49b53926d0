"""Account events go into the audit trail. These receivers record; they hold no business rules."""

from allauth.mfa import signals as mfa_signals
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from clinic import audit, rls, sessions
from clinic.models import AuditEntry


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    with rls.scoped(rls.Scope(user_id=user.pk)):
        sessions.start_session_policy(request, user)
    audit.record_account_event(user=user, event=AuditEntry.Event.LOGIN, request=request)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record_account_event(user=user, event=AuditEntry.Event.LOGOUT, request=request)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    audit.record_failed_sign_in(email=credentials.get("email") or credentials.get("username") or "", request=request)


def _record_mfa_change(request, user, detail):
    audit.record_account_event(user=user, event=AuditEntry.Event.MFA_CHANGE, request=request, detail=detail)


@receiver(mfa_signals.authenticator_added)
def on_authenticator_added(sender, request, user, authenticator, **kwargs):
    _record_mfa_change(request, user, f"Added {authenticator.type}")


@receiver(mfa_signals.authenticator_removed)
def on_authenticator_removed(sender, request, user, authenticator, **kwargs):
    request.session.pop(sessions.HAS_TOTP_KEY, None)  # clinics that require MFA ask for it again
    _record_mfa_change(request, user, f"Removed {authenticator.type}")


@receiver(mfa_signals.authenticator_reset)
def on_authenticator_reset(sender, request, user, authenticator, **kwargs):
    _record_mfa_change(request, user, f"Regenerated {authenticator.type}")
