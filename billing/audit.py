from auditlog.registry import auditlog

from billing.models import ClaimBatch, Coverage, FeeScheduleEntry, Payer


def register_audited_models():
    """Payers, coverage (member ids and MBIs masked, as on Patient), fees and batches go to the audit trail.
    Claim lines are derived data, rewritten in bulk: their history is the sessions' and the batches'."""
    auditlog.register(Payer)
    auditlog.register(Coverage, mask_fields=["member_id"])
    auditlog.register(FeeScheduleEntry)
    auditlog.register(ClaimBatch, exclude_fields=["csv"])
