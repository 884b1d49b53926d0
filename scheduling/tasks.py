"""Celery tasks of scheduling: thin, idempotent wrappers around services, each in the clinic it was given."""

from celery import shared_task

from clinic import rls
from clinic.models import Clinic

# --- Schedules ----------------------------------------------------------------------------------


@shared_task(acks_late=True)
def extend_schedules() -> int:
    """Celery beat, daily: every clinic's recurring classes generated up to the horizon (8 weeks ahead).
    Idempotent: an occurrence is unique per class and start time, so a second run adds nothing."""
    from scheduling import services

    made = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)):
            made += services.occurrences_extend(clinic=Clinic.objects.get(pk=clinic_id))
    return made
