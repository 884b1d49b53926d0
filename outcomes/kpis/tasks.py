"""Celery tasks of the KPI exports: thin wrappers, each in the clinic it was given."""

import logging

from celery import shared_task

from clinic import requested_files, rls

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def export_observations(clinic_id: int, export_id: int) -> str:
    from outcomes.kpis import exports

    with rls.scoped(rls.clinic_scope(clinic_id)):
        export = exports.export_run(export_id=export_id)
    return export.status if export else "missing"


@shared_task(acks_late=True)
def run_pending_exports() -> int:
    """Celery beat: exports that a broker outage or a killed worker left pending for a minute, clinic by
    clinic (row-level security), as clinic.outbox does for messages."""
    from outcomes.kpis import exports
    from outcomes.kpis.models import KpiExport

    return requested_files.run_pending(KpiExport, exports.export_run)


def enqueue_export(clinic_id: int, export_id: int) -> None:
    """Ask the worker now; a broker outage only delays the export (the beat job picks it up)."""
    try:
        export_observations.delay(clinic_id, export_id)
    except Exception as error:  # noqa: BLE001 (any broker failure: the row is safe)
        extra = {"export_id": export_id, "error": type(error).__name__}
        logger.warning("could not reach the worker; the export waits for the sweeper", extra=extra)


@shared_task(acks_late=True)
def refresh_kpi_rollups() -> int:
    """Celery beat: one refresh task per clinic large enough to need roll-ups; smaller ones lose theirs."""
    from clinic.models import Clinic

    queued = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        refresh_clinic_kpi_rollup.delay(clinic_id)
        queued += 1
    return queued


@shared_task(acks_late=True)
def refresh_clinic_kpi_rollup(clinic_id: int) -> str:
    from clinic.models import Clinic
    from outcomes.kpis import rollups
    from outcomes.kpis.dashboard import dashboard_prepare

    with rls.scoped(rls.clinic_scope(clinic_id)):
        clinic = Clinic.objects.get(pk=clinic_id)
        if not rollups.clinic_needs_rollup(clinic):
            rollups.rollup_drop(clinic=clinic)
            return "live"
        rollup = rollups.rollup_refresh(clinic=clinic)
        dashboard_prepare(clinic=clinic, today=rollup.days_before)
    return f"refreshed in {rollup.took_ms} ms"
