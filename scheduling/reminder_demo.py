"""Demo data of session reminders (settings.DEMO_SEEDERS): a history for the bookings other seeders made.

Runs after the seeders that create schedules and bookings: reminders of attended sessions in the last
five weeks are recorded as sent (a few as cancelled: the patient had opted out), and the rows of the
coming day's bookings are planned, for the beat job to send. Without bookings it does nothing.
"""

import datetime
import random

from django.utils import timezone

from scheduling import reminders
from scheduling.models import Booking, Reminder

HISTORY = datetime.timedelta(weeks=5)


def seed(clinic) -> None:
    if Reminder.objects.filter(clinic=clinic).exists():
        return
    if not clinic.reminder_by_sms:
        clinic.reminder_by_sms = True
        clinic.save(update_fields=["reminder_by_sms"])
    now = timezone.now()
    lead = datetime.timedelta(hours=clinic.reminder_lead_hours)
    rng = random.Random(f"reminders-{clinic.slug}")  # noqa: S311 (demo data)
    past = (
        Booking.objects.filter(
            clinic=clinic, occurrence__starts_at__gte=now - HISTORY, occurrence__starts_at__lt=now,
            status__in=[Booking.Status.BOOKED, Booking.Status.LATE_CANCELLED],
        )
        .select_related("occurrence", "patient")
        .order_by("pk")
    )  # fmt: skip
    rows = []
    for booking in past.iterator(chunk_size=2000):
        patient, due_at = booking.patient, booking.occurrence.starts_at - lead
        channels = [("email", patient.email_opt_in and patient.email), ("sms", patient.sms_opt_in and patient.phone)]
        for channel, reachable in channels:
            if not reachable:
                continue
            row = Reminder(clinic=clinic, booking=booking, patient=patient, channel=channel, due_at=due_at,
                           created_at=due_at - reminders.PLAN_MARGIN)  # fmt: skip
            if rng.random() < 0.03:
                row.status, row.last_error = Reminder.Status.CANCELLED, reminders.OPTED_OUT
            else:
                row.status, row.attempts = Reminder.Status.SENT, 1
                row.sent_at = due_at + datetime.timedelta(seconds=rng.randint(5, 55))
            rows.append(row)
    Reminder.objects.bulk_create(rows, batch_size=2000)
    reminders.reminders_plan(clinic=clinic, now=now)
