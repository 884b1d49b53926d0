"""Benchmark of the session-reminder job (scheduling/reminders.py): a whole day's reminders at once.

What it measures
    A clinic of its own, bench-reminders, with N bookings (default 50,000) in one day: N patients, each
    enrolled and booked once into one of N/200 classes of 200 places, spread from 6:00 to 20:00. Every
    patient opted in to email, every fifth also to text messages (1.2 × N messages). The job then runs
    as in production (the application role, in the clinic's row-level security scope, email through
    Django's in-memory backend and SMS through scheduling.sms.LocMemBackend):

      - plan: the one INSERT … SELECT that writes every reminder row
      - send: claim (FOR UPDATE SKIP LOCKED), check, render, send and mark every row, batch by batch
      - plan + send: the day's work, against the target (< 60 s)
      - plan again and send again with nothing new: what each minute's run costs in steady state

    The reference, measured in the same run on the same machine: rendering the same messages and
    handing them to the same in-memory backends with no database at all. Its ratio shows what the
    database work (rows, locks, checks) costs on top of producing the messages.

    The reminder rows are deleted (as the owner) before each measurement, so runs are repeatable;
    the clinic, patients and bookings are built once and reused while N matches. Between plan and
    send the reminder table is analyzed (untimed), as autovacuum does within a minute of a large insert.
"""

import datetime
import json
import random
import time
from pathlib import Path

from django.core import mail
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

SLUG = "bench-reminders"  # + the number of bookings: each size is a clinic of its own
PER_CLASS = 200
TARGET_SECONDS = 60.0
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "reminders.json"


def day_start() -> datetime.datetime:
    """6:00 UTC the day after tomorrow: far enough ahead that the data set stays in the future for a day."""
    today = timezone.now().replace(hour=6, minute=0, second=0, microsecond=0)
    return today + datetime.timedelta(days=2)


def build(bookings: int, seed: int):
    """The clinic with `bookings` bookings in one day (reused when present with that many)."""
    from bench.dataset import add_member, insert_patients
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic, Enrollment, Patient, Program
    from scheduling.models import Booking, Occurrence

    slug = f"{SLUG}-{bookings}"
    with connected_as_owner():
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is not None and Booking.objects.filter(clinic=clinic).count() == bookings:
            start = Occurrence.objects.filter(clinic=clinic).order_by("starts_at").first().starts_at
            return clinic, start
        if clinic is not None:
            raise SystemExit(f"{slug} is incomplete (an interrupted build?): run with --rebuild.")
        started = time.perf_counter()
        print(f"Building clinic {slug} with {bookings:,} bookings in one day…", flush=True)
        rng = random.Random(f"{seed}-{slug}")
        with transaction.atomic():
            clinic = Clinic.objects.create(
                name="Bench Reminders Health Fitness", slug=slug, mfa_required=False, phone="(555) 010-0100",
                address="12 Main Street\nSpringfield, IL 62701", reminder_by_email=True, reminder_by_sms=True,
            )  # fmt: skip
            staff = add_member(clinic, "physiologist")
            program = Program.objects.create(clinic=clinic, name="Cardiac rehab", program_type="cr")
            insert_patients(clinic, bookings, rng)
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE clinic_patient SET status = 'active', email_opt_in = true, email = 'p' || id || "
                    "'@example.com', sms_opt_in = (id %% 5 = 0) WHERE clinic_id = %s",
                    [clinic.pk],
                )
            patient_ids = list(Patient.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True))
            start = day_start()
            classes = (bookings + PER_CLASS - 1) // PER_CLASS
            step = datetime.timedelta(hours=14) / max(classes, 1)
            occurrences = Occurrence.objects.bulk_create(
                Occurrence(
                    clinic=clinic, program=program, name=f"Cardiac rehab {n}", room=f"Gym {'ABCD'[n % 4]}",
                    starts_at=start + n * step, ends_at=start + n * step + datetime.timedelta(hours=1),
                    capacity=PER_CLASS, booked_count=min(PER_CLASS, bookings - n * PER_CLASS),
                )
                for n in range(classes)
            )  # fmt: skip
            enrollments = Enrollment.objects.bulk_create(
                (Enrollment(clinic=clinic, patient_id=pk, program=program, start_date=start.date())
                 for pk in patient_ids), batch_size=5_000,
            )  # fmt: skip
            Booking.objects.bulk_create(
                (Booking(clinic=clinic, occurrence=occurrences[n // PER_CLASS], enrollment=e, patient_id=e.patient_id,
                         booked_by=staff) for n, e in enumerate(enrollments)),
                batch_size=5_000,
            )  # fmt: skip
        with connection.cursor() as cursor:
            for table in ("clinic_patient", "clinic_enrollment", "scheduling_occurrence", "scheduling_booking"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  {slug}: built in {time.perf_counter() - started:.1f} s", flush=True)
        return clinic, start


def clear_reminders(clinic) -> None:
    from clinic.dbroles import connected_as_owner

    with connected_as_owner(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM scheduling_reminder WHERE clinic_id = %s", [clinic.pk])
        cursor.execute("VACUUM (ANALYZE) scheduling_reminder")
    mail.outbox = []


def analyze_reminders() -> None:
    """Fresh statistics after the day's rows appeared at once, as autovacuum gives them within a minute
    in production; without them the planner still believes the table empty and sorts every pending row
    of the clinic on each claim."""
    from clinic.dbroles import connected_as_owner

    with connected_as_owner(), connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_reminder")


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def reference(clinic, start) -> tuple[float, int]:
    """The same messages through the same sending code (scheduling.reminders._Senders, a batch at a
    time), with the rows built in memory: everything but the database."""
    from clinic import rls
    from scheduling import reminders, sms
    from scheduling.models import Booking, Reminder

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        bookings = list(Booking.objects.filter(clinic=clinic).select_related("occurrence", "patient").order_by("pk"))

    def claimed(booking, channel):
        o, p = booking.occurrence, booking.patient
        return reminders.Claimed(0, channel, 0, booking.status, o.pk, o.starts_at, o.room, o.status, p.status,
                                 p.email, p.phone, p.email_opt_in, p.sms_opt_in)  # fmt: skip

    rows = [claimed(b, Reminder.Channel.EMAIL) for b in bookings]
    rows += [claimed(b, Reminder.Channel.SMS) for b in bookings if b.patient.sms_opt_in]
    rows.sort(key=lambda r: r.starts_at)
    mail.outbox, sms.outbox[:] = [], []

    def run() -> int:
        for start_at in range(0, len(rows), reminders.BATCH_SIZE):
            senders = reminders._Senders()
            for reminder in rows[start_at : start_at + reminders.BATCH_SIZE]:
                senders.send(clinic, reminder)
            senders.close()
        return len(rows)

    seconds, sent = timed(run)
    mail.outbox, sms.outbox[:] = [], []
    return seconds, sent


def measure(clinic, start) -> dict:
    from clinic import rls
    from scheduling import reminders, sms

    clear_reminders(clinic)
    sms.outbox[:] = []
    lead = datetime.timedelta(hours=clinic.reminder_lead_hours)
    last_start = start + datetime.timedelta(hours=14)
    plan_at = last_start - lead - reminders.PLAN_MARGIN  # the last class just enters the planning window
    send_at = last_start - lead + datetime.timedelta(minutes=1)  # every reminder is due, no class started
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        plan_s, planned = timed(lambda: reminders.reminders_plan(clinic=clinic, now=plan_at))
    analyze_reminders()
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        send_s, result = timed(lambda: reminders.reminders_send_due(clinic=clinic, now=send_at))
        replan_s, replanned = timed(lambda: reminders.reminders_plan(clinic=clinic, now=send_at))
        resend_s, resent = timed(lambda: reminders.reminders_send_due(clinic=clinic, now=send_at))
    messages = len(mail.outbox) + len(sms.outbox)
    if result.sent != planned or messages != planned or replanned or resent.sent:
        raise SystemExit(
            f"Reminder job miscounted: planned {planned}, sent {result.sent}, delivered {messages}, "
            f"planned again {replanned}, sent again {resent.sent}."
        )
    mail.outbox, sms.outbox[:] = [], []
    return {"plan_s": plan_s, "send_s": send_s, "planned": planned, "replan_s": replan_s, "resend_s": resend_s}


def run(bookings: int, seed: int) -> bool:
    """Build (or reuse), measure, print the table; True when plan + send is under the target."""
    clinic, start = build(bookings, seed)
    print(f"\nMeasuring the reminder job for {bookings:,} bookings in one day…", flush=True)
    with override_settings(
        SMS_BACKEND="scheduling.sms.LocMemBackend", EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
    ):
        job = measure(clinic, start)
        reference_s, reference_messages = reference(clinic, start)
    total = job["plan_s"] + job["send_s"]
    passed = total < TARGET_SECONDS
    rows = [
        ("plan: INSERT … SELECT of every reminder row", job["plan_s"], job["planned"]),
        ("send: claim, check, render, send, mark", job["send_s"], job["planned"]),
        ("plan + send (the day's work)", total, job["planned"]),
        ("plan again, nothing to add (each minute)", job["replan_s"], 0),
        ("send again, nothing due (each minute)", job["resend_s"], 0),
        ("reference: render + hand to in-memory backends, no database", reference_s, reference_messages),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(
        f"\nReminder job: {clinic.slug}, {bookings:,} bookings in one day, {job['planned']:,} messages (email + text)"
    )
    print(f"{'step':<{width}} | {'seconds':>8} | {'messages':>9} | ratio to reference")
    print(f"{'-' * width}-+-{'-' * 8}-+-{'-' * 9}-+-------------------")
    for name, seconds, count in rows:
        ratio = f"{seconds / reference_s:.2f}x" if reference_s else "-"
        print(f"{name:<{width}} | {seconds:8.2f} | {count:9,} | {ratio}")
    print(f"target: plan + send < {TARGET_SECONDS:.0f} s for {bookings:,} bookings: {'PASS' if passed else 'FAIL'}")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {"bookings": bookings, **job, "reference_s": reference_s, "target_s": TARGET_SECONDS, "passed": passed},
            indent=2,
        )  # fmt: skip
    )
    return passed
