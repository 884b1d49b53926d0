"""Celery tasks of scheduling: thin, idempotent wrappers around services."""

from celery import shared_task

from scheduling import reminders

# --- Session reminders (scheduling/reminders.py) ---------------------------------------------------


@shared_task(acks_late=True)
def send_session_reminders() -> int:
    """Celery beat, every minute: plan the reminders of upcoming bookings and send the due ones, in
    every clinic (each in its own row-level security scope). Safe to run twice at once; whatever a
    killed worker or a Redis outage left unsent goes out on the next run. Returns how many were sent."""
    return reminders.reminders_run().sent
