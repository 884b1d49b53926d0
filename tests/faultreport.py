"""`make faults`: break `make run`'s stack on purpose and report what users saw and what was lost.

Runs real processes (tests/stack.py) on a free port and a data directory of its own under /tmp, with
a mail server stand-in that takes a few seconds per message and writes each to a file
(tests/mailbackends.SlowFileEmailBackend), and the outbox sweep shortened to a few seconds. Each
scenario is one row of the table; one that fails prints its error in its row and the next one runs
on a stack that is healthy again. The table also goes to bench/results/faults.txt.

Not collected by pytest (no `test_` prefix) and not run by CI: it takes a few minutes and kills
things.
"""

import collections
import concurrent.futures
import email
import html
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import psutil

from clinic import devservices
from tests.stack import (
    ROOT,
    Stack,
    free_port,
    is_running,
    new_data_dir,
    port_is_free,
    stop_leftover_services,
    survivors,
    wait_for,
)

RESULTS = ROOT / "bench" / "results" / "faults.txt"
SWEEP_SECONDS = 5  # OUTBOX_SWEEP_SECONDS for the stack: beat looks for unsent messages this often
EMAIL_SECONDS = 3  # how long the stand-in mail server takes per message: the window to kill a sender in
# After the first copy of a message arrives, a second one could only come from a later sweep.
QUIET_SECONDS = 2 * SWEEP_SECONDS + EMAIL_SECONDS
ADMIN, PASSWORD = "admin@riverside.example", "medfit-demo"
LOGIN, PATIENTS = "/accounts/login/", "/c/riverside/patients/"
NEW_PATIENT, INVITE = "/c/riverside/patients/new/", "/c/riverside/staff/invite/"
SHELL = [sys.executable, "manage.py", "shell", "--no-imports", "-c"]  # without "N objects imported" on stdout


# --- A person with a browser ------------------------------------------------------------------


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # Browser.open follows redirects itself, to record each status code


@dataclass
class Page:
    statuses: list[int]
    url: str
    text: str

    @property
    def status(self) -> int:
        return self.statuses[-1]

    @property
    def chain(self) -> str:
        """The status codes as the browser got them, e.g. 302→200; 0 is no answer at all."""
        return "→".join(map(str, self.statuses))


class Browser:
    """One person: a cookie jar, CSRF tokens taken from forms, redirects followed."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), NoRedirects())

    def open(self, path: str, form: dict | None = None) -> Page:
        url, statuses = self.base_url + path, []
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        while True:
            location = None
            try:
                request = urllib.request.Request(url, data=data)  # noqa: S310 (our own stack, over http)
                with self.opener.open(request, timeout=30) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, body, location = error.code, error.read(), error.headers.get("Location")
            except OSError as error:  # refused, reset, timed out: the person sees no page at all
                status, body = 0, str(error).encode()
            statuses.append(status)
            if status not in (301, 302, 303) or not location or len(statuses) > 5:
                return Page(statuses, url, body.decode(errors="replace"))
            url, data = urllib.parse.urljoin(url, location), None

    def csrf_token(self, path: str) -> str:
        text = self.open(path).text
        marker = 'name="csrfmiddlewaretoken" value="'
        if marker not in text:
            raise RuntimeError(f"no form at {path}")
        return text.split(marker, 1)[1].split('"', 1)[0]

    def submit(self, path: str, fields: dict, token: str | None = None) -> Page:
        """Fill in and send the form at `path` (with a token taken earlier, if given)."""
        return self.open(path, {"csrfmiddlewaretoken": token or self.csrf_token(path), **fields})

    def sign_in(self, login: str, password: str, token: str | None = None) -> Page:
        return self.submit(LOGIN, {"login": login, "password": password}, token)


def signed_in(page: Page) -> bool:
    return page.status == 200 and LOGIN not in page.url


def form_error(page: Page) -> str:
    """The first error message on a form page, as the person reads it ("" when there is none)."""
    if 'class="errorlist' not in page.text:
        return ""
    item = page.text.split('class="errorlist', 1)[1].split("<li>", 1)[1].split("</li>", 1)[0]
    return html.unescape(item).strip()


def patient_form(mrn: str, last_name: str) -> dict:
    return {"mrn": mrn, "first_name": "Fault", "last_name": last_name, "date_of_birth": "1955-05-05",
            "sex": "U", "preferred_language": "English"}  # fmt: skip


# --- The run: one data directory, one stack at a time, one mail folder ------------------------


@dataclass
class Row:
    fault: str
    saw: list[str] = field(default_factory=list)
    lost: str = "-"
    duplicated: str = "-"
    rows_lost: str = "-"
    problems: list[str] = field(default_factory=list)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


class Run:
    def __init__(self):
        self.data_dir, self.port = new_data_dir(), free_port()
        self.mail_dir = self.data_dir / "mail"
        self.mail_dir.mkdir()
        self.env = {
            "EMAIL_BACKEND": "tests.mailbackends.SlowFileEmailBackend",
            "MEDFIT_TEST_EMAIL_DIR": str(self.mail_dir),
            "MEDFIT_TEST_EMAIL_SECONDS": str(EMAIL_SECONDS),
            "OUTBOX_SWEEP_SECONDS": str(SWEEP_SECONDS),
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stack = self.start_stack()

    def start_stack(self) -> Stack:
        stack = Stack(self.data_dir, self.port, self.env)
        stack.wait_until_healthy()
        return stack

    def make_healthy(self) -> None:
        """Before each scenario: a stack the previous one left broken is stopped and started again
        (devservices starts whichever of PostgreSQL and Redis is not running)."""
        if self.stack.process.poll() is None and wait_for(lambda: self.stack.healthz_status() == 200, 60):
            return
        self.stack.stop()
        self.stack = self.start_stack()

    def admin(self) -> Browser:
        browser = Browser(self.base_url)
        if not signed_in(browser.sign_in(ADMIN, PASSWORD)):
            raise RuntimeError("the admin could not sign in")
        return browser

    def app_env(self) -> dict:
        """The environment the stack's web, worker and beat run with (the application role, its services)."""
        return psutil.Process(self.stack.devrun().pid).environ()

    def shell(self, code: str) -> str:
        """`manage.py shell -c` as the app would run it; returns the last line it printed."""
        result = subprocess.run(
            [*SHELL, code],
            cwd=ROOT, env=self.app_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"manage.py shell failed: {result.stderr.strip()[-300:]}")
        return result.stdout.strip().splitlines()[-1]

    def unsent_messages(self) -> int:
        return int(self.shell(COUNT_UNSENT))

    def patients(self, mrn: str = "") -> int:
        return int(self.shell(COUNT_PATIENTS.format(mrn=mrn)))

    # The stand-in mail server's folder: started-* when a send begins, sent-*.eml when it is done.
    def sends_started(self) -> int:
        return len(list(self.mail_dir.glob("started-*")))

    def sent_to(self, address: str) -> int:
        messages = (email.message_from_bytes(path.read_bytes()) for path in self.mail_dir.glob("sent-*"))
        return sum(message["To"] == address for message in messages)

    def wait_for_mail(self, row: Row, recipients: list[str], seconds: float) -> None:
        """Wait until each recipient has a message, then a while longer for any second copy."""
        started = time.monotonic()
        all_sent = wait_for(lambda: all(self.sent_to(address) for address in recipients), seconds)
        if all_sent:
            row.saw.append(f"email out {time.monotonic() - started:.0f} s later")
        time.sleep(QUIET_SECONDS)
        counts = [self.sent_to(address) for address in recipients]
        lost, duplicated = sum(n == 0 for n in counts), sum(max(n - 1, 0) for n in counts)
        row.lost, row.duplicated = f"{lost} of {len(recipients)}", str(duplicated)
        row.expect(lost == 0 and duplicated == 0, f"sent per recipient: {counts}")

    def exits(self) -> collections.Counter:
        """How often each of web, worker and beat exited, from the lines devrun prints then."""
        lines = self.stack.log().splitlines() if self.stack.log_path.exists() else []
        return collections.Counter(line.split()[0] for line in lines if " exited with code " in line)

    def finish(self) -> None:
        self.stack.stop()
        log = self.stack.log_path
        if log.exists():  # kept next to the table: what the stack printed while it was being broken
            shutil.copy(log, RESULTS.with_name("faults-stack.log"))
            log.unlink()
        stop_leftover_services(self.data_dir)
        shutil.rmtree(self.data_dir, ignore_errors=True)


COUNT_UNSENT = """
from clinic import rls
from clinic.models import Clinic, OutboundMessage
unsent = 0
for clinic_id in Clinic.objects.values_list("pk", flat=True):
    with rls.scoped(rls.clinic_scope(clinic_id)):
        unsent += OutboundMessage.objects.filter(sent_at__isnull=True).count()
print(unsent)
"""

COUNT_PATIENTS = """
from clinic import rls
from clinic.models import Clinic, Patient
clinic = Clinic.objects.get(slug="riverside")
with rls.scoped(rls.clinic_scope(clinic.pk)):
    patients = Patient.objects.filter(clinic=clinic)
    print(patients.filter(mrn="{mrn}").count() if "{mrn}" else patients.count())
"""


def kill_worker(stack: Stack) -> psutil.Process:
    """kill -9 the Celery worker: its main process and the pool process that is sending."""
    worker = stack.app_process("worker")
    if worker is None:
        raise RuntimeError("no worker running")
    for process in [worker, *worker.children(recursive=True)]:
        process.kill()
    return worker


# --- The scenarios ----------------------------------------------------------------------------


def worker_killed_mid_send(run: Run, row: Row) -> None:
    admin, recipient = run.admin(), "worker.killed@faults.example"
    started = run.sends_started()
    page = admin.submit(INVITE, {"email": recipient, "roles": "physiologist"})
    row.saw.append(f"invite {page.chain} {'saved' if 'Invitation sent' in page.text else 'NOT SAVED'}")
    row.expect("Invitation sent" in page.text, "the invitation was not saved")
    if not wait_for(lambda: run.sends_started() > started, 30):
        raise RuntimeError("the worker never started sending")
    killed_at, worker = time.monotonic(), kill_worker(run.stack)
    row.saw.append(f"patient list {admin.open(PATIENTS).chain} meanwhile")
    restarted = wait_for(lambda: getattr(run.stack.app_process("worker"), "pid", worker.pid) != worker.pid, 30)
    row.expect(restarted, "the supervisor did not start the worker again")
    row.saw.append(f"worker back after {time.monotonic() - killed_at:.0f} s")
    run.wait_for_mail(row, [recipient], 90)


def two_senders_at_once(run: Run, row: Row) -> None:
    """Two `send_due_messages` at once over the same unsent messages; beat and the worker are paused
    (SIGSTOP) meanwhile, so these two are the only senders."""
    count = 6
    recipients = [f"two.senders.{i}@faults.example" for i in range(count)]
    worker = run.stack.app_process("worker")
    paused = [run.stack.app_process("beat"), worker, *worker.children(recursive=True)]
    for process in paused:
        process.suspend()
    try:
        run.shell(QUEUE_MESSAGES.format(recipients=recipients, minutes=1))
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        senders = [subprocess.Popen([*SHELL, SEND_DUE_ON_GO], cwd=ROOT, env=run.app_env(), **pipes) for _ in range(2)]
        try:
            # Both have started Django and wait on stdin; "go" to both at once.
            if not all(sender.stdout.readline().strip() == "ready" for sender in senders):
                raise RuntimeError("a sender did not start")
            for sender in senders:
                sender.stdin.write("go\n")
                sender.stdin.flush()
            sent = [int(sender.communicate(timeout=120)[0].strip().splitlines()[-1]) for sender in senders]
        finally:
            for sender in senders:
                sender.kill()  # no-op for a sender that finished; one that did not must not send later
                sender.wait()
    finally:
        for process in paused:
            process.resume()
    row.saw.append(f"{count} messages; the two senders sent {sent[0]} + {sent[1]}")
    run.wait_for_mail(row, recipients, 30)


QUEUE_MESSAGES = """
import datetime
from django.utils import timezone
from clinic import rls
from clinic.models import Clinic, OutboundMessage
clinic = Clinic.objects.get(slug="riverside")
rls.activate(rls.clinic_scope(clinic.pk))
due = timezone.now() - datetime.timedelta(minutes={minutes})
for address in {recipients}:
    OutboundMessage.objects.create(
        clinic=clinic, kind=OutboundMessage.Kind.REFERRAL_NOTICE, key="faults:" + address, to_email=address,
        subject="MedFit: fault report", body="Two senders at once.", created_at=due, next_attempt_at=due,
    )
print("queued")
"""

SEND_DUE_ON_GO = """
import sys
from clinic import outbox
print("ready", flush=True)
sys.stdin.readline()
print(outbox.messages_send_due())
"""


def same_mrn_at_once(run: Run, row: Row) -> None:
    admin, mrn, tries = run.admin(), "FAULT-RACE-1", 10
    token = admin.csrf_token(NEW_PATIENT)
    at_once = threading.Barrier(tries)

    def create(_) -> Page:
        at_once.wait()
        return admin.submit(NEW_PATIENT, patient_form(mrn, "Race"), token)

    with concurrent.futures.ThreadPoolExecutor(tries) as pool:
        pages = list(pool.map(create, range(tries)))
    saved = sum(page.statuses[0] == 302 for page in pages)
    errors = collections.Counter(form_error(page) for page in pages if page.status == 200 and form_error(page))
    refused = errors[f"MRN {mrn} already belongs to another patient in this clinic."]
    other = [page.chain for page in pages if page.statuses[0] != 302 and not form_error(page)]
    row.saw.append(f"{saved} saved")
    row.saw.extend(f'{count} form errors "{message}"' for message, count in errors.items())
    row.saw.append(f"other answers: {', '.join(other) or 'none'}")
    stored = run.patients(mrn)
    row.rows_lost = f"0 ({stored} patient stored)" if stored else "1"
    problem = f"saved {saved}, refused {refused}, stored {stored}"
    row.expect(saved == 1 and refused == tries - 1 and stored == 1, problem)


def redis_killed(run: Run, row: Row) -> None:
    recipient = "redis.down@faults.example"
    redis_pid = devservices.redis_client(run.data_dir / "redis" / "redis.sock").info("server")["process_id"]
    os.kill(redis_pid, signal.SIGKILL)
    wait_for(lambda: not is_running(redis_pid), 10)
    user, started = Browser(run.base_url), time.monotonic()
    page = user.sign_in(ADMIN, PASSWORD)
    row.saw.append(f"sign-in {page.chain} ({time.monotonic() - started:.1f} s)")
    row.expect(signed_in(page), "sign-in failed while Redis was down")
    page = user.open(PATIENTS)
    row.saw.append(f"patient list {page.chain}")
    row.expect(page.status == 200, "the patient list failed while Redis was down")
    started = time.monotonic()
    page = user.submit(INVITE, {"email": recipient, "roles": "physiologist"})
    saved = "Invitation sent" in page.text
    row.saw.append(f"invite {page.chain} {'saved' if saved else 'NOT SAVED'} ({time.monotonic() - started:.1f} s)")
    row.expect(saved, "the invitation was not saved while Redis was down")
    row.saw.append(f"/healthz {run.stack.healthz_status()}")
    # Started again as devservices starts it: same folder, same socket, its append-only file.
    subprocess.run(
        [sys.executable, "-c", "from clinic.devservices import start_redis; start_redis()"],
        cwd=ROOT, env={**os.environ, "MEDFIT_DATA_DIR": str(run.data_dir)}, check=True, timeout=60,
    )  # fmt: skip
    run.wait_for_mail(row, [recipient], 120)


def postgres_killed(run: Run, row: Row) -> None:
    admin, mrn = run.admin(), "FAULT-PG-1"
    page = admin.submit(NEW_PATIENT, patient_form(mrn, "Postgres"))
    row.expect(page.statuses[0] == 302, f"creating the patient answered {page.chain}")
    patient_url = urllib.parse.urlsplit(page.url).path
    latecomer = Browser(run.base_url)  # opened the sign-in page before the outage
    token = latecomer.csrf_token(LOGIN)

    postmaster = psutil.Process(int((run.data_dir / "pg" / "postmaster.pid").read_text().split()[0]))
    backends = postmaster.children()
    postmaster.kill()
    # The orphaned backends notice their postmaster is gone and exit; a new one cannot start before.
    psutil.wait_procs([postmaster, *backends], timeout=20)
    page = admin.open(PATIENTS)
    unavailable = page.status == 503 and "temporarily unavailable" in page.text
    row.saw.append(f"page {page.chain}{' temporarily unavailable' if unavailable else ''}")
    row.expect(unavailable, "a page did not answer 503 temporarily unavailable")
    attempts = [latecomer.sign_in(ADMIN, "wrong-password-123", token).chain for _ in range(6)]
    row.saw.append(f"6 wrong sign-ins {'/'.join(sorted(set(attempts)))}")
    row.expect(set(attempts) == {"503"}, f"sign-ins during the outage answered {attempts}")

    restart = "import sys, pgserver; pgserver.get_server(sys.argv[1], cleanup_mode=None)"
    subprocess.run([sys.executable, "-c", restart, str(run.data_dir / "pg")], check=True, timeout=60)
    page = Browser(run.base_url).sign_in(ADMIN, PASSWORD)
    row.saw.append(f"after restart: sign-in {page.chain}{' (not locked out)' if signed_in(page) else ''}")
    row.expect(signed_in(page), "the admin could not sign in after the restart (locked out?)")
    page = admin.open(patient_url)
    kept = page.status == 200 and mrn in page.text
    row.saw.append(f"the patient {page.chain}")
    row.rows_lost = "0" if kept else "1"
    row.expect(kept, "the patient created before the outage is gone")


def supervisor_killed(run: Run, row: Row) -> None:
    """kill -9 of `make run`'s whole process group while an invitation is being sent."""
    admin, recipient = run.admin(), "supervisor.killed@faults.example"
    patients_before = run.patients()
    started = run.sends_started()
    page = admin.submit(INVITE, {"email": recipient, "roles": "physiologist"})
    row.expect("Invitation sent" in page.text, "the invitation was not saved")
    wait_for(lambda: run.sends_started() > started, 30)
    app = run.stack.app_pids()
    killed_at = time.monotonic()
    run.stack.signal_group(signal.SIGKILL)
    run.stack.process.wait()
    wait_for(lambda: port_is_free(run.port) and not any(is_running(pid) for pid in app), 10)
    left = survivors(app, 0)
    row.saw.append(f"port free, {len(left)} web/worker/beat left after {time.monotonic() - killed_at:.1f} s")
    row.expect(port_is_free(run.port) and not left, f"left running: {left}")
    started_at = time.monotonic()
    run.stack = run.start_stack()
    row.saw.append(f"new make run healthy in {time.monotonic() - started_at:.0f} s")
    page = run.admin().open(PATIENTS)
    row.saw.append(f"patient list {page.chain}")
    lost = patients_before - run.patients()
    row.rows_lost = str(lost)
    row.expect(lost == 0, f"{lost} patients lost")
    run.wait_for_mail(row, [recipient], 60)


SCENARIOS = [
    ("Worker kill -9 mid-send", worker_killed_mid_send),
    ("Two send_due_messages at once", two_senders_at_once),
    ("10 × same MRN at once", same_mrn_at_once),
    ("Redis kill -9, restart", redis_killed),
    ("PostgreSQL kill -9, restart", postgres_killed),
    ("make run group kill -9 mid-send", supervisor_killed),
]


# --- The table --------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    header = ["fault", "what users saw", "messages lost", "messages duplicated", "rows lost", "ok"]
    lines = [header, ["---"] * len(header)]
    for row in rows:
        ok = "yes" if not row.problems else "NO"
        lines.append([row.fault, "; ".join(row.saw), row.lost, row.duplicated, row.rows_lost, ok])
    text = "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
    problems = [f"- {row.fault}: {problem}" for row in rows for problem in row.problems]
    return text + ("\n\nProblems:\n" + "\n".join(problems) if problems else "") + "\n"


def main() -> int:
    began = time.monotonic()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    print("Starting a stack of its own (fresh data directory under /tmp)…", flush=True)
    run, rows = Run(), []
    try:
        # The demo's own messages go out first, so they do not queue in front of the scenarios'.
        wait_for(lambda: run.unsent_messages() == 0, 90)
        for title, scenario in SCENARIOS:
            print(f"{title}…", flush=True)
            row = Row(title)
            try:
                run.make_healthy()
                exits_before = run.exits()
                scenario(run, row)
                exits = run.exits() - exits_before
                if exits:  # the worker, say, also exits when Redis goes away: the supervisor covers it
                    row.saw.append("restarted by make run: " + ", ".join(f"{name} ×{n}" for name, n in exits.items()))
            except Exception as error:  # noqa: BLE001 (a failed scenario is a row of the report, not the end of it)
                row.problems.append(f"{type(error).__name__}: {str(error)[:300]}")
                traceback.print_exc()
            rows.append(row)
            print(f"  {'; '.join(row.saw)}", flush=True)
    finally:
        run.finish()
    report = table(rows) + f"\n{len(rows)} scenarios in {time.monotonic() - began:.0f} s.\n"
    RESULTS.write_text(report)
    print("\n" + report + f"Written to {RESULTS.relative_to(ROOT)}; the stack's log to faults-stack.log beside it.")
    return 0 if all(not row.problems for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
