"""Celery tasks of billing: thin, idempotent wrappers around billing/claims.py, each in its clinic's scope."""

from celery import shared_task

from clinic import rls
from clinic.models import Clinic


@shared_task(acks_late=True)
def derive_claim_lines(clinic_id: int, enrollment_ids: list[int]) -> int:
    """After sessions are saved: re-derive these enrollments' claim lines. Safe to run twice."""
    from billing import claims

    with rls.scoped(rls.clinic_scope(clinic_id)):
        clinic = Clinic.objects.get(pk=clinic_id)
        result = claims.claim_lines_derive(clinic=clinic, enrollment_ids=enrollment_ids)
    return result.created + result.updated


@shared_task(acks_late=True)
def derive_all_claim_lines() -> int:
    """Celery beat, nightly: every clinic's lines derived again, in case a save's task was lost."""
    from billing import claims

    changed = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)):
            result = claims.claim_lines_derive(clinic=Clinic.objects.get(pk=clinic_id))
            changed += result.created + result.updated + result.voided
    return changed
