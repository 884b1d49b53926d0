"""Celery tasks of billing: thin, idempotent wrappers around billing/claims.py, each in its clinic's scope."""

import logging

from celery import shared_task

from clinic import requested_files, rls
from clinic.models import Clinic

logger = logging.getLogger(__name__)


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


@shared_task(acks_late=True)
def run_dprp_export(clinic_id: int, export_id: int) -> str:
    from billing import dprp

    with rls.scoped(rls.clinic_scope(clinic_id)):
        export = dprp.dprp_export_run(export_id=export_id)
    return export.status if export else "missing"


@shared_task(acks_late=True)
def run_pending_dprp_exports() -> int:
    """Celery beat: DPRP exports that a broker outage or a killed worker left pending for a minute."""
    from billing import dprp
    from billing.models import DprpExport

    return requested_files.run_pending(DprpExport, dprp.dprp_export_run)


def enqueue_dprp_export(clinic_id: int, export_id: int) -> None:
    """Ask the worker now; a broker outage only delays the export (the beat job picks it up)."""
    try:
        run_dprp_export.delay(clinic_id, export_id)
    except Exception as error:  # noqa: BLE001 (any broker failure: the row is safe)
        extra = {"export_id": export_id, "error": type(error).__name__}
        logger.warning("could not reach the worker; the DPRP export waits for the sweeper", extra=extra)
