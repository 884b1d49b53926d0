"""KPI roll-ups: for a large clinic, the dashboard's two heavy families (sessions and capacity per day,
outcome pairs per enrollment) stored in small tables by a beat job, so the dashboard adds up thousands of
rows instead of millions.

The stored rows are the live statements' own output (queries.SESSION_DAY_SQL, CAPACITY_DAY_SQL and
OUTCOME_PAIRS_SQL), so the figures are the same whichever way they are read (tests/outcomes/test_kpi_rollups.py).
Sessions from the roll-up's day on are always read live; outcomes are as of the last refresh. Small
clinics, and filters by physician or staff member (which the tables do not keep), are read live.
"""

import datetime
import time
import zoneinfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.compiled import SAMPLE_MOMENT, CompiledQuery, columns_of
from clinic.models import Clinic, Enrollment
from outcomes.kpis import queries
from outcomes.kpis.models import KpiOutcomePair, KpiRollup, KpiSessionDay

STORE_SESSION_DAYS_SQL = """
INSERT INTO outcomes_kpisessionday (clinic_id, day, program_id, held, attended, absent, late_cancelled, bookings,
                                    booked_places, capacity)
SELECT %(clinic)s, coalesce(places.day, classes.day), coalesce(places.program_id, classes.program_id),
       coalesce(held, 0), coalesce(attended, 0), coalesce(absent, 0), coalesce(late_cancelled, 0),
       coalesce(bookings, 0), coalesce(booked_places, 0), coalesce(capacity, 0)
FROM ({places}) AS places
FULL JOIN ({classes}) AS classes ON classes.day = places.day AND classes.program_id = places.program_id
"""

STORE_OUTCOME_PAIRS_SQL = """
INSERT INTO outcomes_kpioutcomepair (clinic_id, enrollment_id, program_id, code, latest_at, change, percent,
                                     reached_mcid)
SELECT %(clinic)s, enrollment_id, program_id, code, latest_at, change, percent, reached_mcid FROM ({pairs}) AS pairs
"""


def clinic_needs_rollup(clinic: Clinic) -> bool:
    """Large enough that reading every booking and observation would make the dashboard slow."""
    return Enrollment.objects.filter(clinic=clinic).count() >= settings.KPI_ROLLUP_MIN_ENROLLMENTS


def rollup_refresh(*, clinic: Clinic) -> KpiRollup:
    """Rebuild the clinic's roll-ups from its rows, in one transaction: the dashboard reads the old rows
    until the new ones are committed. Two refreshes of one clinic wait for each other."""
    started = time.monotonic()
    now = timezone.now()
    today = now.astimezone(zoneinfo.ZoneInfo(clinic.timezone)).date()
    # All history up to (not including) today; today's classes are still changing, so they stay live.
    filters = queries.KpiFilters(start=datetime.date(1900, 1, 1), end=today - datetime.timedelta(days=1))
    sql = queries.Sql(clinic, filters)
    sql.params["from_at"] = sql.params["start_at"]
    sql.params["to_at"] = sql.params["end_at"]
    # Outcomes as the live dashboard would count them for any period ending today.
    sql.params["observations_before"] = sql.local_midnight(today + datetime.timedelta(days=1))
    with transaction.atomic():
        places, classes = queries.session_day_sql(sql), queries.capacity_day_sql(sql)
        pairs = queries.outcome_pairs_sql(sql)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('kpi-rollup'), %s)", [clinic.pk])
            KpiSessionDay.objects.filter(clinic=clinic).delete()
            KpiOutcomePair.objects.filter(clinic=clinic).delete()
            cursor.execute(STORE_SESSION_DAYS_SQL.format(places=places, classes=classes), sql.params)
            cursor.execute(STORE_OUTCOME_PAIRS_SQL.format(pairs=pairs), sql.params)
        rollup, _ = KpiRollup.objects.update_or_create(
            clinic=clinic,
            defaults={
                "refreshed_at": now,
                "days_before": today,
                "observations_before": sql.params["observations_before"],
                "took_ms": round((time.monotonic() - started) * 1000),
            },
        )
    return rollup


def rollup_drop(*, clinic: Clinic) -> None:
    """A clinic that has shrunk below the threshold is read live again."""
    with transaction.atomic():
        KpiRollup.objects.filter(clinic=clinic).delete()
        KpiSessionDay.objects.filter(clinic=clinic).delete()
        KpiOutcomePair.objects.filter(clinic=clinic).delete()


def fresh_rollup(*, clinic: Clinic, filters: queries.KpiFilters) -> KpiRollup | None:
    """The roll-up the dashboard may read for these filters, or None to read everything live: none kept,
    too old (the beat job has stopped), or a filter the tables do not keep."""
    if filters.physician_id or filters.staff_id:
        return None
    oldest = timezone.now() - datetime.timedelta(minutes=settings.KPI_ROLLUP_MAX_AGE_MINUTES)
    rows = FRESH_ROLLUP.rows(clinic=clinic.pk, oldest=oldest)
    return KpiRollup.from_db("default", columns_of(KpiRollup), rows[0]) if rows else None


# Read on every dashboard: compiled once (clinic.compiled; issue 11).
FRESH_ROLLUP = CompiledQuery(
    lambda clinic, oldest: KpiRollup.objects.filter(clinic=clinic, refreshed_at__gte=oldest).order_by("pk")[:1],
    clinic=-1, oldest=SAMPLE_MOMENT,
)  # fmt: skip
