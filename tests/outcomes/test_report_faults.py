"""Progress reports against real failures: a reports worker (a real Celery process, as `make run` starts it)
killed with SIGKILL while it stores a report, and Redis stopped while report requests are made. Either
delays a report; none is lost, none is made twice (one file, one inbox entry, one email)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from clinic import rls
from clinic.celery import HEARTBEAT_KEY
from clinic.models import OutboundMessage
from outcomes.reports import selectors
from outcomes.reports.models import ReportRequest
from tests.clinic.test_outbox import ROOT, WORKER_REDIS_DB, subprocess_env, worker_redis_url
from tests.outcomes.report_helpers import cr_patient
from tests.scheduling.test_reminders import start_private_redis, wait_until
from tests.settings import xdist_redis_db

pytestmark = pytest.mark.django_db(transaction=True)

SLOW_STORAGE = "tests.storages.SlowFileSystemStorage"


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """The private media folder this test and the worker processes it starts share."""
    settings.MEDIA_ROOT = tmp_path / "private"
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in (media / "reports").rglob("*") if path.is_file())


def start_reports_worker(log: Path, **env) -> subprocess.Popen:
    """The reports worker as `make run` starts it (clinic/devrun.py): the "reports" queue, one process."""
    command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "WARNING",
               "--concurrency", "1", "--queues", "reports", "--hostname", "reports@%h"]  # fmt: skip
    with open(log, "ab") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(**env), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_in_app(code: str, **env) -> str:
    """Run `code` in a process of the application (as the web process or beat would); its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", "from outcomes.reports import services\n" + code],
        cwd=ROOT, env=subprocess_env(**env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


# The sweeper as if its waits were over: a row left rendering by a killed worker is given back.
SWEEP_LATER = (
    "import datetime\nfrom django.utils import timezone\n"
    "later = timezone.now() + max(services.RENDERING_GIVEN_UP_AFTER, services.REQUEUE_AFTER)"
    " + datetime.timedelta(seconds=1)\n"
    "print(services.reports_sweep(now=later))\n"
)


def wait_until_all_ready(report_ids: list[int], seconds: float, on_each_wait=None) -> None:
    deadline = time.monotonic() + seconds
    while ReportRequest.objects.filter(pk__in=report_ids).exclude(status="ready").exists():
        assert time.monotonic() < deadline, list(ReportRequest.objects.values_list("pk", "status", "attempts"))
        if on_each_wait:
            on_each_wait()
        time.sleep(0.5)


def assert_delivered_once(team, report: ReportRequest, media: Path) -> None:
    """A ready row with its file, once in the physician's inbox, one email saying so."""
    report.refresh_from_db()
    assert report.status == "ready"
    assert (media / report.file.name).read_bytes().startswith(b"%PDF")
    physician = team["physician"].membership
    with rls.scoped(rls.clinic_scope(report.clinic_id)):
        inbox = list(selectors.report_inbox(membership=physician).values_list("pk", flat=True))
    assert inbox.count(report.pk) == 1
    emails = OutboundMessage.objects.filter(kind="report_ready", to_email=team["physician"].user.email)
    assert list(emails.values_list("key", flat=True)) == [f"report-ready:{report.pk}"]


@pytest.mark.parametrize("pause", ["before", "after"])
def test_reports_worker_killed_while_storing_a_report_delivers_it_once(team_a, media, tmp_path, pause):
    """The worker has claimed the row and rendered the PDF; it is killed before its file is written, or
    after the file is written but before the row saying so commits. The sweeper gives the row to the next
    worker, which stores the one file the report has."""
    _, enrollment = cr_patient(team_a, start_days_ago=40)
    redis.Redis.from_url(worker_redis_url()).flushdb()
    marks = tmp_path / "storage"
    marks.mkdir()
    worker_env = {"MEDFIT_TEST_REDIS_DB": WORKER_REDIS_DB, "MEDIA_ROOT": str(media)}
    first = start_reports_worker(
        tmp_path / "worker.log", **worker_env, MEDFIT_TEST_STORAGE_BACKEND=SLOW_STORAGE,
        MEDFIT_TEST_STORAGE_DIR=str(marks), MEDFIT_TEST_STORAGE_SECONDS="120", MEDFIT_TEST_STORAGE_PAUSE=pause,
    )  # fmt: skip
    second = None
    try:
        run_in_app("print(services.reports_schedule_run())", **worker_env)  # beat's daily job
        report = ReportRequest.objects.get(enrollment=enrollment)
        wait_until(lambda: list(marks.glob("started-*")) or first.poll() is not None, 120, "nothing stored")
        assert first.poll() is None, (tmp_path / "worker.log").read_text()
        report.refresh_from_db()
        assert report.status == "rendering" and report.attempts == 1
        os.killpg(first.pid, signal.SIGKILL)  # the main process and its pool child
        first.wait()
        report.refresh_from_db()
        assert report.status == "rendering" and not report.file  # the kill rolled back the store
        assert len(stored_files(media)) == (1 if pause == "after" else 0)  # a file no row points at

        second = start_reports_worker(tmp_path / "worker.log", **worker_env)
        assert run_in_app(SWEEP_LATER, **worker_env).strip() == "1"
        wait_until_all_ready([report.pk], 120)
    finally:
        stop(first)
        if second is not None:
            stop(second)
        redis.Redis.from_url(worker_redis_url()).flushdb()  # the killed worker's unacknowledged task
    report.refresh_from_db()
    assert report.attempts == 2 and ReportRequest.objects.filter(enrollment=enrollment).count() == 1
    assert stored_files(media) == [media / report.file.name]
    assert_delivered_once(team_a, report, media)


def test_reports_requested_while_redis_is_down_are_delivered_once_it_is_back(team_a, media, tmp_path):
    """A reports worker runs on a Redis of its own, which is stopped. An on-demand request and the daily job's
    scheduled one commit anyway (nothing reaches the queue). Redis starts again, empty; the sweeper (every
    5 minutes in beat, here every few seconds until the worker has reconnected, each run queueing the rows
    again) hands them to the worker, which renders each once."""
    _, enrollment = cr_patient(team_a, start_days_ago=40)
    folder = tmp_path / "redis"
    # The worker and these processes use the same database of that Redis (tests/settings.py numbers them).
    redis_env = {"REDIS_URL": f"unix://{folder / 'redis.sock'}", "MEDFIT_TEST_REDIS_DB": "0",
                 "MEDIA_ROOT": str(media)}  # fmt: skip
    # Queued rows are queued again at once; one that is rendering is left to its worker.
    sweep = "print(services.reports_sweep())"
    server = start_private_redis(folder)
    worker = start_reports_worker(tmp_path / "worker.log", **redis_env)
    try:
        # Running (its first heartbeat is in that Redis) before Redis stops.
        private = redis.Redis(unix_socket_path=str(folder / "redis.sock"), db=int(xdist_redis_db(0)))
        wait_until(lambda: private.keys(f"*{HEARTBEAT_KEY}") or worker.poll() is not None, 120, "no worker")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        physiologist = team_a["physiologist"].membership
        out = run_in_app(
            "import datetime\nfrom clinic import rls\nfrom clinic.models import Enrollment, Membership\n"
            f"with rls.scoped(rls.clinic_scope({enrollment.clinic_id})):\n"
            f"    enrollment = Enrollment.objects.select_related('clinic').get(pk={enrollment.pk})\n"
            "    services.report_request_create(\n"
            f"        clinic=enrollment.clinic, actor=Membership.objects.get(pk={physiologist.pk}),\n"
            "        enrollment=enrollment, period_start=enrollment.start_date,\n"
            "        period_end=enrollment.start_date + datetime.timedelta(days=29))\n"
            "print('scheduled', services.reports_schedule_run())\n",
            **redis_env,
        )
        assert "scheduled 1" in out
        reports = list(ReportRequest.objects.filter(enrollment=enrollment).order_by("kind"))
        assert [(r.kind, r.status) for r in reports] == [("on_demand", "queued"), ("scheduled", "queued")]
        assert worker.poll() is None, "the worker died with Redis"

        server = start_private_redis(folder)  # back, empty
        last_sweep = [time.monotonic()]

        def sweep_now_and_then():  # as beat would, every 5 minutes
            if time.monotonic() - last_sweep[0] > 5:
                run_in_app(sweep, **redis_env, REPORT_REQUEUE_MINUTES="0")
                last_sweep[0] = time.monotonic()

        run_in_app(sweep, **redis_env, REPORT_REQUEUE_MINUTES="0")
        wait_until_all_ready([r.pk for r in reports], 120, on_each_wait=sweep_now_and_then)
        time.sleep(3)  # room for a second render to show
    finally:
        stop(worker)
        stop(server)
    for report in reports:
        report.refresh_from_db()
        assert report.status == "ready" and report.attempts == 1
    assert stored_files(media) == sorted(media / r.file.name for r in reports)
    assert_delivered_once(team_a, reports[1], media)
    assert not OutboundMessage.objects.filter(key=f"report-ready:{reports[0].pk}").exists()  # on demand: no email
