"""Timing pages in-process with django.test.Client, and counting their SQL queries."""

import math
import re
import statistics
import time
from dataclasses import dataclass, field

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic import rls
from clinic.models import Clinic, Membership, Patient, Role
from referrals.models import Referral

LAST_NAME_PREFIX = "Sm"  # Smith, Smart, Small…: the most common last-name prefix in the data set
REFERRAL_PAGE = 100  # a late page of the "all" tab (25 a page); the small clinic shows its last page
PATIENT_TABLE, REFERRAL_TABLE = '"clinic_patient"', '"referrals_referral"'


@dataclass
class Page:
    name: str
    path: str
    role: str = Role.ADMIN  # who is signed in: the clinic's administrator, or its physician (portal)
    table: str = PATIENT_TABLE  # the table whose SELECTs EXPLAIN shows for this page


@dataclass
class Result:
    page: str
    clinic: str
    patients: int
    path: str
    referrals: int = 0
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    # This process's CPU time (time.process_time): unlike the wall time, it barely moves when other work
    # shares the machine's cores, so runs on a busy machine can still be compared. PostgreSQL's is not in it.
    cpu_ms: list[float] = field(default_factory=list)

    @property
    def median_cpu_ms(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.times_ms)  # nearest-rank 95th percentile
        return ordered[math.ceil(0.95 * len(ordered)) - 1]

    @property
    def query_count(self) -> int:
        """The usual count (the most frequent). Not the maximum: every 30 s a signed-in client's
        next request also saves its session (clinic.sessions.IdleTimeoutMiddleware, +3 queries),
        which lands on whichever page comes next and would make equal pages look different.
        The label shows the whole range."""
        return statistics.mode(self.queries)

    @property
    def query_label(self) -> str:
        low, high = min(self.queries), max(self.queries)
        return str(low) if low == high else f"{low}-{high}"


def sample_patient(clinic: Clinic) -> Patient:
    """A fixed patient from the middle of the clinic, whose name, DOB and MRN the searches use."""
    patients = Patient.objects.filter(clinic=clinic).order_by("id")
    return patients[patients.count() // 2]


def sample_referral(clinic: Clinic) -> Referral | None:
    """A fixed accepted referral (it has an enrollment and a status history) from the middle of the clinic."""
    accepted = Referral.objects.filter(clinic=clinic, status=Referral.Status.ACCEPTED).order_by("id")
    count = accepted.count()
    return accepted[count // 2] if count else None


def pages_for(clinic: Clinic) -> list[Page]:
    patient = sample_patient(clinic)
    base = f"/c/{clinic.slug}/patients/"
    pages = [
        Page("trivial view (reference)", "/bench-trivial/"),
        Page("patient list", base),
        Page("patient list ?page=200", f"{base}?page=200"),
        Page(f"search last-name prefix '{LAST_NAME_PREFIX}'", f"{base}?q={LAST_NAME_PREFIX}"),
        Page("search 'first last'", f"{base}?q={patient.first_name}+{patient.last_name}"),
        Page("search DOB MM/DD/YYYY", f"{base}?q={patient.date_of_birth:%m/%d/%Y}"),
        Page("search MRN", f"{base}?q={patient.mrn}"),
        Page("patient chart", f"{base}{patient.pk}/"),
    ]
    referral = sample_referral(clinic)
    if referral is None:  # a data set built with --referrals 0
        return pages
    queue = f"/c/{clinic.slug}/referrals/"

    def referral_page(name: str, path: str, role: str = Role.ADMIN) -> Page:
        return Page(name, path, role=role, table=REFERRAL_TABLE)

    return pages + [
        referral_page("referral queue (open)", queue),
        referral_page("referral queue ?status=overdue", f"{queue}?status=overdue"),
        referral_page("referral queue all (?status=)", f"{queue}?status="),
        referral_page(f"referral queue all ?page={REFERRAL_PAGE}", f"{queue}?status=&page={REFERRAL_PAGE}"),
        referral_page(f"referral search '{LAST_NAME_PREFIX}' (all)", f"{queue}?status=&q={LAST_NAME_PREFIX}"),
        referral_page("referral detail (accepted)", f"{queue}{referral.pk}/"),
        referral_page("portal My patients", "/portal/", Role.PHYSICIAN),
        referral_page("portal ?status=accepted", "/portal/?status=accepted", Role.PHYSICIAN),
    ]


def member_client(clinic: Clinic, role: str = Role.ADMIN) -> Client:
    """A client signed in (force_login) as the clinic's bench member with `role` (bench/dataset.py's add_member;
    the load test adds more members of each role, bench/loadplan.py)."""
    member = Membership.objects.select_related("user").get(clinic=clinic, user__email=f"{role}@{clinic.slug}.bench")
    client = Client()
    client.force_login(member.user)
    return client


def admin_client(clinic: Clinic) -> Client:
    return member_client(clinic, Role.ADMIN)


def timed_get(client: Client, path: str) -> tuple[float, int, CaptureQueriesContext]:
    """One GET: wall time in ms (in-process, including middleware and template rendering) and the
    number of SQL queries on the default connection. Any status other than 200 is an error."""
    # The connection keeps only the last 9,000 queries: once full, CaptureQueriesContext would
    # count 0 and capture nothing. Start every request with an empty log.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        elapsed_ms = (time.perf_counter() - started) * 1000
        captured.cpu_ms = (time.process_time() - started_cpu) * 1000
    if response.status_code != 200:
        raise AssertionError(f"GET {path} returned {response.status_code}, expected 200")
    return elapsed_ms, len(captured), captured


def measure_all(clinics: list[Clinic], iterations: int, warmups: int) -> list[Result]:
    """Every page of every clinic: the warm-ups first, then the timed requests round-robin (one
    request of each page per round), so a burst of load on the machine hits all pages alike."""
    runs = []
    for clinic in clinics:
        clients = {}
        with rls.scoped(rls.clinic_scope(clinic.pk)):  # the pages set their own scope, as in production
            patients = Patient.objects.filter(clinic=clinic).count()
            referrals = Referral.objects.filter(clinic=clinic).count()
            for page in pages_for(clinic):
                client = clients.get(page.role) or clients.setdefault(page.role, member_client(clinic, page.role))
                result = Result(
                    page=page.name, clinic=clinic.slug, patients=patients, path=page.path, referrals=referrals
                )
                runs.append((client, page, result))
    for client, page, _ in runs:
        for _ in range(warmups):
            timed_get(client, page.path)
    for round_number in range(1, iterations + 1):
        for client, page, result in runs:
            elapsed_ms, queries, captured = timed_get(client, page.path)
            result.times_ms.append(elapsed_ms)
            result.queries.append(queries)
            result.cpu_ms.append(captured.cpu_ms)
        if round_number % 10 == 0 or round_number == iterations:
            print(f"  {round_number} / {iterations} rounds of {len(runs)} pages", flush=True)
    return [result for _, _, result in runs]


# --- Query plans -------------------------------------------------------------------------------

PLAN_DETAILS = ("Index Cond", "Recheck Cond", "Filter", "Rows Removed", "Sort Key", "Heap Fetches", "Execution Time")
PLAN_NODE = re.compile(r"^\s*(->\s*)?([A-Z][A-Za-z ]+?)(?:\s+(?:using|on)\s+(\S+))?(?:\s+on\s+(\S+))?\s+\(")


def table_queries_of(client: Client, path: str, table: str = PATIENT_TABLE) -> list[str]:
    """The SELECTs on `table` (quoted) that one GET of `path` runs, exactly as sent to PostgreSQL."""
    _, _, captured = timed_get(client, path)
    sqls = [query["sql"] for query in captured.captured_queries]
    return [sql for sql in sqls if sql.startswith("SELECT") and table in sql]


def patient_queries_of(client: Client, path: str) -> list[str]:
    return table_queries_of(client, path, PATIENT_TABLE)


def explain(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def plan_summary(plan: list[str]) -> list[str]:
    """The plan's node lines with their conditions and row counts (no Buffers/Planning detail)."""
    keep = []
    for line in plan:
        if PLAN_NODE.match(line) or line.strip().startswith(PLAN_DETAILS):
            keep.append(line.rstrip())
    return keep


def indexes_used(plan: list[str]) -> list[str]:
    found = []
    for line in plan:
        match = re.search(r"(Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)", line)
        if match and match.group(2) not in found:
            found.append(match.group(2))
    return found


def execution_ms(plan: list[str]) -> float | None:
    for line in plan:
        if line.strip().startswith("Execution Time"):
            return float(line.split(":")[1].split()[0])
    return None


def page_of(clinic: Clinic, path: str) -> Page:
    """The benchmark page of `clinic` with this path (a patient page signed in as admin if unknown)."""
    return next((page for page in pages_for(clinic) if page.path == path), Page(path, path))


def explain_page(clinic: Clinic, path: str) -> list[dict]:
    """EXPLAIN ANALYZE every SELECT on the page's table (patients, or referrals for the referral and
    portal pages) that GET `path` runs: the page query, its count, the status counts…"""
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        page = page_of(clinic, path)
        client = member_client(clinic, page.role)
    explained = []
    for sql in table_queries_of(client, path, page.table):
        with rls.scoped(rls.clinic_scope(clinic.pk)):  # the plan the page gets, policy included
            plan = explain(sql)
        explained.append(
            {
                "sql": sql,
                "plan": plan,
                "summary": plan_summary(plan),
                "indexes": indexes_used(plan),
                "execution_ms": execution_ms(plan),
                "seq_scan": any("Seq Scan" in line for line in plan),
            }
        )
    return explained
