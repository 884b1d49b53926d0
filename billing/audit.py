from auditlog.registry import auditlog

from billing.models import ClaimBatch, Coverage, FeeScheduleEntry, MedicalNecessityNote, Payer


def register_audited_models():
    """Payers, coverage (member ids and MBIs masked, as on Patient), fees and batches go to the audit trail.
    Claim lines are derived data, rewritten in bulk: their history is the sessions' and the batches'."""
    auditlog.register(Payer)
    auditlog.register(Coverage, mask_fields=["member_id"])
    auditlog.register(FeeScheduleEntry)
    auditlog.register(ClaimBatch, exclude_fields=["csv"])
    # The note's text is clinical and never edited: the trail records who wrote which note when, not the text.
    auditlog.register(MedicalNecessityNote, exclude_fields=["text"])
