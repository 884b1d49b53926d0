"""`make run` as a supervisor: whatever it starts lives and dies with it.

Real processes (marker `devrun`, about two minutes), started by tests/stack.py, on copies of one prepared data
directory.
"""

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.stack import (
    Stack,
    free_port,
    new_data_dir,
    port_is_free,
    stop_leftover_services,
    survivors,
    wait_for,
)

# One pytest-xdist process takes them all: the module's stack is started once, and the stacks (initdb,
# migrate, seed) share the cores with one process of tests, not two.
pytestmark = [pytest.mark.devrun, pytest.mark.xdist_group("devrun")]


def postmaster_pid(data_dir: Path) -> int | None:
    """The running server's pid; None before it starts (initdb's single-user backend writes a negative one)."""
    try:
        pid = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid > 0 else None


def remove_data_dir(data_dir: Path) -> None:
    stop_leftover_services(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def prepared_data_dir():
    """A data directory that `make run` started on from nothing (initdb, migrate, seed_demo), answered on and
    stopped on SIGTERM: the tests start from copies of it, as a developer's next `make run` does, instead of
    spending a minute each on initdb and the migrations. test_sigterm_during_start_up... starts from nothing."""
    stack = Stack(new_data_dir(), free_port())
    try:
        stack.wait_until_healthy()
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=60) == 0, stack.log()[-3000:]
        yield stack.data_dir
    finally:
        stack.stop()
        stack.log_path.unlink(missing_ok=True)
        remove_data_dir(stack.data_dir)


def copy_of(data_dir: Path) -> Path:
    """The data files, owners kept (PostgreSQL runs as its own user when we are root), without the sockets,
    locks and pid files of the run that made them."""
    copy = new_data_dir()
    subprocess.run(["cp", "-a", f"{data_dir}/.", str(copy)], check=True)  # noqa: S607 (coreutils, on PATH)
    for pattern in ("*.sock", "*.ctl", ".s.PGSQL.*", "*.pid", "*.lock", ".handle_pids.json"):
        for path in copy.rglob(pattern):
            path.unlink()
    return copy


@pytest.fixture
def start_stack(prepared_data_dir):
    """Start stacks, on a copy of the prepared data directory unless given one (or fresh=True: an empty one);
    whatever a test leaves running is stopped, and the data directories made here removed."""
    stacks, made_here = [], []

    def start(data_dir: Path | None = None, port: int | None = None, fresh: bool = False) -> Stack:
        if data_dir is None:
            data_dir = new_data_dir() if fresh else copy_of(prepared_data_dir)
            made_here.append(data_dir)
        stack = Stack(data_dir, port or free_port())
        stacks.append(stack)
        return stack

    yield start
    for stack in reversed(stacks):
        stack.stop()
        stack.log_path.unlink(missing_ok=True)
    for data_dir in made_here:
        remove_data_dir(data_dir)


@pytest.fixture(scope="module")
def running(prepared_data_dir):
    """One healthy stack shared by the tests that leave it running."""
    stack = Stack(copy_of(prepared_data_dir), free_port())
    try:
        stack.wait_until_healthy()
        yield stack
    finally:
        stack.stop()
        stack.log_path.unlink(missing_ok=True)
        remove_data_dir(stack.data_dir)


def test_sigterm_stops_everything_it_started(start_stack):
    stack = start_stack()
    stack.wait_until_healthy()
    started = stack.all_pids()
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=60) == 0
    assert not survivors(started, 30), stack.log()[-3000:]
    assert port_is_free(stack.port)


def test_ctrl_c_stops_everything_it_started(start_stack):
    stack = start_stack()
    stack.wait_until_healthy()
    started = stack.all_pids()
    stack.signal_group(signal.SIGINT)  # what the terminal does on Ctrl-C
    assert stack.process.wait(timeout=60) == 0
    assert not survivors(started, 30), stack.log()[-3000:]
    assert port_is_free(stack.port)


def test_kill_9_of_the_process_group_leaves_nothing_that_blocks_the_next_start(start_stack):
    first = start_stack()
    first.wait_until_healthy()
    app = first.app_pids()
    first.signal_group(signal.SIGKILL)
    first.process.wait()
    assert not survivors(app, 60), first.log()[-3000:]
    second = start_stack(first.data_dir, first.port)
    second.wait_until_healthy()


def test_postgres_and_redis_left_by_a_killed_run_stop_with_the_next_run(start_stack):
    first = start_stack()
    first.wait_until_healthy()
    app = first.app_pids()
    first.signal_group(signal.SIGKILL)
    first.process.wait()
    # Until the first run's web server has drained, it would answer the second run's health check.
    assert not survivors(app, 60), first.log()[-3000:]
    second = start_stack(first.data_dir, first.port)
    second.wait_until_healthy()
    started = second.all_pids()
    second.process.send_signal(signal.SIGTERM)
    second.process.wait(timeout=60)
    assert not survivors(started, 30), second.log()[-3000:]


def test_sigterm_during_start_up_stops_the_postgres_it_started(start_stack):
    stack = start_stack(fresh=True)  # initdb and the migrations: a start-up long enough to interrupt
    postmaster = wait_for(lambda: postmaster_pid(stack.data_dir), 120)
    assert postmaster, stack.log()[-3000:]
    stack.process.send_signal(signal.SIGTERM)
    stack.process.wait(timeout=120)
    assert not survivors({postmaster}, 30), stack.log()[-3000:]


def test_a_killed_worker_is_started_again_and_the_web_keeps_answering(running):
    worker = running.app_process("worker")
    worker.kill()
    assert running.healthz_status() == 200
    restarted = wait_for(lambda: (running.app_process("worker") or worker).pid != worker.pid, 15)
    assert restarted, running.log()[-3000:]
    assert "worker exited with code -9" in running.log()
    new_worker_ready = wait_for(lambda: "ready." in running.log().split("Starting worker again.")[-1], 30)
    assert new_worker_ready, running.log()[-3000:]
    assert running.healthz_status() == 200


def test_a_second_run_on_the_same_data_says_so_and_leaves_the_first_running(running, start_stack):
    second = start_stack(running.data_dir, free_port())
    assert second.process.wait(timeout=60) == 1
    assert f"MedFit is already running on {running.data_dir}" in second.log()
    assert running.process.poll() is None
    assert running.healthz_status() == 200


def test_each_run_has_its_own_gunicorn_control_socket(running):
    # gunicorn closes and reopens the socket around each fork of a worker, so give it a moment.
    control_socket = running.data_dir / "gunicorn.ctl"
    assert wait_for(control_socket.is_socket, 10), running.log()[-3000:]
