"""The KPI aggregates, in SQL: one query per family of KPIs, each giving the period's value and the
monthly series at once (GROUP BY GROUPING SETS ((month), ())), so the dashboard's query count does not
depend on the clinic's size or the length of the period.

Every query names the clinic explicitly (row-level security is the second wall, not the first).
Months are calendar months in the clinic's time zone. Definitions of what is counted: definitions.py.
"""

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import caches
from django.db import connection

from clinic.models import Clinic, ProgramType
from outcomes.kpis.models import KpiRollup

# Shared catalog codes (clinic/migrations/0014_outcome_measures.py).
SIX_MWD, SBP, WEIGHT, PHQ9 = "64098-7", "8480-6", "29463-7", "44261-6"
ATTENDED = ("present", "late", "makeup")
WEIGHT_PROGRAMS = (ProgramType.DPP, ProgramType.MDPP)


@dataclass(frozen=True)
class KpiFilters:
    start: datetime.date
    end: datetime.date  # inclusive
    program_id: int | None = None
    physician_id: int | None = None  # a ReferringProvider: the referring physician
    staff_id: int | None = None  # a Membership: the class's staff or whoever recorded the session

    def months(self) -> list[datetime.date]:
        month, last, months = self.start.replace(day=1), self.end.replace(day=1), []
        while month <= last:
            months.append(month)
            month = (month + datetime.timedelta(days=32)).replace(day=1)
        return months


@dataclass
class Value:
    """A KPI's number for the period and per month (None where nothing was counted)."""

    total: Decimal | int | None
    monthly: dict[datetime.date, Decimal | int | None]
    count: int | None = None  # how many enrollments/places/referrals it was computed over


ENROLLMENT_OF_PROGRAM = "e.program_id = %(program)s"
ENROLLMENT_OF_PHYSICIAN = """EXISTS (
    SELECT 1 FROM referrals_referral r
    WHERE r.clinic_id = %(clinic)s AND r.enrollment_id = e.id AND r.referring_provider_id = %(physician)s)"""
# The staff member led one of the enrollment's classes or recorded one of its sessions.
ENROLLMENT_OF_STAFF = """EXISTS (
    SELECT 1 FROM scheduling_booking sb
    JOIN scheduling_occurrence so ON so.id = sb.occurrence_id
    LEFT JOIN scheduling_sessionlog ss ON ss.booking_id = sb.id
    WHERE sb.clinic_id = %(clinic)s AND sb.enrollment_id = e.id
      AND (so.staff_id = %(staff)s OR ss.updated_by_id = %(staff)s))"""


class Sql:
    """The parameters and the optional filter conditions shared by the queries."""

    def __init__(self, clinic: Clinic, filters: KpiFilters, rollup: KpiRollup | None = None):
        self.zone = zoneinfo.ZoneInfo(clinic.timezone)
        self.filters = filters
        self.rollup = rollup  # stored aggregates to read instead of the rows they came from (rollups.py)
        self.params = {
            "clinic": clinic.pk,
            "tz": clinic.timezone,
            "start": filters.start,
            "end": filters.end,
            "start_at": self.local_midnight(filters.start),
            "end_at": self.local_midnight(filters.end + datetime.timedelta(days=1)),
            "program": filters.program_id,
            "physician": filters.physician_id,
            "staff": filters.staff_id,
            "attended": list(ATTENDED),
            "weight_programs": list(WEIGHT_PROGRAMS),
        }

    def month(self, expression: str) -> str:
        return f"date_trunc('month', {expression})::date"

    def local(self, timestamp: str) -> str:
        return f"({timestamp} AT TIME ZONE %(tz)s)"

    def local_day(self, timestamp: str) -> str:
        return f"{self.local(timestamp)}::date"

    def local_midnight(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(), self.zone)

    def conditions(self, conditions: list[str]) -> str:
        return "".join(f" AND {condition}" for condition in conditions)

    def program_condition(self, column: str) -> str:
        return f" AND {column} = %(program)s" if self.filters.program_id else ""

    def enrollment(self) -> str:
        """Conditions on the enrollment `e` for the program, physician and staff filters."""
        conditions = []
        if self.filters.program_id:
            conditions.append(ENROLLMENT_OF_PROGRAM)
        if self.filters.physician_id:
            conditions.append(ENROLLMENT_OF_PHYSICIAN)
        if self.filters.staff_id:
            conditions.append(ENROLLMENT_OF_STAFF)
        return self.conditions(conditions)

    def as_of_rollup(self, name: str, compute):
        """`compute()`, kept in the cache until the next roll-up refresh when there is a roll-up: its
        figures are "as of" the refresh anyway, and the first look at a period pays for every later one."""
        if self.rollup is None:
            return compute()
        f = self.filters
        parts = (self.params["clinic"], self.rollup.refreshed_at.timestamp(), name, f.start, f.end, f.program_id,
                 f.physician_id, f.staff_id)  # fmt: skip
        key = "kpi:" + ":".join(str(part) for part in parts)
        timeout = settings.KPI_ROLLUP_MAX_AGE_MINUTES * 60
        return caches["default"].get_or_set(key, compute, timeout)

    def rows(self, sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            return cursor.fetchall()


def split_grouping_sets(rows, columns: int) -> tuple[tuple, dict]:
    """Rows of GROUPING SETS ((month), ()): (month or None, *values) -> (total values, {month: values})."""
    total, monthly = (None,) * columns, {}
    for month, *values in rows:
        if month is None:
            total = tuple(values)
        else:
            monthly[month] = tuple(values)
    return total, monthly


def ratio(part, whole, scale=100) -> Decimal | None:
    if not whole:
        return None
    return Decimal(part or 0) * scale / Decimal(whole)


# --- Clinical outcomes ---------------------------------------------------------------------------

# One row per enrollment and headline measure whose latest value (up to %(observations_before)s) came after
# its baseline: the change, the % change and whether it reached the MCID. Read live, or stored by
# rollups.py in KpiOutcomePair (the same columns).
OUTCOME_PAIRS_SQL = """
WITH observations AS (
    SELECT o.enrollment_id, e.program_id, m.code, m.direction, m.mcid, m.mcid_kind, o.value, o.observed_at,
           o.source <> 'assessment' AS from_session
    FROM clinic_observation o
    JOIN clinic_measure m ON m.id = o.measure_id
    JOIN clinic_enrollment e ON e.id = o.enrollment_id AND e.clinic_id = %(clinic)s
    JOIN clinic_program p ON p.id = e.program_id AND p.clinic_id = %(clinic)s
    WHERE o.clinic_id = %(clinic)s AND o.observed_at < %(observations_before)s AND o.phase IN ('', 'pre')
      -- the measures' ids first (an init plan), so the planner reads observations by measure, not by enrollment
      AND o.measure_id = ANY(ARRAY(SELECT id FROM clinic_measure WHERE clinic_id IS NULL
                                   AND code IN (%(six_mwd)s, %(sbp)s, %(weight)s, %(phq9)s)))
      AND (m.code <> %(weight)s OR p.program_type = ANY(%(weight_programs)s)) {enrollment}
), ranked AS (
    -- Per enrollment and measure, in one pass: the baseline (the first value, assessments before session
    -- readings) beside every row, and each row's rank from the latest (assessments first again).
    SELECT *, first_value(value) OVER earliest AS baseline, first_value(observed_at) OVER earliest AS baseline_at,
           row_number() OVER latest AS from_latest
    FROM observations
    WINDOW earliest AS (PARTITION BY enrollment_id, code ORDER BY from_session, observed_at),
           latest AS (PARTITION BY enrollment_id, code ORDER BY from_session, observed_at DESC)
)
SELECT enrollment_id, program_id, code, observed_at AS latest_at, value - baseline AS change,
       (value - baseline) * 100 / NULLIF(baseline, 0) AS percent,
       CASE WHEN mcid IS NULL OR direction = 'context' THEN NULL
            ELSE (CASE WHEN mcid_kind = 'percent' THEN (value - baseline) * 100 / NULLIF(baseline, 0)
                       ELSE value - baseline END)
                 * (CASE WHEN direction = 'lower' THEN -1 ELSE 1 END) >= mcid END AS reached_mcid
FROM ranked
WHERE from_latest = 1 AND observed_at > baseline_at
"""

STORED_OUTCOME_PAIRS_SQL = """
SELECT enrollment_id, program_id, code, latest_at, change, percent, reached_mcid
FROM outcomes_kpioutcomepair e
WHERE e.clinic_id = %(clinic)s AND e.latest_at >= %(start_at)s AND e.latest_at < %(end_at)s {program}
"""

OUTCOMES_SQL = """
WITH pairs AS ({pairs})
SELECT code, {month}, count(*), count(*) FILTER (WHERE reached_mcid), avg(change), avg(percent)
FROM pairs WHERE latest_at >= %(start_at)s AND latest_at < %(end_at)s
GROUP BY GROUPING SETS ((code, {month}), (code))
"""


def outcome_pairs_sql(sql: "Sql") -> str:
    """The live pairs statement with the filters' conditions (and its measure codes in the parameters)."""
    sql.params.update(six_mwd=SIX_MWD, sbp=SBP, weight=WEIGHT, phq9=PHQ9)
    return OUTCOME_PAIRS_SQL.format(enrollment=sql.enrollment())


def outcomes(sql: Sql) -> dict[str, Value]:
    if sql.rollup and sql.rollup.observations_before >= sql.params["end_at"]:
        pairs = STORED_OUTCOME_PAIRS_SQL.format(program=sql.program_condition("e.program_id"))
    else:
        sql.params["observations_before"] = sql.params["end_at"]
        pairs = outcome_pairs_sql(sql)
    query = OUTCOMES_SQL.format(pairs=pairs, month=sql.month(sql.local("latest_at")))
    by_code: dict[str, list] = {code: [] for code in (SIX_MWD, SBP, WEIGHT, PHQ9)}
    for code, *rest in sql.rows(query):
        by_code[code].append(rest)

    def value(code, pick) -> Value:
        total, monthly = split_grouping_sets(by_code[code], 4)
        return Value(
            total=pick(*total) if total[0] else None,
            monthly={month: pick(*values) for month, values in monthly.items()},
            count=total[0] or 0,
        )

    return {
        "sixmwt_mcid": value(SIX_MWD, lambda n, reached, change, percent: ratio(reached, n)),
        "sbp_change": value(SBP, lambda n, reached, change, percent: change),
        "weight_change": value(WEIGHT, lambda n, reached, change, percent: percent),
        "phq9_improved": value(PHQ9, lambda n, reached, change, percent: ratio(reached, n)),
    }


# --- Enrollments: completion and active patients --------------------------------------------------

COMPLETION_SQL = """
SELECT {month}, count(*) FILTER (WHERE e.status = 'completed'), count(*)
FROM clinic_enrollment e
WHERE e.clinic_id = %(clinic)s AND e.status IN ('completed', 'discharged')
  AND e.ended_on BETWEEN %(start)s AND %(end)s {enrollment}
GROUP BY GROUPING SETS (({month}), ())
"""

# Each enrollment open in the period gives one row per month it was open (clipped to the period); a
# patient counts once a month and once in the period, however many enrollments they had.
ACTIVE_SQL = """
WITH open AS (
    SELECT e.patient_id, e.start_date, e.ended_on
    FROM clinic_enrollment e
    WHERE e.clinic_id = %(clinic)s AND e.start_date <= %(end)s AND (e.ended_on IS NULL OR e.ended_on >= %(start)s)
          {enrollment}
), monthly AS (
    SELECT DISTINCT month::date AS month, patient_id
    FROM open
    CROSS JOIN generate_series(greatest(date_trunc('month', start_date::timestamp), %(first_month)s::timestamp),
                               date_trunc('month', least(coalesce(ended_on, %(end)s), %(end)s)::timestamp),
                               interval '1 month') AS month
)
SELECT month, count(*) FROM monthly GROUP BY month
UNION ALL
SELECT NULL, count(DISTINCT patient_id) FROM open
"""


def completion(sql: Sql) -> dict[str, Value]:
    rows = sql.rows(COMPLETION_SQL.format(month=sql.month("e.ended_on"), enrollment=sql.enrollment()))
    total, monthly = split_grouping_sets(rows, 2)
    return {
        "completion_rate": Value(
            ratio(*total) if total[1] else None,
            {month: ratio(*values) for month, values in monthly.items()},
            total[1] or 0,
        )
    }


def active_patients(sql: Sql) -> dict[str, Value]:
    sql.params["first_month"] = sql.filters.start.replace(day=1)
    total, monthly = split_grouping_sets(sql.rows(ACTIVE_SQL.format(enrollment=sql.enrollment())), 1)
    return {"active_patients": Value(total[0] or 0, {month: v[0] for month, v in monthly.items()}, total[0] or 0)}


# --- Sessions: attendance, no-shows, late cancellations, capacity ----------------------------------

# Per local day and program, the places of the classes starting in [%(from_at)s, %(to_at)s). Read live, or
# stored by rollups.py in KpiSessionDay (days before the roll-up's day; later days are always read live).
SESSION_DAY_SQL = """
SELECT {day} AS day, o.program_id,
       count(*) FILTER (WHERE held AND s.attendance IS DISTINCT FROM 'cancelled') AS held,
       count(*) FILTER (WHERE held AND s.attendance = ANY(%(attended)s)) AS attended,
       count(*) FILTER (WHERE held AND s.attendance = 'absent') AS absent,
       count(*) FILTER (WHERE b.status = 'late_cancelled') AS late_cancelled,
       count(*) FILTER (WHERE b.status IN ('booked', 'cancelled', 'late_cancelled')) AS bookings
FROM scheduling_booking b
JOIN scheduling_occurrence o ON o.id = b.occurrence_id
LEFT JOIN scheduling_sessionlog s ON s.booking_id = b.id
CROSS JOIN LATERAL (SELECT b.status = 'booked' AND o.starts_at < now() AS held) AS place
WHERE b.clinic_id = %(clinic)s AND o.clinic_id = %(clinic)s AND o.status = 'scheduled'
  AND o.starts_at >= %(from_at)s AND o.starts_at < %(to_at)s {conditions}
GROUP BY 1, 2
"""

CAPACITY_DAY_SQL = """
SELECT {day} AS day, o.program_id, sum(o.booked_count) AS booked_places, sum(o.capacity) AS capacity
FROM scheduling_occurrence o
WHERE o.clinic_id = %(clinic)s AND o.status = 'scheduled'
  AND o.starts_at >= %(from_at)s AND o.starts_at < %(to_at)s {conditions}
GROUP BY 1, 2
"""

STORED_DAYS_SQL = """
SELECT day, {columns} FROM outcomes_kpisessionday o
WHERE o.clinic_id = %(clinic)s AND o.day BETWEEN %(start)s AND %(stored_until)s {program}
"""

LIVE_DAYS_SQL = "SELECT day, {columns} FROM ({live}) AS live"

MONTHLY_SUMS_SQL = """
WITH days AS ({days})
SELECT {month}, {sums} FROM days GROUP BY GROUPING SETS (({month}), ())
"""

SESSION_COLUMNS = ("held", "attended", "absent", "late_cancelled", "bookings")
CAPACITY_COLUMNS = ("booked_places", "capacity")


def session_day_sql(sql: "Sql") -> str:
    """The live per-day places statement with the program, physician and staff filters."""
    conditions = []
    if sql.filters.program_id:
        conditions.append("o.program_id = %(program)s")
    if sql.filters.physician_id:
        conditions.append(
            "EXISTS (SELECT 1 FROM referrals_referral r WHERE r.clinic_id = %(clinic)s "
            "AND r.enrollment_id = b.enrollment_id AND r.referring_provider_id = %(physician)s)"
        )
    if sql.filters.staff_id:
        conditions.append("(o.staff_id = %(staff)s OR s.updated_by_id = %(staff)s)")
    return SESSION_DAY_SQL.format(day=sql.local_day("o.starts_at"), conditions=sql.conditions(conditions))


def capacity_day_sql(sql: "Sql") -> str:
    """The live per-day capacity statement (no physician filter: a class has no referring physician)."""
    conditions = []
    if sql.filters.program_id:
        conditions.append("o.program_id = %(program)s")
    if sql.filters.staff_id:
        conditions.append("o.staff_id = %(staff)s")
    return CAPACITY_DAY_SQL.format(day=sql.local_day("o.starts_at"), conditions=sql.conditions(conditions))


def monthly_sums(sql: "Sql", live_sql: str, columns: tuple[str, ...]) -> tuple[tuple, dict]:
    """The period's sums of `columns` and per month: stored days from the roll-up where there is one, the
    days after it live (from its first day to the period's end)."""
    parts, live_from = [], sql.filters.start
    if sql.rollup:
        sql.params["stored_until"] = min(sql.filters.end, sql.rollup.days_before - datetime.timedelta(days=1))
        stored = STORED_DAYS_SQL.format(columns=", ".join(columns), program=sql.program_condition("o.program_id"))
        parts.append(stored)
        live_from = max(live_from, sql.rollup.days_before)
    if live_from <= sql.filters.end:
        sql.params["from_at"] = sql.local_midnight(live_from)
        sql.params["to_at"] = sql.params["end_at"]
        parts.append(LIVE_DAYS_SQL.format(columns=", ".join(columns), live=live_sql))
    sums = ", ".join(f"sum({column})::bigint" for column in columns)
    query = MONTHLY_SUMS_SQL.format(days=" UNION ALL ".join(parts), month=sql.month("day"), sums=sums)
    return split_grouping_sets(sql.rows(query), len(columns))


def sessions(sql: Sql) -> dict[str, Value]:
    total, monthly = monthly_sums(sql, session_day_sql(sql), SESSION_COLUMNS)

    def value(pick, denominator) -> Value:
        return Value(pick(*total), {month: pick(*values) for month, values in monthly.items()}, denominator)

    held, bookings = total[0] or 0, total[4] or 0
    return {
        "attendance_rate": value(lambda held, attended, absent, late, booked: ratio(attended, held), held),
        "no_show_rate": value(lambda held, attended, absent, late, booked: ratio(absent, held), held),
        "late_cancel_rate": value(lambda held, attended, absent, late, booked: ratio(late, booked), bookings),
    }


def capacity(sql: Sql) -> dict[str, Value]:
    total, monthly = monthly_sums(sql, capacity_day_sql(sql), CAPACITY_COLUMNS)
    return {
        "capacity_use": Value(
            ratio(*total) if total[1] else None,
            {month: ratio(*values) for month, values in monthly.items()},
            total[1] or 0,
        )
    }


# --- Referrals -----------------------------------------------------------------------------------


def referral_conditions(sql: Sql) -> str:
    conditions = []
    if sql.filters.program_id:
        conditions.append("r.program_id = %(program)s")
    if sql.filters.physician_id:
        conditions.append("r.referring_provider_id = %(physician)s")
    return "".join(f" AND {c}" for c in conditions)


REFERRALS_SQL = """
SELECT {month}, count(*), count(*) FILTER (WHERE r.status = 'accepted')
FROM referrals_referral r
WHERE r.clinic_id = %(clinic)s AND r.referral_date BETWEEN %(start)s AND %(end)s {conditions}
GROUP BY GROUPING SETS (({month}), ())
"""

FIRST_SESSION_SQL = """
SELECT {month},
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days), percentile_cont(0.9) WITHIN GROUP (ORDER BY days),
       count(*)
FROM (
    SELECT {local}::date AS first_day, {local}::date - r.referral_date AS days
    FROM referrals_referral r
    JOIN clinic_enrollment e ON e.id = r.enrollment_id AND e.clinic_id = %(clinic)s
    WHERE r.clinic_id = %(clinic)s AND e.first_session_at >= %(start_at)s AND e.first_session_at < %(end_at)s
          {conditions}
) AS started
GROUP BY GROUPING SETS (({month}), ())
"""


def referrals(sql: Sql) -> dict[str, Value]:
    query = REFERRALS_SQL.format(month=sql.month("r.referral_date"), conditions=referral_conditions(sql))
    total, monthly = split_grouping_sets(sql.rows(query), 2)
    received = total[0] or 0
    query = FIRST_SESSION_SQL.format(
        month=sql.month("first_day"), local=sql.local("e.first_session_at"), conditions=referral_conditions(sql)
    )
    days_total, days_monthly = split_grouping_sets(sql.rows(query), 3)
    started = days_total[2] or 0

    def days(index) -> Value:
        def exact(value):
            return None if value is None else Decimal(str(value))

        monthly = {month: exact(values[index]) for month, values in days_monthly.items()}
        return Value(exact(days_total[index]), monthly, started)

    return {
        "referrals": Value(received, {month: values[0] for month, values in monthly.items()}, received),
        "enrollment_rate": Value(
            ratio(total[1], received), {month: ratio(v[1], v[0]) for month, v in monthly.items()}, received
        ),
        "days_to_first_session": days(0),
        "days_to_first_session_p90": days(1),
    }


# --- Tables ----------------------------------------------------------------------------------------

BY_SOURCE_SQL = """
SELECT r.source, count(*), count(*) FILTER (WHERE r.status = 'accepted')
FROM referrals_referral r
WHERE r.clinic_id = %(clinic)s AND r.referral_date BETWEEN %(start)s AND %(end)s {conditions}
GROUP BY r.source ORDER BY count(*) DESC, r.source
"""

BY_PHYSICIAN_SQL = """
SELECT p.id, p.last_name, p.first_name, p.credentials, p.practice_name, count(*),
       count(*) FILTER (WHERE r.status = 'accepted'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ({local})::date - r.referral_date)
FROM referrals_referral r
JOIN referrals_referringprovider p ON p.id = r.referring_provider_id AND p.clinic_id = %(clinic)s
LEFT JOIN clinic_enrollment e ON e.id = r.enrollment_id AND e.clinic_id = %(clinic)s
WHERE r.clinic_id = %(clinic)s AND r.referral_date BETWEEN %(start)s AND %(end)s {conditions}
GROUP BY p.id ORDER BY count(*) DESC, p.last_name, p.first_name, p.id
"""


def referrals_by_source(sql: Sql) -> list[tuple]:
    return sql.as_of_rollup("by-source", lambda: sql.rows(BY_SOURCE_SQL.format(conditions=referral_conditions(sql))))


def referrals_by_physician(sql: Sql) -> list[tuple]:
    query = BY_PHYSICIAN_SQL.format(local=sql.local("e.first_session_at"), conditions=referral_conditions(sql))
    return sql.as_of_rollup("by-physician", lambda: sql.rows(query))


FAMILIES = (outcomes, completion, sessions, capacity, referrals, active_patients)
# Cheap on a roll-up's day rows, so read every time: today's classes count as they are recorded.
LIVE_FAMILIES = (sessions, capacity)


def compute(*, clinic: Clinic, filters: KpiFilters, rollup: KpiRollup | None = None) -> tuple[dict[str, Value], Sql]:
    """Every KPI's value and series: six queries whatever the clinic's size. With a roll-up (rollups.py),
    sessions and capacity add up its day rows (plus today's classes, live), and the other families are
    computed once per refresh and kept in the cache with it."""
    sql = Sql(clinic, filters, rollup)
    values: dict[str, Value] = {}
    for family in LIVE_FAMILIES:
        values.update(family(sql))

    def slow_families() -> dict[str, Value]:
        computed = {}
        for family in FAMILIES:
            if family not in LIVE_FAMILIES:
                computed.update(family(sql))
        return computed

    values.update(sql.as_of_rollup("families", slow_families))
    return values, sql
