"""Messages are rows written with their cause, sent exactly once, and never lost (clinic/outbox.py)."""

import datetime
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from clinic import outbox, services, tasks
from clinic.celery import app
from clinic.models import OutboundMessage
from clinic.settings import celery_url
from tests.conftest import run_at_once
from tests.settings import MAX_TEST_WORKERS, redis_url_with_db, xdist_redis_db

ROOT = Path(__file__).resolve().parents[2]
# The real-process worker's own broker database, away from the in-process workers' (1 and up). The worker
# process adds the pytest-xdist worker's number to it, as this test does in worker_redis_url().
WORKER_REDIS_DB = str(1 + MAX_TEST_WORKERS)


def invite(team, email="new.person@alpha.test"):
    return services.invitation_create(
        clinic=team["admin"].clinic, actor=team["admin"].user, email=email, roles=["physiologist"]
    )


def queue_message(clinic, key="test:1", minutes_ago=0) -> OutboundMessage:
    """A message row as a service writes it, without asking a worker (so only the test sends it)."""
    created = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return OutboundMessage.objects.create(
        clinic=clinic, kind=OutboundMessage.Kind.REFERRAL_NOTICE, key=key, to_email="doc@example.test",
        subject="MedFit: a referral was accepted", body="Sign in to view.", created_at=created, next_attempt_at=created,
    )  # fmt: skip


def test_a_change_that_rolls_back_leaves_no_message(team_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        invite(team_a)
        raise RuntimeError("the request failed after the invitation was written")
    assert not OutboundMessage.objects.exists()


def test_queuing_the_same_event_twice_keeps_one_message(clinic_a):
    for _ in range(2):
        outbox.message_queue(
            clinic=clinic_a, kind=OutboundMessage.Kind.REFERRAL_NOTICE, key="referral-notice:7",
            to_email="doc@example.test", subject="s", body="b",
        )  # fmt: skip
    assert OutboundMessage.objects.count() == 1


def test_the_sweeper_sends_a_message_left_unsent_for_a_minute(clinic_a):
    message = queue_message(clinic_a, minutes_ago=2)
    assert outbox.messages_send_due() == 1
    message.refresh_from_db()
    assert message.sent_at is not None and len(mail.outbox) == 1


def test_the_sweeper_leaves_a_fresh_message_to_the_worker(clinic_a):
    queue_message(clinic_a, minutes_ago=0)
    assert outbox.messages_send_due() == 0


def test_the_sweeper_sends_nothing_twice(clinic_a):
    queue_message(clinic_a, minutes_ago=2)
    outbox.messages_send_due()
    outbox.messages_send_due()
    assert len(mail.outbox) == 1


def test_a_mail_server_outage_is_recorded_and_retried_later(clinic_a, settings):
    settings.EMAIL_BACKEND = "tests.mailbackends.DownEmailBackend"
    message = queue_message(clinic_a, minutes_ago=2)
    assert outbox.message_send(message_id=message.pk) is False
    message.refresh_from_db()
    assert message.sent_at is None and message.attempts == 1
    assert "SMTPServerDisconnected" in message.last_error
    assert message.next_attempt_at > timezone.now()


def test_the_task_sends_in_the_clinic_it_was_given_only(clinic_a, clinic_b):
    message = queue_message(clinic_a)
    assert tasks.send_message(clinic_b.pk, message.pk) is False  # row-level security hides it
    assert tasks.send_message(clinic_a.pk, message.pk) is True


def test_two_senders_at_once_send_each_message_once(transactional_db, clinic_a):
    messages = [queue_message(clinic_a, key=f"test:{i}", minutes_ago=2) for i in range(10)]
    run_at_once(outbox.messages_send_due, times=2)
    assert sorted(m.to[0] for m in mail.outbox) == ["doc@example.test"] * len(messages)


# --- Real processes ------------------------------------------------------------------------------


def app_database_url() -> str:
    db = connection.settings_dict
    host = urllib.parse.quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{db['USER']}@{host}{port}/{db['NAME']}"


def subprocess_env(**extra) -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": app_database_url(), **extra}


def test_a_broker_outage_delays_a_message_but_does_not_fail_the_change(transactional_db, team_a):
    """A web process whose Redis is down: the invitation commits, the page would not fail, and the
    sweeper sends the message once Redis is back (here: the test's own Redis)."""
    admin = team_a["admin"]
    code = (
        "from clinic import rls, services\n"
        "from clinic.models import Clinic, User\n"
        f"clinic = Clinic.objects.get(pk={admin.clinic.pk})\n"
        f"with rls.scoped(rls.clinic_scope(clinic.pk)):\n"
        f"    services.invitation_create(clinic=clinic, actor=User.objects.get(pk={admin.user.pk}),\n"
        "                               email='new.person@alpha.test', roles=['physiologist'])\n"
        "print('committed')\n"
    )
    env = subprocess_env(REDIS_URL="unix:///nonexistent/redis.sock")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and "committed" in result.stdout, result.stderr
    assert time.monotonic() - started < 30
    message = OutboundMessage.objects.get()
    OutboundMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    assert outbox.messages_send_due() == 1
    assert len(mail.outbox) == 1


def worker_redis_url() -> str:
    return redis_url_with_db(settings.REDIS_URL, xdist_redis_db(WORKER_REDIS_DB))


def worker_broker_url() -> str:
    """The same Redis database as a Celery broker URL, spelled as tests/settings.py spells it."""
    return celery_url(worker_redis_url()).replace("?db=", "?virtual_host=")


def test_a_worker_killed_mid_send_leaves_the_message_for_the_sweeper(transactional_db, clinic_a, tmp_path):
    redis.Redis.from_url(worker_redis_url()).flushdb()
    message = queue_message(clinic_a, minutes_ago=2)
    env = subprocess_env(
        MEDFIT_TEST_REDIS_DB=WORKER_REDIS_DB,
        MEDFIT_TEST_EMAIL_BACKEND="tests.mailbackends.SlowFileEmailBackend",
        MEDFIT_TEST_EMAIL_DIR=str(tmp_path),
        MEDFIT_TEST_EMAIL_SECONDS="30",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with app.connection_for_write(worker_broker_url()) as broker:
            tasks.send_message.apply_async((clinic_a.pk, message.pk), connection=broker)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("started-*")):
            assert time.monotonic() < deadline, "the worker never started sending"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.1)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert not list(tmp_path.glob("sent-*"))
    assert outbox.messages_send_due() == 1  # the killed sender's lock died with its connection
    assert len(mail.outbox) == 1
    redis.Redis.from_url(worker_redis_url()).flushdb()  # the killed worker's unacknowledged task
