"""Load test: many staff at once through gunicorn with production settings (`make loadtest`).

What it does
    1. The bench data set in medfit_bench (bench/run.py's bench-big and bench-small, built if missing), plus
       sign-in accounts in bench-big, today's class of 20 in bench-floor, and once, bench-big's and
       bench-small's history: about 130,000 attended sessions with their observations, assessments and claim
       lines in bench-big (bench/loadplan.py, bench/history.py).
    2. gunicorn on 127.0.0.1 (a free port) with production settings: clinic.settings, DEBUG=0, the
       application database role (row-level security on), the production password hasher, --workers and
       --threads as given (default 2 × 4, as `make run`). Only HTTPS redirects and secure cookies are off,
       since the load comes over plain HTTP on the loopback (a TLS proxy does that part in production).
    3. Server CPU per request, page by page: as one person of the page's role, N requests of each page one
       after the other (and N sign-ins), reading the gunicorn workers' CPU time (utime + stime in
       /proc/<pid>/stat) and PostgreSQL's (the postmaster's own and reaped children's, plus its live
       backends) before and after.
    4. For each number of users (default 30, then 60): locust, headless (bench/locustfile.py): the users
       sign in over the first --spawn-seconds (one address: the clinic behind one NAT), then click through
       their role's pages for the rest of --seconds. Per page: requests, errors, p50/p95/p99, requests/s; for
       the whole run the workers' and PostgreSQL's CPU ms per request.

Output
    A table per run, the targets of issue 11 (60 users: p95 < 150 ms on every page, 0 errors, >= 100
    requests/s, every sign-in from the one address accepted) as PASS/FAIL (the exit status stays 0),
    bench/results/loadtest.json, and the server's log in bench/results/loadtest-server.log. The load generator
    runs on the same two cores as the server and the database: docs/testing.md says how to read the figures.

How to run
    make loadtest
    make loadtest LOADTEST_ARGS="--users 60 --seconds 120 --workers 3 --threads 4"
"""

import argparse
import contextlib
import csv
import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.database import configure_django

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RESULTS_FILE = RESULTS / "loadtest.json"
PLAN_FILE = RESULTS / "loadtest-plan.json"
SERVER_LOG = RESULTS / "loadtest-server.log"
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_P95_MS, TARGET_RPS, TARGET_USERS = 150, 100, 60


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description="Load test through gunicorn.")
    parser.add_argument("--users", default="30,60", help="concurrent users of each run, comma-separated (30,60)")
    parser.add_argument("--seconds", type=int, default=90, help="length of each run, sign-ins included (90)")
    parser.add_argument("--spawn-seconds", type=int, default=30, help="all users have signed in after (30)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="a run stops after this many (20000)")
    parser.add_argument("--wait", default="0.25,0.75", help="pause between a user's clicks, min,max s (0.25,0.75)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (4)")
    parser.add_argument("--cpu-requests", type=int, default=20, help="requests per page for CPU per request (20)")
    args = parser.parse_args(argv)
    args.users = [int(n) for n in args.users.split(",")]
    if min(args.users) < 1 or max(args.users) > 200 or args.seconds > 600 or args.max_requests > 100_000:
        parser.error("bounded: 1-200 users, at most 600 s and 100,000 requests a run")
    return args


# --- CPU time from /proc -----------------------------------------------------------------------------


def reference_loop_ms() -> float:
    """CPU ms of a fixed pure-Python loop (the best of three): how fast the machine is now. These machines share
    their host, and its speed has varied by a third within a minute, so runs made at different times compare
    only as far as their reference loops agree."""
    times = []
    for _ in range(3):
        began, total = time.process_time(), 0
        for number in range(1_000_000):
            total += number * number % 7
        times.append((time.process_time() - began) * 1000)
    return round(min(times))


def children_cpu() -> float:
    """CPU seconds of this process's children that have exited and been waited for (a locust run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (and of its reaped children, cutime + cstime, with `children`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / TICKS


def child_pids(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children()]


def workers_cpu(master: int) -> float:
    return sum(cpu_seconds(pid) for pid in child_pids(master))


def postgres_pid() -> int | None:
    """The postmaster of the database the bench uses, when it runs on this machine: the parent of this
    connection's backend (the embedded server or the machine's own). None for a server elsewhere."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        process = psutil.Process(backend)
        if not process.name().startswith("postgres"):  # the same number on another host
            return None
        return process.ppid()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def postgres_cpu(postmaster: int | None) -> float | None:
    """All of PostgreSQL: the postmaster, backends that exited (its cutime) and those still running."""
    if postmaster is None:
        return None
    live = 0.0
    for pid in child_pids(postmaster):
        # A backend that exits between the listing and the read: its time is in the postmaster's cutime now.
        with contextlib.suppress(FileNotFoundError):
            live += cpu_seconds(pid)
    return cpu_seconds(postmaster, children=True) + live


class CpuMeter:
    def __init__(self, master: int, postmaster: int | None):
        self.master, self.postmaster = master, postmaster

    def read(self) -> tuple[float, float | None]:
        return workers_cpu(self.master), postgres_cpu(self.postmaster)

    @staticmethod
    def per_request(before, after, count: int) -> tuple[float, float | None]:
        app = (after[0] - before[0]) * 1000 / max(count, 1)
        db = None if before[1] is None else (after[1] - before[1]) * 1000 / max(count, 1)
        return round(app, 1), None if db is None else round(db, 1)


# --- The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict:
    """Production settings on medfit_bench (configure_django has pointed DATABASE_URL there)."""
    from django.conf import settings

    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "MEDFIT_TEST_REDIS_DB", "MEDFIT_DB_ROLE"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0",
        REDIS_URL=settings.TEST_REDIS_URL,  # bench's own Redis database (9), not the developer's
    )  # fmt: skip
    return env


def static_is_current() -> bool:
    """The manifest DEBUG=0 needs exists and is newer than every file under static/ (the project's only static
    folder; after upgrading a package with static files, delete staticfiles/)."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    newest = max((path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file()), default=0)
    return manifest.stat().st_mtime > newest


@contextmanager
def gunicorn(workers: int, threads: int):
    env = server_env()
    if not static_is_current():  # compressing every file takes minutes on a busy machine: only when changed
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                       cwd=ROOT, env=env, check=True)  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "clinic.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
               str(workers), "--threads", str(threads), "--graceful-timeout", "10",
               "--control-socket", str(RESULTS / "loadtest-gunicorn.ctl")]  # fmt: skip
    with SERVER_LOG.open("w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, server)
            yield url, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}); see {SERVER_LOG}")
        try:
            requests.get(f"{url}/accounts/login/", timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer within 60 s; see {SERVER_LOG}")


# --- Server CPU per request, page by page ---------------------------------------------------------


def signed_in(url: str, email: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/accounts/login/")
    data = {"login": email, "password": password, "csrfmiddlewaretoken": session.cookies.get("csrftoken")}
    response = session.post(f"{url}/accounts/login/", data=data, allow_redirects=False)
    if response.status_code != 302 or "/accounts/" in response.headers.get("Location", ""):
        raise SystemExit(f"load test: signing in as {email} answered HTTP {response.status_code}")
    return session


def page_paths(plan: dict, number: int) -> dict[str, tuple[str, str]]:
    """Page name -> (role, path) as bench/locustfile.py opens them; `number` picks the patient."""
    base = f"/c/{plan['clinic']}"
    patient = plan["patients"][number % len(plan["patients"])]
    progress_patient, enrollment = plan["progress"][number % len(plan["progress"])]
    return {
        "floor sheet": ("physiologist", f"/c/{plan['floor_clinic']}/classes/{plan['occurrence']}/floor/"),
        "chart": ("physiologist", f"{base}/patients/{patient}/"),
        "patient list": ("physiologist", f"{base}/patients/"),
        "patient search": ("physiologist", f"{base}/patients/?q=Sm"),
        "referral queue": ("physiologist", f"{base}/referrals/"),
        "my patients": ("physician", f"{base}/my-patients/"),
        "progress": ("physician", f"{base}/patients/{progress_patient}/enrollments/{enrollment}/progress/"),
        "kpi dashboard": ("admin", f"{base}/dashboard/"),
        "audit trail": ("admin", f"{base}/audit/"),
        "claim lines": ("billing", f"{base}/billing/"),
        "blocked lines": ("billing", f"{base}/billing/?status=blocked"),
    }


def cpu_by_page(url: str, plan: dict, meter: CpuMeter, count: int) -> dict[str, dict]:
    """Each page `count` times in a row (after 2 untimed), one at a time: CPU ms and wall ms per request."""
    sessions = {role: signed_in(url, emails[0], plan["password"]) for role, emails in plan["accounts"].items()}
    measured = {}
    for name, (role, _) in page_paths(plan, 0).items():
        for number in range(2):
            sessions[role].get(url + page_paths(plan, number)[name][1])
        before, began = meter.read(), time.perf_counter()
        for number in range(count):
            response = sessions[role].get(url + page_paths(plan, number)[name][1], allow_redirects=False)
            if response.status_code != 200:
                raise SystemExit(f"load test: {name} answered HTTP {response.status_code}")
        wall = (time.perf_counter() - began) * 1000 / count
        app, db = CpuMeter.per_request(before, meter.read(), count)
        measured[name] = {"app_cpu_ms": app, "db_cpu_ms": db, "wall_ms": round(wall, 1)}
    sign_ins = max(3, count // 4)
    before, began = meter.read(), time.perf_counter()
    for _ in range(sign_ins):
        signed_in(url, plan["accounts"]["physiologist"][0], plan["password"])
    wall = (time.perf_counter() - began) * 1000 / sign_ins
    app, db = CpuMeter.per_request(before, meter.read(), sign_ins)  # the form and the POST together
    measured["sign-in"] = {"app_cpu_ms": app, "db_cpu_ms": db, "wall_ms": round(wall, 1)}
    return measured


# --- A locust run ------------------------------------------------------------------------------------


def locust_run(url: str, users: int, args: argparse.Namespace, meter: CpuMeter) -> dict:
    prefix = RESULTS / f"loadtest-{users}"
    env = {**os.environ, "LOADTEST_PLAN": str(PLAN_FILE), "LOADTEST_MAX_REQUESTS": str(args.max_requests),
           "LOADTEST_WAIT": args.wait}  # fmt: skip
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "--host", url, "--users", str(users), "--spawn-rate", str(users / args.spawn_seconds),
               "--run-time", f"{args.seconds}s", "--stop-timeout", "5", "--csv", str(prefix), "--only-summary",
               "--loglevel", "WARNING", "--exit-code-on-error", "0"]  # fmt: skip
    print(f"\nRunning {users} users for {args.seconds} s (signed in after {args.spawn_seconds} s)…", flush=True)
    speed_before = reference_loop_ms()
    load_before, before, began = os.getloadavg()[0], meter.read(), time.monotonic()
    locust_before = children_cpu()
    with open(f"{prefix}-locust.log", "w") as log:  # locust's own summary, beside its CSV files
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
    seconds, after, locust_cpu = time.monotonic() - began, meter.read(), children_cpu() - locust_before
    pages, total = read_stats(prefix)
    total.update(all_users_requests_per_s=all_users_requests_per_s(prefix, users))
    app, db = CpuMeter.per_request(before, after, total["requests"])
    total.update(app_cpu_ms=app, db_cpu_ms=db, cpu_cores_busy=round((after[0] - before[0]) / seconds, 2))
    # The load generator shares the two cores: what it takes is not there for the server.
    total.update(locust_cpu_ms=round(locust_cpu * 1000 / max(total["requests"], 1), 1),
                 locust_cores_busy=round(locust_cpu / seconds, 2))  # fmt: skip
    if db is not None:
        total.update(db_cores_busy=round((after[1] - before[1]) / seconds, 2))
    # The machine's load average (1 min) before and after: other work on the same cores skews every figure.
    total.update(load_before=round(load_before, 1), load_after=round(os.getloadavg()[0], 1))
    total.update(reference_loop_ms=[speed_before, reference_loop_ms()])
    return {"users": users, "pages": pages, "total": total, "errors": read_failures(prefix)}


def read_stats(prefix: Path) -> tuple[dict, dict]:
    pages, total = {}, None
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            figures = {
                "requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                "p50_ms": int(float(row["50%"])), "p95_ms": int(float(row["95%"])), "p99_ms": int(float(row["99%"])),
                "requests_per_s": round(float(row["Requests/s"]), 1),
            }  # fmt: skip
            if row["Name"] == "Aggregated":
                total = figures
            else:
                pages[row["Name"]] = figures
    return pages, total


def all_users_requests_per_s(prefix: Path, users: int) -> float | None:
    """Requests/s from the moment every user has signed in to the end of the run, from locust's history (one
    row a second). The whole run's figure counts the ramp too, when fewer users click: with 60 users ramped
    over 30 s of 90 it cannot pass about 90 requests/s, however fast the server."""
    with open(f"{prefix}_stats_history.csv", newline="") as handle:
        rows = [
            row for row in csv.DictReader(handle) if row["Name"] == "Aggregated" and int(row["User Count"]) == users
        ]
    if len(rows) < 2:
        return None
    seconds = int(rows[-1]["Timestamp"]) - int(rows[0]["Timestamp"])
    requests = int(rows[-1]["Total Request Count"]) - int(rows[0]["Total Request Count"])
    return round(requests / seconds, 1) if seconds else None


def read_failures(prefix: Path) -> list[dict]:
    with open(f"{prefix}_failures.csv", newline="") as handle:
        return [
            {"page": r["Name"], "error": r["Error"], "count": int(r["Occurrences"])} for r in csv.DictReader(handle)
        ]


# --- Report --------------------------------------------------------------------------------------------


def table(run: dict, cpu: dict) -> str:
    header = (f"{'page':<16} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>6}"
              f" {'app CPU ms':>10} {'db CPU ms':>9}")  # fmt: skip
    lines = [header, "-" * len(header)]
    rows = sorted(run["pages"].items(), key=lambda item: -item[1]["requests"])
    for name, page in [*rows, ("all", run["total"])]:
        measured = cpu.get(name, {}) if name != "all" else run["total"]
        app, db = measured.get("app_cpu_ms"), measured.get("db_cpu_ms")
        lines.append(
            f"{name:<16} {page['requests']:>8} {page['errors']:>6} {page['p50_ms']:>7} {page['p95_ms']:>7}"
            f" {page['p99_ms']:>7} {page['requests_per_s']:>6} {show(app):>10} {show(db):>9}"
        )
    return "\n".join(lines)


def show(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def verdict(run: dict, spawn_seconds: int) -> str:
    slow = [name for name, page in run["pages"].items() if page["p95_ms"] >= TARGET_P95_MS]
    total = run["total"]
    checks = [
        (not slow, f"p95 < {TARGET_P95_MS} ms on every page" + (f" (not: {', '.join(sorted(slow))})" if slow else "")),
        (total["errors"] == 0, f"0 errors ({total['errors']})"),
    ]
    if run["users"] >= TARGET_USERS:  # fewer users, with their pauses between pages, cannot ask for 100 a second
        sign_in = run["pages"].get("sign-in", {"requests": 0, "errors": 0})
        checks += [
            (
                (total["all_users_requests_per_s"] or 0) >= TARGET_RPS,
                f">= {TARGET_RPS} requests/s with every user signed in ({total['all_users_requests_per_s']})",
            ),
            (
                sign_in["requests"] >= run["users"] and sign_in["errors"] == 0,
                f"{run['users']} sign-ins from one address within {spawn_seconds} s, none refused "
                f"({sign_in['requests']} signed in, {sign_in['errors']} refused)",
            ),
        ]
    return "; ".join(f"{text}: {'PASS' if ok else 'FAIL'}" for ok, text in checks)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    bench_url = configure_django()
    from bench import loadplan
    from bench.run import parse_args as bench_args
    from bench.run import prepare_data

    prepare_data(bench_args([]), bench_url)
    plan = loadplan.build(PLAN_FILE)
    postmaster = postgres_pid()
    from django.db import connections

    connections.close_all()  # the server's workers are the only clients from here on
    runs = []
    with gunicorn(args.workers, args.threads) as (url, master):
        meter = CpuMeter(master, postmaster)
        print(f"gunicorn {args.workers} workers × {args.threads} threads at {url}; CPU per request, page by page…",
              flush=True)  # fmt: skip
        cpu = cpu_by_page(url, plan, meter, args.cpu_requests)
        for users in args.users:
            runs.append(locust_run(url, users, args, meter))
    print(f"\nServer CPU per request, one request at a time ({args.cpu_requests} each):")
    print(f"{'page':<16} {'wall ms':>8} {'app CPU ms':>10} {'db CPU ms':>9}")
    for name, measured in cpu.items():
        app, db = show(measured["app_cpu_ms"]), show(measured["db_cpu_ms"])
        print(f"{name:<16} {measured['wall_ms']:>8.1f} {app:>10} {db:>9}")
    for run in runs:
        total = run["total"]
        print(
            f"\n{run['users']} users, gunicorn {args.workers} × {args.threads}: {total['requests_per_s']} requests/s"
            f" ({total['all_users_requests_per_s']} once all had signed in),"
            f" cores busy: workers {total['cpu_cores_busy']}, PostgreSQL {total.get('db_cores_busy', '-')},"
            f" locust {total['locust_cores_busy']} ({total['locust_cpu_ms']} ms a request)"
            " (CPU ms: pages one at a time, 'all' in this run);"
            f" reference loop {total['reference_loop_ms'][0]} / {total['reference_loop_ms'][1]} ms before / after"
        )
        print(table(run, cpu))
        for error in run["errors"]:
            print(f"  error: {error['page']}: {error['error']} × {error['count']}")
        print(f"targets: {verdict(run, args.spawn_seconds)}")
    RESULTS_FILE.write_text(json.dumps({"options": vars(args), "cpu_by_page": cpu, "runs": runs}, indent=2))
    print(f"\nResults written to {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
