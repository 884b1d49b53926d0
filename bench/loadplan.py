"""What the load test's simulated staff sign in as and which pages they open (bench/loadtest.py builds it,
bench/locustfile.py reads it).

In bench-big (bench/dataset.py): sign-in accounts with a password for each role, and samples of ids:
patients for charts (most of them with sessions), the physician's enrollments for progress (most of them with
sessions and assessments). The floor sheet is today's class of 20 in bench-floor (bench/floorsheet.py), where the
physiologists are members too: bench-big's patient count must stay as bench/run.py built it, or `make bench`
would build the data set again.
The accounts are made once and reused; every run gives them a hash by the production hasher (Argon2id,
clinic/hashers.py), so signing in costs what it costs in production. (Hashes by another hasher would be
verified by it and then re-hashed at the first sign-in: a PBKDF2 hash cost 0.5 s a sign-in in a new data set.)

bench-big and bench-small get their history once (bench/history.py: classes, attended sessions with vitals and
observations, assessments, plans, coverage, claim lines derived by billing.claims), a few minutes; every run
refreshes bench-big's KPI roll-up, as the beat job would have within the last 15 minutes.
"""

import json
import random
from pathlib import Path

from django.utils.module_loading import import_string

from clinic import settings as production_settings

CLINIC = "bench-big"
# Both bench clinics get the history, so that `make bench` compares their query counts like with like.
HISTORY_CLINICS = (CLINIC, "bench-small")
PASSWORD = "load-test-only-password-7431"
# Sign-in accounts per role: at least the most users of that role a run starts (bench/locustfile.py's weights).
ACCOUNTS = {"physiologist": 60, "admin": 10, "billing": 10}
SAMPLE = 500
WITH_HISTORY = 0.8  # the share of the samples drawn from patients and enrollments with attended sessions
SEED = 2024


def account_email(role: str, number: int) -> str:
    return f"load-{role}-{number:02}@{CLINIC}.bench"


def physician_email() -> str:
    """bench/dataset.py's physician: the one member who sent referrals, so "My patients" has rows. Several
    simulated physicians share the account (one person signed in on several devices)."""
    return f"physician@{CLINIC}.bench"


def accounts_add(clinic, floor_clinic, hashed: str) -> None:
    from clinic.models import Membership, User

    for role, count in ACCOUNTS.items():
        wanted = [account_email(role, number) for number in range(count)]
        present = set(User.objects.filter(email__in=wanted).values_list("email", flat=True))
        users = User.objects.bulk_create(
            [User(email=email, password=hashed, first_name=role.title(), last_name="Load") for email in wanted
             if email not in present]
        )  # fmt: skip
        clinics = [clinic, floor_clinic] if role == "physiologist" else [clinic]
        Membership.objects.bulk_create(
            [Membership(clinic=c, user=user, roles=[role]) for user in users for c in clinics]
        )
    every_account = [account_email(role, number) for role, count in ACCOUNTS.items() for number in range(count)]
    User.objects.filter(email__in=[*every_account, physician_email()]).update(password=hashed)


def kpi_rollup_refresh(clinic) -> str:
    """The beat job's work for the clinic (outcomes/kpis/tasks.py, every KPI_ROLLUP_REFRESH_MINUTES in
    production): bench-big has more than KPI_ROLLUP_MIN_ENROLLMENTS enrollments, so its dashboard reads the
    roll-up and the figures computed with it. Without it (no beat in a benchmark) every request aggregated the
    clinic's rows live: about 200 ms of PostgreSQL a request, which is not what production serves."""
    from outcomes.kpis.tasks import refresh_clinic_kpi_rollup

    return refresh_clinic_kpi_rollup(clinic.pk)


def build(path: Path) -> dict:
    """Make the accounts and the history in bench-big (bench/dataset.py must have built it) and today's class in
    bench-floor, write the plan for bench/locustfile.py to `path` and return it."""
    from django.db import connection

    from bench import floorsheet, history
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic

    floor_clinic, occurrence, _ = floorsheet.build()  # today's class of 20 in bench-floor
    # Production's hasher, not the bench's settings' (tests.settings: MD5, which production cannot verify).
    hasher = import_string(production_settings.PASSWORD_HASHERS[0])()
    hashed = hasher.encode(PASSWORD, hasher.salt())  # one hash for every account (same password)
    with connected_as_owner():
        clinic = Clinic.objects.get(slug=CLINIC)
        accounts_add(clinic, floor_clinic, hashed)
        clinics = [Clinic.objects.get(slug=slug) for slug in HISTORY_CLINICS]
        for each in clinics:
            if not history.present(each):
                history.build(each)
        patients, progress = samples(clinic, random.Random(SEED))
    for each in clinics:
        history.derive_claim_lines(each)  # as the application, in the clinic's scope
    # After the history, so that the roll-up counts its sessions and outcomes.
    print(f"KPI roll-up of {CLINIC}: {kpi_rollup_refresh(clinic)}", flush=True)
    with connected_as_owner(), connection.cursor() as cursor:
        # What autovacuum keeps up to date in production: statistics (without them the claim-lines page's plan
        # took 570 ms, the audit trail's sorted every entry) and the visibility map (for index-only counts).
        # Every run, since each run adds audit entries and sessions; the machine's PostgreSQL has autovacuum off.
        cursor.execute("VACUUM (ANALYZE)")
    plan = {
        "clinic": CLINIC,
        "password": PASSWORD,
        "accounts": {role: [account_email(role, n) for n in range(count)] for role, count in ACCOUNTS.items()}
        | {"physician": [physician_email()]},
        "floor_clinic": floor_clinic.slug,
        "occurrence": occurrence.pk,
        "patients": patients,
        "progress": [list(pair) for pair in progress],
    }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(plan))
    return plan


def samples(clinic, rng: random.Random) -> tuple[list[int], list[tuple[int, int]]]:
    """Patients for charts and (patient, enrollment) pairs of the physician's referrals for progress: mostly
    with attended sessions (WITH_HISTORY), the rest from all of them, as staff open them. The same every run."""
    from clinic.models import Enrollment, Patient
    from referrals.models import Referral
    from scheduling.models import SessionLog

    attended = SessionLog.objects.filter(clinic=clinic, attendance__in=SessionLog.ATTENDED)
    with_sessions = sorted(attended.values_list("patient_id", flat=True).distinct())
    everyone = list(Patient.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True))
    patients = mixed(rng, with_sessions, everyone)
    enrollment_ids = Referral.objects.filter(
        clinic=clinic, referring_provider__membership__user__email=physician_email(), enrollment__isnull=False
    ).values_list("enrollment_id", flat=True)
    physicians = list(Enrollment.objects.filter(pk__in=enrollment_ids).order_by("pk").values_list("patient_id", "pk"))
    enrollments_with_sessions = set(attended.values_list("enrollment_id", flat=True).distinct())
    progress = mixed(rng, [pair for pair in physicians if pair[1] in enrollments_with_sessions], physicians)
    return patients, progress


def mixed(rng: random.Random, preferred: list, rest: list) -> list:
    """SAMPLE items: WITH_HISTORY of them from `preferred`, the others from `rest`, shuffled."""
    chosen = rng.sample(preferred, min(len(preferred), round(SAMPLE * WITH_HISTORY)))
    chosen += rng.sample(rest, min(len(rest), SAMPLE - len(chosen)))
    rng.shuffle(chosen)
    return chosen
