"""django-allauth adapter: there is no public sign-up; people join a clinic by invitation."""

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError

from clinic.audit import client_address, record_failed_sign_in


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        """Sign-in rate limits count the same address the audit trail records."""
        return client_address(request)

    def pre_authenticate(self, request, **credentials):
        """allauth refuses a sign-in during a lockout before authenticating, so Django's
        user_login_failed never fires for it: record it here, as the failed sign-in it is."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            email = credentials.get("email") or credentials.get("username") or ""
            record_failed_sign_in(email=email, request=request, detail="Refused: too many failed attempts")
            raise
