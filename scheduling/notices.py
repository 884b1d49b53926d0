"""Notices to patients when a booking changes: a place given from the waitlist, a cancelled class.

Each event is told once by email (a clinic.OutboundMessage, sent by clinic/outbox.py) and, to patients who
opted in to text messages at a clinic that sends them, once by SMS (a `TextNotice`, sent here through
scheduling/sms.py). Both are rows with a key unique per event, written in the transaction of the change:
the change and its notices are saved together or not at all, and queuing an event twice adds nothing.

The reminder job (scheduling/reminders.py, every minute) sends pending text notices like reminders: it
claims them `FOR UPDATE SKIP LOCKED`, checks each again (opted in, a phone, the clinic's text messages on;
a place still held before the class), sends and marks it sent in the transaction holding the lock. A run
killed mid-send or a Redis outage leaves rows pending for the next run.

Messages carry the date, time and place and the clinic's phone: never the class or program name, which
can reveal a condition.
"""

import datetime
import logging
import zoneinfo

from django.db import transaction
from django.utils import timezone

from clinic import outbox
from clinic.models import Clinic, OutboundMessage, Patient
from scheduling import sms
from scheduling.models import Booking, Occurrence, TextNotice

logger = logging.getLogger("medfit.notices")

BATCH_SIZE = 50
MAX_ATTEMPTS = 5
RETRY_AFTER = datetime.timedelta(minutes=1)  # doubled with each failed attempt
MAX_RETRY_DELAY = datetime.timedelta(hours=1)


def _clinic_zone_start(clinic: Clinic, occurrence: Occurrence) -> datetime.datetime:
    return occurrence.starts_at.astimezone(zoneinfo.ZoneInfo(clinic.timezone))


def when_and_where(clinic: Clinic, occurrence: Occurrence) -> tuple[str, str]:
    """("Monday March 2 at 9:00 AM", " in Gym A"): the class's time and place, nothing clinical."""
    start = _clinic_zone_start(clinic, occurrence)
    when = f"{start:%A %B} {start.day} at {start:%I:%M %p}".replace(" 0", " ")
    return when, f" in {occurrence.room}" if occurrence.room else ""


def clinic_contact(clinic: Clinic) -> str:
    return f"call {clinic.phone}" if clinic.phone else "contact the clinic"


def texts_allowed(clinic: Clinic, patient: Patient) -> bool:
    """A text goes to a patient who opted in and has a phone, at a clinic that sends text messages."""
    return clinic.reminder_by_sms and patient.sms_opt_in and bool(patient.phone.strip())


def text_queue(*, clinic: Clinic, booking: Booking, kind: str, key: str, body: str) -> bool:
    """Write the text notice of one event unless it exists (or the patient gets no texts). True if written."""
    if not texts_allowed(clinic, booking.patient):
        return False
    _, created = TextNotice.objects.get_or_create(
        clinic=clinic, key=key, defaults={"booking": booking, "patient": booking.patient, "kind": kind, "body": body}
    )
    return created


def place_offered_notify(*, clinic: Clinic, booking: Booking) -> None:
    """Tell a patient just moved from the waitlist into a place, by email and (opted in) by text; in the
    caller's transaction. `booking.occurrence` and `booking.patient` are read."""
    occurrence, patient = booking.occurrence, booking.patient
    when, place = when_and_where(clinic, occurrence)
    start = _clinic_zone_start(clinic, occurrence)
    key = f"place-offered:{booking.pk}"
    if patient.email:
        outbox.message_queue(
            clinic=clinic, kind=OutboundMessage.Kind.PLACE_OFFERED, key=key, to_email=patient.email,
            subject=f"{clinic.name}: a place opened for your session on {start:%b} {start.day}",
            body=(
                f"Hello,\n\nA place opened up: you are now booked for your session at {clinic.name} on {when}{place}."
                f"\n\nIf you can no longer come, please {clinic_contact(clinic)}.\n\n{clinic.name}\n{clinic.address}"
            ).rstrip() + "\n",
        )  # fmt: skip
    text_queue(
        clinic=clinic, booking=booking, kind=TextNotice.Kind.PLACE_OFFERED, key=key,
        body=f"{clinic.name}: a place opened. You are booked for {when}{place}. "
        f"If you can no longer come, {clinic_contact(clinic)}.",
    )  # fmt: skip


def class_cancelled_text(*, clinic: Clinic, booking: Booking) -> bool:
    """The text notice of a cancelled class (its email is written by occurrence_cancel). True if written."""
    when, place = when_and_where(clinic, booking.occurrence)
    return text_queue(
        clinic=clinic, booking=booking, kind=TextNotice.Kind.CLASS_CANCELLED, key=f"class-cancelled:{booking.pk}",
        body=f"{clinic.name}: your session on {when}{place} is cancelled. To book another time, "
        f"{clinic_contact(clinic)}.",
    )  # fmt: skip


# --- Sending -------------------------------------------------------------------------------------

# Why a pending text was not sent (stored in last_error: no patient data).
NO_LONGER_WANTED = "The patient no longer receives text messages."
PLACE_GONE = "The place was given up or the session has started."


def _reason_not_to_send(clinic: Clinic, notice: TextNotice, now: datetime.datetime) -> str | None:
    if notice.patient.status != Patient.Status.ACTIVE or not texts_allowed(clinic, notice.patient):
        return NO_LONGER_WANTED  # an opt-out is honoured at once, even for a row already written
    if notice.kind == TextNotice.Kind.PLACE_OFFERED and (
        notice.booking.status != Booking.Status.BOOKED or notice.booking.occurrence.starts_at <= now
    ):
        return PLACE_GONE
    return None


def _send_batch(clinic: Clinic, now: datetime.datetime) -> int | None:
    """Claim, check, send and mark one batch in one transaction. None when nothing was due."""
    with transaction.atomic():
        batch = list(
            TextNotice.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(clinic=clinic, status=TextNotice.Status.PENDING, next_attempt_at__lte=now)
            .select_related("patient", "booking__occurrence")
            .order_by("next_attempt_at", "pk")[:BATCH_SIZE]
        )
        if not batch:
            return None
        backend = None
        for notice in batch:
            reason = _reason_not_to_send(clinic, notice, now)
            if reason:
                notice.status, notice.last_error = TextNotice.Status.CANCELLED, reason
                notice.save(update_fields=["status", "last_error"])
                continue
            try:
                backend = backend or sms.get_backend()
                sms.send_sms(notice.patient.phone.strip(), notice.body, backend=backend)
            except Exception as error:  # noqa: BLE001 (the provider's failure is recorded and retried)
                _record_failure(notice, error, now)
                continue
            notice.status, notice.sent_at, notice.attempts = TextNotice.Status.SENT, timezone.now(), notice.attempts + 1
            notice.save(update_fields=["status", "sent_at", "attempts"])
    return len(batch)


def _record_failure(notice: TextNotice, error: Exception, now: datetime.datetime) -> None:
    notice.attempts += 1
    notice.last_error = f"Not sent ({type(error).__name__}); attempt {notice.attempts}."
    if notice.attempts >= MAX_ATTEMPTS:
        notice.status = TextNotice.Status.FAILED
    else:
        notice.next_attempt_at = now + min(MAX_RETRY_DELAY, RETRY_AFTER * 2 ** (notice.attempts - 1))
    notice.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
    logger.warning("text notice not sent", extra={"notice_id": notice.pk, "error": type(error).__name__})


def texts_send_due(*, clinic: Clinic, now: datetime.datetime | None = None) -> int:
    """Send the clinic's pending text notices, batch by batch (in its row-level security scope). Safe to run
    twice at once: each row is sent by whichever run locks it first. Returns how many rows were handled."""
    now = now or timezone.now()
    handled = 0
    while (count := _send_batch(clinic, now)) is not None:
        handled += count
    return handled
