"""Celery tasks of scheduling: thin, idempotent wrappers around services, each in the clinic it was given."""

from celery import shared_task

from clinic import rls
from clinic.models import Clinic
from scheduling import reminders

# --- Schedules ----------------------------------------------------------------------------------


@shared_task(acks_late=True)
def extend_schedules() -> int:
    """Celery beat, daily: every clinic's recurring classes generated up to the horizon (8 weeks ahead), and
    the places of patients whose enrollment ended given back. Idempotent: an occurrence is unique per class
    and start time, and a cancelled booking is not cancelled again, so a second run changes nothing."""
    from scheduling import services

    made = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)):
            clinic = Clinic.objects.get(pk=clinic_id)
            services.bookings_release_ended(clinic=clinic)
            made += services.occurrences_extend(clinic=clinic)
    return made


# --- Session reminders (scheduling/reminders.py) ---------------------------------------------------


@shared_task(acks_late=True)
def send_session_reminders() -> int:
    """Celery beat, every minute: plan the reminders of upcoming bookings and send the due ones, in
    every clinic (each in its own row-level security scope). Safe to run twice at once; whatever a
    killed worker or a Redis outage left unsent goes out on the next run. Returns how many were sent."""
    return reminders.reminders_run().sent
