"""Fixtures: two clinics, one persona per role in each, a real Celery worker.

The suite connects as the application role, as production does, so row-level security and the
audit table's privileges are real. The test database is created, migrated and flushed as the owner.
"""

import contextlib
import importlib
import logging
import threading
import time
import zoneinfo

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management.base import CommandError
from django.db import connections, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.test import Client, TransactionTestCase
from django.utils import timezone

from clinic import rls
from clinic.dbroles import connected_as_owner
from clinic.models import Clinic, Membership, Patient, PatientPhysician, Program, Role, User
from referrals.models import Referral, ReferringProvider
from referrals.services import headline_default

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True, scope="session")
def _clean_test_redis():
    """A worker heartbeat from an earlier run must not leak into this one. (The database cache, with
    the rate-limit counters, starts empty with each new test database.)"""
    caches["redis"].clear()


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """pytest-django's, as the owner. django_db_modify_db_settings names each pytest-xdist worker's database
    apart (test_medfit_gw0, test_medfit_gw1)."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock(), connected_as_owner():
        db_config = setup_databases(verbosity=request.config.option.verbose, interactive=False)
        commit_without_waiting_for_the_disk()
    yield
    with django_db_blocker.unblock(), connected_as_owner(audit_maintenance=True):
        teardown_databases(db_config, verbosity=request.config.option.verbose)


def commit_without_waiting_for_the_disk():
    """A commit need not wait for its WAL to reach the disk in the test database (every session, the
    worker processes' too): the suite commits many thousands of times. A server crash could lose the last
    few commits but never corrupts; no test crashes the server it runs on."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} SET synchronous_commit = off"
        )
    connection.close()  # the setting applies to sessions opened from now on


_flush = TransactionTestCase._fixture_teardown


def _flush_as_owner(self):
    """Emptying the tables after a transactional test (TRUNCATE) is the owner's to do. The flush also
    empties the reference data the migrations loaded (measures, safety rules, batteries, eligibility
    thresholds, billing rules), which every later test may rely on: load it again here, once, rather than in
    each test that needs it."""
    from tests.outcomes.helpers import ensure_reference_data as reload_outcome_catalog
    from tests.scheduling.factories import ensure_reference_data as reload_floor_sheet_rules

    with connected_as_owner(audit_maintenance=True):
        # A task the test queued may still be reading in the Celery worker while TRUNCATE waits for its
        # locks; PostgreSQL breaks such a deadlock by failing the flush. Once the task is done, try again.
        for attempt in range(3):
            try:
                _flush(self)
                break
            except CommandError:
                if attempt == 2:
                    raise
                time.sleep(1)
        reload_floor_sheet_rules()
        reload_outcome_catalog()
        _reload_eligibility_thresholds()
        _reload_billing_rules()


def _reload_eligibility_thresholds():
    """The eligibility thresholds the referrals migrations load (the flush empties them too)."""
    from django.apps import apps

    from referrals.models import EligibilityThreshold

    if EligibilityThreshold.objects.exists():
        return
    importlib.import_module("referrals.migrations.0002_eligibility_thresholds").add_thresholds(apps, None)
    importlib.import_module("referrals.migrations.0007_diabetes_range_thresholds").add_thresholds(apps, None)
    importlib.import_module("referrals.migrations.0008_dated_conditions").add_rows(apps, None)
    importlib.import_module("referrals.migrations.0010_stability_and_covid_facts").add_thresholds(apps, None)


def _reload_billing_rules():
    """The billing rules table billing's migration 0002 loads (codes, limits, windows)."""
    from django.apps import apps

    from billing.models import BillingRule

    if not BillingRule.objects.exists():
        importlib.import_module("billing.migrations.0002_billing_rules").load(apps, None)


TransactionTestCase._fixture_teardown = _flush_as_owner


@receiver(connection_created)
def _fixtures_see_every_clinic(sender, connection, **kwargs):
    """Tests build rows of several clinics through the ORM, so connections start with the bypass, as the
    owner's do. Requests and tasks narrow it exactly as in production, and put it back afterwards."""
    if connection.settings_dict["USER"] == settings.DATABASE_APP_ROLE:
        rls.activate(rls.Scope(bypass=True), force=True)


@contextlib.contextmanager
def rows_shared_by_the_module(django_db_blocker):
    """For a module-scoped fixture: rows built once for all of a module's tests, in a transaction around
    theirs (each test's own changes roll back to a savepoint, as with `db`), rolled back after the last.

    Only for tests that request `db` (not `transactional_db`) and leave the shared rows as they found them.
    """
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def clinic_today(clinic: Clinic):
    """Today in the clinic's time zone, as its pages see it. The tests run in UTC: between midnight UTC and the
    clinic's midnight, `timezone.localdate()` is already tomorrow there."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(clinic.timezone))


def clinic_time(moment, clinic: Clinic):
    """`moment` in the clinic's time zone, as its pages write it."""
    return timezone.localtime(moment, zoneinfo.ZoneInfo(clinic.timezone))


def make_clinic(slug: str, **fields) -> Clinic:
    return Clinic.objects.create(name=f"{slug.title()} Clinic", slug=slug, mfa_required=False, **fields)


def make_member(clinic: Clinic, role: str, email: str | None = None) -> Membership:
    email = email or f"{role}@{clinic.slug}.test"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, PASSWORD, first_name=role.title(), last_name=clinic.slug.title()
    )
    return Membership.objects.create(clinic=clinic, user=user, roles=[role])


def make_patient(clinic: Clinic, mrn: str = "MRN001", **fields) -> Patient:
    defaults = {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1950-03-04"}
    return Patient.objects.create(clinic=clinic, mrn=mrn, **{**defaults, **fields})


def link_physician(patient: Patient, physician: Membership) -> PatientPhysician:
    return PatientPhysician.objects.create(
        clinic=patient.clinic,
        patient=patient,
        physician=physician,
        relationship=PatientPhysician.Relationship.REFERRING,
    )


def make_program(clinic: Clinic, program_type: str = "cr", name: str | None = None) -> Program:
    """A program with its type's usual headline measure, as program_save gives a new one."""
    return Program.objects.create(
        clinic=clinic, name=name or f"{program_type.upper()} program", program_type=program_type,
        headline_measure=headline_default(program_type),
    )  # fmt: skip


def make_provider(clinic: Clinic, membership: Membership | None = None, **fields) -> ReferringProvider:
    defaults = {"first_name": "Helen", "last_name": "Park", "credentials": "MD"}
    return ReferringProvider.objects.create(clinic=clinic, membership=membership, **{**defaults, **fields})


def make_referral(clinic: Clinic, patient: Patient | None = None, provider=None, program=None, **fields) -> Referral:
    """A referral saved directly (no service), for tests that need one to exist."""
    program = program or Program.objects.filter(clinic=clinic).first() or make_program(clinic)
    provider = provider or ReferringProvider.objects.filter(clinic=clinic).first() or make_provider(clinic)
    defaults = {
        "patient_first_name": patient.first_name if patient else "Ada",
        "patient_last_name": patient.last_name if patient else "Lovelace",
        "patient_date_of_birth": patient.date_of_birth if patient else "1950-03-04",
    }
    return Referral.objects.create(
        clinic=clinic, patient=patient, referring_provider=provider, program=program, **{**defaults, **fields}
    )


def searched_planned_for_the_term(queries) -> bool:
    """Whether captured queries read patients by name prefix after `SET LOCAL plan_cache_mode`
    (selectors.planned_for_the_search_term), in the same transaction."""
    statements = [query["sql"] for query in queries]
    planned = [i for i, sql in enumerate(statements) if "force_custom_plan" in sql]
    return bool(planned) and any("LIKE UPPER" in sql for sql in statements[planned[0] :])


def run_at_once(work, times: int) -> None:
    """Run `work` in `times` threads released together, each with its own database connection."""

    barrier = threading.Barrier(times)

    def run():
        try:
            barrier.wait()
            work()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Persona:
    def __init__(self, membership: Membership):
        self.membership = membership
        self.user = membership.user
        self.clinic = membership.clinic
        self.client = Client()
        self.client.force_login(self.user)


@pytest.fixture
def clinic_a(db):
    return make_clinic("alpha")


@pytest.fixture
def clinic_b(db):
    return make_clinic("bravo")


def personas(clinic) -> dict:
    return {role: Persona(make_member(clinic, role)) for role in Role.values}


@pytest.fixture
def team_a(clinic_a):
    """One signed-in persona per role in clinic A: team_a["admin"].client, …"""
    return personas(clinic_a)


@pytest.fixture
def team_b(clinic_b):
    return personas(clinic_b)


@pytest.fixture
def patient_a(clinic_a):
    return make_patient(clinic_a, "A-100", first_name="Alice", last_name="Archer")


@pytest.fixture
def patient_b(clinic_b):
    return make_patient(clinic_b, "B-100", first_name="Bob", last_name="Baker")


@pytest.fixture(scope="session")
def celery_worker_session(django_db_blocker):
    """A real Celery worker (in a thread of this process) consuming from the test Redis."""
    from celery.contrib.testing.worker import start_worker

    from clinic.celery import app

    app.conf.task_always_eager = False
    # Celery decides once, as the worker starts, whether to log each task's receipt and result; production's
    # worker runs at INFO and does. Decide yes here too, so a test that lowers the log level sees those lines.
    celery_logger = logging.getLogger("celery")
    celery_logger.setLevel(logging.INFO)
    with (
        django_db_blocker.unblock(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["celery", "reports"]),
    ):
        celery_logger.setLevel(logging.NOTSET)
        yield app


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    """Tests using the worker need committed data: the worker reads through its own connection."""
    return celery_worker_session
