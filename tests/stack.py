"""`make run`'s stack as real processes, on a free port and a data directory of its own under /tmp.

Used by tests/clinic/test_devrun.py and the fault report (tests/faultreport.py): each stack is
`python -m clinic.devservices run -- python -m clinic.devrun`, as `make run` starts it, so it never
touches the developer's `.data/`.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import redis

from clinic import devservices

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 180  # a fresh data directory: initdb, migrate, seed_demo, on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_data_dir() -> Path:
    # Short, under /tmp: the Redis and gunicorn sockets live here and a socket path must stay under 108 bytes.
    return Path(tempfile.mkdtemp(prefix="medfit-run-", dir="/tmp"))


def is_running(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie waiting to be reaped has exited)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(condition, seconds: float):
    """Poll `condition` until it returns something true, and return that; false after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    return condition()


def survivors(pids: set[int], seconds: float) -> list[str]:
    """Wait up to `seconds` for the processes to exit; return the command lines of those still running."""
    wait_for(lambda: not any(is_running(pid) for pid in pids), seconds)
    return [" ".join(command_line(psutil.Process(pid)))[:120] or str(pid) for pid in pids if is_running(pid)]


def stop_leftover_services(data_dir: Path) -> None:
    """A test that failed halfway may leave the embedded PostgreSQL and Redis of a killed run behind."""
    with contextlib.suppress(redis.RedisError, OSError):
        devservices.redis_client(data_dir / "redis" / "redis.sock").shutdown(nosave=True)
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        postmaster = psutil.Process(int((data_dir / "pg" / "postmaster.pid").read_text().split()[0]))
        if postmaster.name() == "postgres":  # not some other process that got the pid of a crashed one
            postmaster.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def command_line(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # exited, or a zombie not yet reaped by its parent
        return []


class Stack:
    """One `make run`: devservices (the outer process, leader of its own process group) and all below it."""

    def __init__(self, data_dir: Path, port: int, env: dict | None = None):
        self.data_dir, self.port = data_dir, port
        self.log_path = data_dir.with_name(data_dir.name + f"-{port}.log")
        inherited = {
            name: value
            for name, value in os.environ.items()
            # The test run's own services and settings must not leak into the stack.
            if not name.startswith(("DATABASE_", "REDIS_", "MEDFIT_", "DJANGO_"))
        }
        env = {**inherited, "DEBUG": "1", "PORT": str(port), "MEDFIT_DATA_DIR": str(data_dir),
               "MEDIA_ROOT": str(data_dir / "private"), **(env or {})}  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "clinic.devservices", "run", "--", sys.executable, "-m", "clinic.devrun"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthz_status(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def wait_until_healthy(self) -> None:
        healthy = wait_for(lambda: self.healthz_status() == 200 or self.process.poll() is not None, START_SECONDS)
        if not healthy or self.process.poll() is not None:
            raise RuntimeError(f"make run did not become healthy:\n{self.log()[-3000:]}")

    def devrun(self) -> psutil.Process:
        return next(p for p in psutil.Process(self.process.pid).children() if "clinic.devrun" in command_line(p))

    def app_process(self, name: str) -> psutil.Process | None:
        """The web, worker, reports worker or beat process devrun runs now (the gunicorn or Celery main
        process), if any. The two Celery workers differ by their --hostname."""
        marker = {"web": "gunicorn", "worker": "default@%h", "reports worker": "reports@%h", "beat": "beat"}[name]
        return next((p for p in self.devrun().children() if marker in command_line(p)), None)

    def app_pids(self) -> set[int]:
        """devrun and everything below it: gunicorn, Celery and their workers."""
        devrun = self.devrun()
        return {devrun.pid} | {p.pid for p in devrun.children(recursive=True)}

    def all_pids(self) -> set[int]:
        """Everything this run started, the embedded Redis and PostgreSQL included."""
        redis_and_app = {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        postmaster = int((self.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        return {self.process.pid, postmaster} | redis_and_app

    def signal_group(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)

    def stop(self) -> None:
        """Stop it whatever state it is in; a test's own assertions come before this."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.process.wait()
