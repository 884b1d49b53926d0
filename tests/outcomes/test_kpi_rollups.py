"""KPI roll-ups (outcomes/kpis/rollups.py): a large clinic's dashboard reads stored day and outcome rows
instead of every booking and observation, and shows the same numbers as reading them live."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outcomes.kpis import rollups
from outcomes.kpis.dashboard import dashboard_get, default_filters
from outcomes.kpis.models import KpiOutcomePair, KpiRollup, KpiSessionDay
from outcomes.kpis.queries import KpiFilters
from outcomes.kpis.tasks import refresh_clinic_kpi_rollup
from tests.outcomes.test_kpis import NY, Q1, SBP, SIX_MWD, at, outcomes_data, referrals_data, sessions_data
from tests.outcomes.test_kpis import Clinic as KpiClinic


@pytest.fixture
def kpi(team_a):
    return KpiClinic(team_a)


def today() -> datetime.date:
    return timezone.now().astimezone(NY).date()


def through_today() -> KpiFilters:
    return KpiFilters(start=Q1.start, end=today())


def numbers(kpi, filters) -> dict:
    board = dashboard_get(clinic=kpi.clinic, membership=kpi.team["admin"].membership, filters=filters)
    return {kpi_.key: (kpi_.total, kpi_.value.count, kpi_.series) for kpi_ in board.kpis}


def everything(kpi):
    outcomes_data(kpi)
    sessions_data(kpi)
    referrals_data(kpi)
    kpi.occurrence(at(3, 2, 9), capacity=10)
    sbp = kpi.enrollment()
    kpi.observe(sbp, SBP, 150, at(1, 8))
    kpi.observe(sbp, SBP, 138, at(3, 9))


def filters_named(kpi, name) -> KpiFilters:
    return {
        "through today": through_today(),
        "one program through today": KpiFilters(start=Q1.start, end=today(), program_id=kpi.cr.pk),
        "a past quarter": Q1,  # outcomes read live: the roll-up's pairs run to today
    }[name]


@pytest.mark.parametrize("period", ["through today", "one program through today", "a past quarter"])
def test_the_roll_up_gives_the_numbers_the_live_statements_give(kpi, period):
    everything(kpi)
    filters = filters_named(kpi, period)
    live = numbers(kpi, filters)
    rollups.rollup_refresh(clinic=kpi.clinic)
    assert numbers(kpi, filters) == live


def test_the_refresh_stores_one_row_per_day_and_program_and_per_enrollment_and_measure(kpi):
    everything(kpi)
    rollups.rollup_refresh(clinic=kpi.clinic)
    days = KpiSessionDay.objects.filter(clinic=kpi.clinic).order_by("day")
    assert [(day.day, day.held, day.attended, day.bookings, day.capacity) for day in days] == [
        (datetime.date(2026, 1, 12), 3, 1, 6, 10),
        (datetime.date(2026, 3, 2), 0, 0, 0, 10),
    ]
    pairs = KpiOutcomePair.objects.filter(clinic=kpi.clinic)
    assert sorted((pair.code, pair.change) for pair in pairs) == [
        (SIX_MWD, Decimal(10)),
        (SIX_MWD, Decimal(40)),
        (SBP, Decimal(-12)),
    ]


def test_a_dashboard_on_a_roll_up_says_as_of_when(kpi):
    rollups.rollup_refresh(clinic=kpi.clinic)
    board = dashboard_get(clinic=kpi.clinic, membership=kpi.team["admin"].membership, filters=through_today())
    assert board.rollup.clinic_id == kpi.clinic.pk
    page = kpi.team["admin"].client.get(f"/c/{kpi.clinic.slug}/dashboard/").content.decode()
    assert "as of" in page


def test_todays_classes_are_counted_live_after_the_refresh(kpi):
    rollups.rollup_refresh(clinic=kpi.clinic)
    now = timezone.now()
    class_today = kpi.occurrence(now - datetime.timedelta(minutes=1))
    kpi.booking(class_today, attendance="present")
    attendance = numbers(kpi, through_today())["attendance_rate"]
    assert attendance[:2] == (Decimal(100), 1)


def test_an_old_roll_up_is_not_read(kpi):
    rollups.rollup_refresh(clinic=kpi.clinic)
    KpiRollup.objects.filter(clinic=kpi.clinic).update(refreshed_at=timezone.now() - datetime.timedelta(hours=2))
    assert rollups.fresh_rollup(clinic=kpi.clinic, filters=through_today()) is None


def test_filters_by_physician_or_staff_are_read_live(kpi):
    rollups.rollup_refresh(clinic=kpi.clinic)
    by_staff = KpiFilters(start=Q1.start, end=today(), staff_id=kpi.recorder.pk)
    assert rollups.fresh_rollup(clinic=kpi.clinic, filters=by_staff) is None


def test_a_walk_after_the_refresh_counts_at_the_next_one(kpi):
    first, _ = outcomes_data(kpi)
    rollups.rollup_refresh(clinic=kpi.clinic)
    walk_now = timezone.now() - datetime.timedelta(minutes=5)
    kpi.observe(first, SIX_MWD, 301, walk_now)  # +1 m: no longer reaches the MCID
    assert numbers(kpi, through_today())["sixmwt_mcid"][0] == Decimal(50)
    rollups.rollup_refresh(clinic=kpi.clinic)
    assert numbers(kpi, through_today())["sixmwt_mcid"][0] == Decimal(0)


def test_the_task_keeps_roll_ups_for_large_clinics_only(kpi, settings):
    kpi.enrollment()
    settings.KPI_ROLLUP_MIN_ENROLLMENTS = 1
    assert refresh_clinic_kpi_rollup(kpi.clinic.pk).startswith("refreshed")
    assert KpiRollup.objects.filter(clinic=kpi.clinic).exists()
    settings.KPI_ROLLUP_MIN_ENROLLMENTS = 2
    assert refresh_clinic_kpi_rollup(kpi.clinic.pk) == "live"
    assert not KpiRollup.objects.filter(clinic=kpi.clinic).exists()


def test_another_clinics_roll_up_never_counts(kpi, team_b):
    other = KpiClinic(team_b)
    other_enrollment = other.enrollment()
    other.observe(other_enrollment, SIX_MWD, 100, at(1, 5))
    other.observe(other_enrollment, SIX_MWD, 300, at(2, 5))
    rollups.rollup_refresh(clinic=other.clinic)
    rollups.rollup_refresh(clinic=kpi.clinic)
    assert numbers(kpi, through_today())["sixmwt_mcid"][0] is None


def test_the_dashboard_on_a_roll_up_makes_as_many_queries_for_any_size(kpi):
    client, url = kpi.team["admin"].client, f"/c/{kpi.clinic.slug}/dashboard/"
    rollups.rollup_refresh(clinic=kpi.clinic)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for _ in range(3):
        outcomes_data(kpi)
        sessions_data(kpi)
    rollups.rollup_refresh(clinic=kpi.clinic)
    client.get(url)  # the first look after a refresh computes what later ones read from the cache
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large) == len(small) <= 16


def test_the_refresh_task_prepares_the_default_dashboard_so_it_reads_few_statements(kpi, settings):
    everything(kpi)
    settings.KPI_ROLLUP_MIN_ENROLLMENTS = 1
    refresh_clinic_kpi_rollup(kpi.clinic.pk)
    with CaptureQueriesContext(connection) as prepared:
        board = dashboard_get(
            clinic=kpi.clinic, membership=kpi.team["admin"].membership, filters=default_filters(today())
        )
    assert board.kpi("referrals").total == 6  # the default period (from Dec 1) takes the Dec 30 referral too
    statements = [query["sql"] for query in prepared.captured_queries]
    assert not any("referrals_referral" in sql for sql in statements)
