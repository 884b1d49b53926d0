from auditlog.registry import auditlog

from referrals.models import Referral, ReferralAttachment, ReferralStatusChange, ReferringProvider


def register_audited_models():
    auditlog.register(ReferringProvider)
    auditlog.register(Referral, exclude_fields=["last_action_at"])
    auditlog.register(ReferralStatusChange)
    auditlog.register(ReferralAttachment)
