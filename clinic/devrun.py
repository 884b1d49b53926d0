"""`make run`: migrate, seed the demo, then supervise the web server, two Celery workers (the default queue
and the "reports" queue) and Celery beat.

- Ctrl-C or SIGTERM stops all three, then devservices stops the embedded PostgreSQL and Redis.
- Each child runs in a session of its own, so the terminal's Ctrl-C reaches only us and we stop them
  in order, and is started with PR_SET_PDEATHSIG (devservices.die_with_parent): if we die, even of
  kill -9, the kernel sends it SIGTERM. Keeping the children in make's process group instead would
  cover `kill -9` of the whole group but not of this process alone, nor a crash of it.
- A child that exits is started again after 1 s, 2 s, 4 s ... up to 30 s; one that ran for a minute
  starts again after 1 s.
- One `make run` per data directory: we hold an flock on `.data/run.lock` for our whole life. The
  kernel drops it when we die, however we die, so there is no stale pid file to clean up.

Expects DATABASE_URL and REDIS_URL (see devservices).
"""

import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from clinic.devservices import DATA, die_with_parent

PYTHON = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
UP_LONG_ENOUGH = 60.0  # a child that ran this long had started fine; its next restart is quick again
# Kilobytes the reports worker process may grow to before Celery replaces it (after its current task).
REPORT_WORKER_MAX_MEMORY_KB = os.environ.get("REPORT_WORKER_MAX_MEMORY_KB", str(400 * 1024))

DEMO_LOGINS = """
  MedFit is running at http://{host}:{port}/

  Demo logins (password: medfit-demo), in clinics "riverside" and "northside":
    admin@riverside.example          physiologist@riverside.example
    physician@riverside.example      billing@riverside.example
    (and the same four roles @northside.example)

  Press Ctrl-C to stop.
"""


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restart_delay: float = FIRST_RESTART_DELAY

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, start_new_session=True, preexec_fn=die_with_parent)
        self.started_at = time.monotonic()

    def check(self) -> None:
        """Start the child again if it has exited and its restart delay has passed."""
        now = time.monotonic()
        if self.process is None:
            if now >= self.restart_at:
                print(f"Starting {self.name} again.", flush=True)
                self.start()
            return
        if self.process.poll() is None:
            return
        ran_for = now - self.started_at
        if ran_for >= UP_LONG_ENOUGH:
            self.restart_delay = FIRST_RESTART_DELAY
        print(
            f"{self.name} exited with code {self.process.returncode} after {ran_for:.0f} s;"
            f" starting it again in {self.restart_delay:.0f} s.",
            flush=True,
        )
        self.process = None
        self.restart_at = now + self.restart_delay
        self.restart_delay = min(self.restart_delay * 2, MAX_RESTART_DELAY)


def take_run_lock():
    """Hold `.data/run.lock` until we exit; return None when another `make run` holds it."""
    DATA.mkdir(parents=True, exist_ok=True)
    lock_file = open(DATA / "run.lock", "a+")  # noqa: SIM115 (held open for the life of the process)
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        holder = lock_file.read().strip()
        lock_file.close()
        print(f"MedFit is already running on {DATA} ({holder}); stop it first.", file=sys.stderr, flush=True)
        return None
    lock_file.truncate(0)
    lock_file.write(f"pid {os.getpid()}, http://{HOST}:{PORT}/\n")
    lock_file.flush()
    return lock_file


def manage(*args, as_owner=False):
    # Migrations run as the database owner; everything else as the application role (clinic/dbroles.py).
    env = {**os.environ, "MEDFIT_DB_ROLE": "owner"} if as_owner else None
    subprocess.run([PYTHON, "manage.py", *args], check=True, env=env, preexec_fn=die_with_parent)


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own local server)
            return response.status == 200
    except OSError:
        return False


def stop(children: list[Child]) -> None:
    print("Stopping web, workers and beat…", flush=True)
    running = [child.process for child in children if child.process is not None and child.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    lock = take_run_lock()
    if lock is None:
        return 1
    # Until the children run, SIGTERM interrupts like Ctrl-C (subprocess.run then stops migrate, say).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        manage("migrate", "--noinput", as_owner=True)
        manage("seed_demo")
        manage("collectstatic", "--noinput", "--verbosity", "0")
    except KeyboardInterrupt:
        return 130
    children = [
        Child("web", [PYTHON, "-m", "gunicorn", "clinic.wsgi", "--bind", f"{HOST}:{PORT}", "--workers", "2",
                      "--threads", "4", "--graceful-timeout", "10",
                      # One control socket per data directory: the default is one per user.
                      "--control-socket", str(DATA / "gunicorn.ctl")]),
        Child("worker", [PYTHON, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "INFO",
                         "--concurrency", "2", "--queues", "celery", "--hostname", "default@%h"]),
        # PDF reports on a queue of their own, one process, replaced when it grows past the memory cap:
        # a burst of reports never holds up invitations and reminders, nor eats the machine.
        Child("reports worker", [PYTHON, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "INFO",
                                 "--concurrency", "1", "--queues", "reports", "--hostname", "reports@%h",
                                 "--max-memory-per-child", REPORT_WORKER_MAX_MEMORY_KB]),
        Child("beat", [PYTHON, "-m", "celery", "-A", "clinic", "beat", "--loglevel", "INFO",
                       "--schedule", str(DATA / "celerybeat-schedule")]),
    ]  # fmt: skip
    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    # From here on a signal only sets a flag, so it never interrupts us halfway through starting a child.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in children:
        child.start()
    health_url, health_deadline, announced = f"http://{HOST}:{PORT}/healthz", time.monotonic() + 60, False
    while not stopping:
        for child in children:
            child.check()
        if not announced and is_healthy(health_url):
            print(DEMO_LOGINS.format(host=HOST, port=PORT), flush=True)
            announced = True
        elif not announced and time.monotonic() > health_deadline:
            print("MedFit started, but /healthz did not report healthy within 60 s.", flush=True)
            health_deadline = float("inf")  # said once; the logins still follow when it turns healthy
        time.sleep(0.5)
    stop(children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
