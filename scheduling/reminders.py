"""Session reminders: a row per booking and channel, sent exactly once, never lost.

Celery beat runs `reminders_run` every minute (scheduling/tasks.py). Clinic by clinic, under that
clinic's row-level security scope, it does two things:

1. **Plan** (`reminders_plan`): one `INSERT … SELECT … ON CONFLICT DO NOTHING` writes the missing
   `Reminder` rows for booked places in scheduled classes starting within the clinic's lead time
   (plus `PLAN_MARGIN`), one per channel the clinic enabled and the patient opted into, due at
   `starts_at − lead`. The unique constraint `reminder_once_per_channel` makes a second plan (or two
   plans at once) add nothing. Nothing here depends on how bookings are made: any booked row counts.
2. **Send** (`reminders_send_due`): claims due pending rows in small batches with
   `SELECT … FOR UPDATE SKIP LOCKED`, checks each again (booking still booked, class not cancelled,
   patient still opted in with an address, clinic channel still on, session not started), sends it
   (email through Django's email backend, SMS through scheduling/sms.py) and marks it sent in the
   transaction that holds the lock. Two runs at once never take the same row; a run that dies (a
   killed worker, a lost connection) releases its locks as its transaction rolls back, so the rows
   are still pending for the next run. A send that fails counts an attempt, records the error's type
   (never its text, which can name the address) and is retried with backoff; after `MAX_ATTEMPTS`
   the row is failed.

The one gap, as for clinic/outbox.py: a run killed after the provider accepted a message but before
its batch committed sends that message again on the next run. Small batches keep that window short.

Messages carry the date, time and place (room, clinic name and address) and the clinic's phone;
never the class or program name, which can reveal a condition ("Cardiac rehab").
"""

import datetime
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import dateformat, timezone

from clinic import rls
from clinic.compiled import CompiledQuery, loaded_row, paths_of
from clinic.models import Clinic, Membership, Patient
from clinic.permissions import has_permission
from clinic.selectors import patients_visible_to
from scheduling import notices, sms
from scheduling.models import Booking, Occurrence, Reminder

logger = logging.getLogger("medfit.reminders")

# Rows are written this long before they fall due, so a run that comes a little late still finds them.
PLAN_MARGIN = datetime.timedelta(hours=1)
BATCH_SIZE = 50
MAX_ATTEMPTS = 5
RETRY_AFTER = datetime.timedelta(minutes=1)  # doubled with each failed attempt
MAX_RETRY_DELAY = datetime.timedelta(hours=1)

# Why a pending reminder was not sent (stored in last_error: no patient data).
BOOKING_NOT_BOOKED = "The booking was cancelled."
CLASS_CANCELLED = "The class was cancelled."
SESSION_STARTED = "The session started before the reminder could be sent."
PATIENT_INACTIVE = "The patient is inactive."
OPTED_OUT = "The patient opted out of this channel."
NO_ADDRESS = "The patient has no address for this channel."
CHANNEL_OFF = "The clinic turned this channel off."


@dataclass
class RunResult:
    planned: int = 0
    sent: int = 0
    cancelled: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: "RunResult") -> None:
        for name in ("planned", "sent", "cancelled", "retried", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- Planning ----------------------------------------------------------------------------------

PLAN_SQL = """
INSERT INTO scheduling_reminder
    (clinic_id, booking_id, patient_id, channel, due_at, status, attempts, last_error, created_at)
SELECT b.clinic_id, b.id, b.patient_id, c.channel, o.starts_at - %(lead)s, 'pending', 0, '', %(now)s
FROM scheduling_occurrence o
JOIN scheduling_booking b ON b.clinic_id = o.clinic_id AND b.occurrence_id = o.id AND b.status = 'booked'
JOIN clinic_patient p ON p.clinic_id = b.clinic_id AND p.id = b.patient_id AND p.status = 'active'
JOIN unnest(%(channels)s::text[]) AS c (channel)
    ON (c.channel = 'email' AND p.email_opt_in AND p.email <> '')
    OR (c.channel = 'sms' AND p.sms_opt_in AND p.phone <> '')
WHERE o.clinic_id = %(clinic_id)s AND o.status = 'scheduled' AND o.starts_at > %(now)s AND o.starts_at <= %(until)s
  AND NOT EXISTS (
    SELECT 1 FROM scheduling_reminder r
    WHERE r.clinic_id = b.clinic_id AND r.booking_id = b.id AND r.channel = c.channel
  )
ON CONFLICT ON CONSTRAINT reminder_once_per_channel DO NOTHING
"""


def clinic_channels(clinic: Clinic) -> list[str]:
    channels = []
    if clinic.reminder_by_email:
        channels.append(Reminder.Channel.EMAIL.value)
    if clinic.reminder_by_sms:
        channels.append(Reminder.Channel.SMS.value)
    return channels


def reminders_plan(*, clinic: Clinic, now: datetime.datetime | None = None) -> int:
    """Write the missing reminder rows of the clinic's upcoming bookings. Returns how many were added."""
    now = now or timezone.now()
    channels = clinic_channels(clinic)
    if not channels:
        return 0
    lead = datetime.timedelta(hours=clinic.reminder_lead_hours)
    params = {"clinic_id": clinic.pk, "lead": lead, "now": now, "until": now + lead + PLAN_MARGIN, "channels": channels}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PLAN_SQL, params)
        return cursor.rowcount


# --- Messages ----------------------------------------------------------------------------------


def _one_line(address: str) -> str:
    return ", ".join(line.strip() for line in address.splitlines() if line.strip())


def reminder_message(*, clinic: Clinic, occurrence: "Occurrence | Claimed", channel: str) -> tuple[str, str]:
    """(subject, body) of a reminder: date, time, place and the clinic's phone; nothing clinical. Reads
    only the occurrence's `starts_at` and `room` (never its name, which names the program)."""
    starts = timezone.localtime(occurrence.starts_at, zoneinfo.ZoneInfo(clinic.timezone))
    day, time = dateformat.format(starts, "l, F j, Y"), dateformat.format(starts, "g:i A")
    place = ", ".join(part for part in (occurrence.room.strip(), clinic.name, _one_line(clinic.address)) if part)
    call = f"call {clinic.phone}" if clinic.phone else f"contact {clinic.name}"
    if channel == Reminder.Channel.SMS:
        when = f"{dateformat.format(starts, 'D M j')} at {time}"
        return "", f"Reminder: your session at {clinic.name}, {when}. Where: {place}. To change or cancel, {call}."
    subject = f"Reminder: your session on {dateformat.format(starts, 'D, M j')} at {time}"
    body = (
        f"This is a reminder of your session at {clinic.name}.\n\n"
        f"When: {day} at {time}\n"
        f"Where: {place}\n\n"
        f"To change or cancel, please {call}.\n"
    )
    return subject, body


# --- Sending -----------------------------------------------------------------------------------


@dataclass
class Claimed:
    """A due reminder, locked, with what the checks and the message need (read in the claim's query;
    plain attributes rather than four model instances a row: a day's reminders are tens of thousands)."""

    pk: int
    channel: str
    attempts: int
    booking_status: str
    occurrence_id: int
    starts_at: datetime.datetime
    room: str
    occurrence_status: str
    patient_status: str
    email: str
    phone: str
    email_opt_in: bool
    sms_opt_in: bool


def _reason_not_to_send(clinic: Clinic, reminder: Claimed, now: datetime.datetime) -> str | None:
    if reminder.booking_status != Booking.Status.BOOKED:
        return BOOKING_NOT_BOOKED
    if reminder.occurrence_status != Occurrence.Status.SCHEDULED:
        return CLASS_CANCELLED
    if reminder.starts_at <= now:
        return SESSION_STARTED
    if reminder.patient_status != Patient.Status.ACTIVE:
        return PATIENT_INACTIVE
    if reminder.channel not in clinic_channels(clinic):
        return CHANNEL_OFF
    opted_in, address = (
        (reminder.email_opt_in, reminder.email)
        if reminder.channel == Reminder.Channel.EMAIL
        else (reminder.sms_opt_in, reminder.phone)
    )
    if not opted_in:
        return OPTED_OUT
    if not address.strip():
        return NO_ADDRESS
    return None


class _Senders:
    """One email connection and one SMS backend per batch, opened when first needed."""

    def __init__(self):
        self.email_connection = None
        self.sms_backend = None
        self.messages = {}  # a class's patients get the same text: render it once per batch

    def message(self, clinic: Clinic, reminder: Claimed) -> tuple[str, str]:
        key = (reminder.occurrence_id, reminder.starts_at, reminder.room, reminder.channel)
        if key not in self.messages:
            self.messages[key] = reminder_message(clinic=clinic, occurrence=reminder, channel=reminder.channel)
        return self.messages[key]

    def send(self, clinic: Clinic, reminder: Claimed) -> None:
        subject, body = self.message(clinic, reminder)
        if reminder.channel == Reminder.Channel.SMS:
            self.sms_backend = self.sms_backend or sms.get_backend()
            sms.send_sms(reminder.phone.strip(), body, backend=self.sms_backend)
            return
        if self.email_connection is None:
            self.email_connection = get_connection()
        reply_to = [clinic.email] if clinic.email else None
        EmailMessage(subject, body, to=[reminder.email], reply_to=reply_to, connection=self.email_connection).send()

    def close(self):
        if self.email_connection is not None:
            try:
                self.email_connection.close()
            except Exception:  # noqa: BLE001 (closing a broken connection must not undo the batch)
                logger.warning("could not close the mail connection")


def _retry_delay(attempts: int) -> datetime.timedelta:
    return min(MAX_RETRY_DELAY, RETRY_AFTER * 2 ** (attempts - 1))


# The CTE locks in the order of the partial index `reminder_due_idx` (pending rows by due_at), so the
# scan stops after `batch_size` rows instead of sorting every due row of the clinic on each claim;
# rows another run holds are skipped, not waited for.
CLAIM_SQL = """
WITH claimed AS (
    SELECT id FROM scheduling_reminder
    WHERE clinic_id = %(clinic_id)s AND status = 'pending' AND due_at <= %(now)s
    ORDER BY due_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
SELECT r.id, r.channel, r.attempts, b.status, o.id, o.starts_at, o.room, o.status,
       p.status, p.email, p.phone, p.email_opt_in, p.sms_opt_in
FROM claimed
JOIN scheduling_reminder r ON r.id = claimed.id
JOIN scheduling_booking b ON b.id = r.booking_id
JOIN scheduling_occurrence o ON o.id = b.occurrence_id
JOIN clinic_patient p ON p.id = r.patient_id
ORDER BY r.due_at, r.id
"""

# By primary key only: the batch holds these rows' locks, so they are still pending.
MARK_SENT_SQL = """
UPDATE scheduling_reminder SET status = 'sent', sent_at = %s, attempts = attempts + 1, last_error = ''
WHERE id = ANY(%s::bigint[])
"""
MARK_CANCELLED_SQL = """
UPDATE scheduling_reminder SET status = 'cancelled', last_error = %s WHERE id = ANY(%s::bigint[])
"""


def _claim(clinic: Clinic, now: datetime.datetime, batch_size: int) -> list[Claimed]:
    """Lock up to `batch_size` due pending rows that no other run holds, in the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_SQL, {"clinic_id": clinic.pk, "now": now, "limit": batch_size})
        return [Claimed(*row) for row in cursor.fetchall()]


def _send_batch(clinic: Clinic, now: datetime.datetime, batch_size: int) -> RunResult | None:
    """Claim, check, send and mark one batch in one transaction. None when nothing was due."""
    result = RunResult()
    with transaction.atomic():
        batch = _claim(clinic, now, batch_size)
        if not batch:
            return None
        lead = datetime.timedelta(hours=clinic.reminder_lead_hours)
        sent, cancelled, not_yet = [], defaultdict(list), []
        senders = _Senders()
        try:
            for reminder in batch:
                reason = _reason_not_to_send(clinic, reminder, now)
                if reason:
                    cancelled[reason].append(reminder.pk)
                    continue
                due_at = reminder.starts_at - lead
                if due_at > now:  # the class moved or the clinic shortened its lead time
                    not_yet.append((reminder.pk, due_at))
                    continue
                try:
                    senders.send(clinic, reminder)
                except Exception as error:  # noqa: BLE001 (the provider's failure is recorded and retried)
                    _record_failure(reminder, error, now, result)
                else:
                    sent.append(reminder.pk)
        finally:
            senders.close()
        with connection.cursor() as cursor:
            if sent:
                cursor.execute(MARK_SENT_SQL, [timezone.now(), sent])
            for reason, ids in cancelled.items():
                cursor.execute(MARK_CANCELLED_SQL, [reason, ids])
        for pk, due_at in not_yet:
            Reminder.objects.filter(pk=pk, status=Reminder.Status.PENDING).update(due_at=due_at)
    result.sent += len(sent)
    result.cancelled += sum(len(ids) for ids in cancelled.values())
    return result


def _record_failure(reminder: Claimed, error: Exception, now: datetime.datetime, result: RunResult) -> None:
    attempts = reminder.attempts + 1
    fields = {"attempts": attempts, "last_error": f"Not sent ({type(error).__name__}); attempt {attempts}."}
    if attempts >= MAX_ATTEMPTS:
        fields["status"] = Reminder.Status.FAILED
        fields["last_error"] = f"Not sent ({type(error).__name__}) after {attempts} attempts."
        result.failed += 1
    else:
        fields["due_at"] = now + _retry_delay(attempts)
        result.retried += 1
    Reminder.objects.filter(pk=reminder.pk).update(**fields)
    logger.warning(
        "reminder not sent",
        extra={"reminder_id": reminder.pk, "channel": reminder.channel, "error": type(error).__name__},
    )


def reminders_send_due(
    *, clinic: Clinic, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE
) -> RunResult:
    """Send the clinic's due reminders, batch by batch, until none is left. Safe to run twice at once."""
    now = now or timezone.now()
    result = RunResult()
    while (batch := _send_batch(clinic, now, batch_size)) is not None:
        result.add(batch)
    return result


def reminders_run(*, now: datetime.datetime | None = None) -> RunResult:
    """The beat job: plan and send, clinic by clinic, each in its own row-level security scope. A clinic
    whose run fails is logged and retried next minute; the other clinics still get theirs."""
    total = RunResult()
    for clinic in Clinic.objects.order_by("pk"):
        try:
            with rls.scoped(rls.clinic_scope(clinic.pk)):
                planned = reminders_plan(clinic=clinic, now=now)
                result = reminders_send_due(clinic=clinic, now=now)
                notices.texts_send_due(clinic=clinic, now=now)  # waitlist and cancellation texts, the same way
        except Exception:
            logger.exception("reminder run failed for a clinic", extra={"clinic_id": clinic.pk})
            continue
        result.planned = planned
        total.add(result)
    return total


# --- Selectors ---------------------------------------------------------------------------------


def reminders_visible_to(membership: Membership) -> QuerySet[Reminder]:
    """Reminders of the patients this member may see (none without `reminder.view`)."""
    reminders = Reminder.objects.filter(clinic_id=membership.clinic_id)
    if not has_permission(membership, "reminder.view"):
        return reminders.none()
    if has_permission(membership, "patient.view_all"):
        return reminders
    return reminders.filter(patient__in=patients_visible_to(membership))


def reminder_get(*, membership: Membership, reminder_id: int) -> Reminder:
    reminder = reminders_visible_to(membership).select_related("booking__occurrence").filter(pk=reminder_id).first()
    if reminder is None:
        raise Http404
    return reminder


CHART_REMINDERS = 10
# The chart's reminder history with the columns it shows, compiled once (clinic.compiled: three tables' every
# column through the ORM cost more CPU than PostgreSQL took to answer; issue 11). Values: clinic, patient.
CHART_REMINDER_PARTS = [
    (Reminder, "", ["id", "channel", "status", "due_at", "sent_at", "attempts", "last_error", "booking_id"]),
    (Booking, "booking__", ["id", "occurrence_id"]),
    (Occurrence, "booking__occurrence__", ["id", "starts_at"]),
]  # fmt: skip
CHART_REMINDER_HISTORY = CompiledQuery(
    lambda clinic_id, patient_id: Reminder.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
    .order_by("-booking__occurrence__starts_at", "channel")
    .values_list(*paths_of(CHART_REMINDER_PARTS))[:CHART_REMINDERS],
    clinic_id=-1, patient_id=-2,
)  # fmt: skip


def chart_reminders(*, membership: Membership, patient: Patient) -> list[Reminder]:
    """The latest reminders of a patient whose chart the member sees (so whose reminders they may see with
    `reminder.view`, as reminders_visible_to says), newest session first."""
    if not has_permission(membership, "reminder.view"):
        return []
    reminders = []
    for row in CHART_REMINDER_HISTORY.rows(clinic_id=membership.clinic_id, patient_id=patient.pk):
        reminder, booking, occurrence = loaded_row(row, CHART_REMINDER_PARTS)
        reminder.booking, booking.occurrence = booking, occurrence
        reminders.append(reminder)
    return reminders
