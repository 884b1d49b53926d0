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

from django.db import connection

from clinic.models import Clinic, ProgramType

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

    def __init__(self, clinic: Clinic, filters: KpiFilters):
        zone = zoneinfo.ZoneInfo(clinic.timezone)
        self.filters = filters
        self.params = {
            "clinic": clinic.pk,
            "tz": clinic.timezone,
            "start": filters.start,
            "end": filters.end,
            "start_at": datetime.datetime.combine(filters.start, datetime.time(), zone),
            "end_at": datetime.datetime.combine(filters.end + datetime.timedelta(days=1), datetime.time(), zone),
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

    def enrollment(self) -> str:
        """Conditions on the enrollment `e` for the program, physician and staff filters."""
        conditions = []
        if self.filters.program_id:
            conditions.append(ENROLLMENT_OF_PROGRAM)
        if self.filters.physician_id:
            conditions.append(ENROLLMENT_OF_PHYSICIAN)
        if self.filters.staff_id:
            conditions.append(ENROLLMENT_OF_STAFF)
        return "".join(f" AND {condition}" for condition in conditions)

    def rows(self, sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            return cursor.fetchall()


def _split(rows, columns: int) -> tuple[tuple, dict]:
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

OUTCOMES_SQL = """
WITH observations AS (
    SELECT o.enrollment_id, m.code, m.direction, m.mcid, m.mcid_kind, o.value, o.observed_at,
           o.source <> 'assessment' AS from_session
    FROM clinic_observation o
    JOIN clinic_measure m ON m.id = o.measure_id
    JOIN clinic_enrollment e ON e.id = o.enrollment_id AND e.clinic_id = %(clinic)s
    JOIN clinic_program p ON p.id = e.program_id AND p.clinic_id = %(clinic)s
    WHERE o.clinic_id = %(clinic)s AND o.observed_at < %(end_at)s AND o.phase IN ('', 'pre')
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
), pairs AS (
    SELECT code, {month} AS month, value - baseline AS change,
           (value - baseline) * 100 / NULLIF(baseline, 0) AS percent,
           CASE WHEN mcid IS NULL OR direction = 'context' THEN NULL
                ELSE (CASE WHEN mcid_kind = 'percent' THEN (value - baseline) * 100 / NULLIF(baseline, 0)
                           ELSE value - baseline END)
                     * (CASE WHEN direction = 'lower' THEN -1 ELSE 1 END) >= mcid END AS reached_mcid
    FROM ranked
    WHERE from_latest = 1 AND observed_at > baseline_at AND observed_at >= %(start_at)s
)
SELECT code, month, count(*), count(*) FILTER (WHERE reached_mcid), avg(change), avg(percent)
FROM pairs GROUP BY GROUPING SETS ((code, month), (code))
"""


def outcomes(sql: Sql) -> dict[str, Value]:
    sql.params.update(six_mwd=SIX_MWD, sbp=SBP, weight=WEIGHT, phq9=PHQ9)
    query = OUTCOMES_SQL.format(month=sql.month(sql.local("observed_at")), enrollment=sql.enrollment())
    by_code: dict[str, list] = {code: [] for code in (SIX_MWD, SBP, WEIGHT, PHQ9)}
    for code, *rest in sql.rows(query):
        by_code[code].append(rest)

    def value(code, pick) -> Value:
        total, monthly = _split(by_code[code], 4)
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

ACTIVE_SQL = """
SELECT m.month, count(DISTINCT e.patient_id)
FROM generate_series(%(first_month)s::date, %(end)s::date, interval '1 month') AS m(month)
JOIN clinic_enrollment e
  ON e.start_date < m.month + interval '1 month' AND e.start_date <= %(end)s
 AND (e.ended_on IS NULL OR e.ended_on >= GREATEST(m.month, %(start)s))
WHERE e.clinic_id = %(clinic)s {enrollment}
GROUP BY GROUPING SETS ((m.month), ())
"""


def completion(sql: Sql) -> dict[str, Value]:
    rows = sql.rows(COMPLETION_SQL.format(month=sql.month("e.ended_on"), enrollment=sql.enrollment()))
    total, monthly = _split(rows, 2)
    return {
        "completion_rate": Value(
            ratio(*total) if total[1] else None,
            {month: ratio(*values) for month, values in monthly.items()},
            total[1] or 0,
        )
    }


def active_patients(sql: Sql) -> dict[str, Value]:
    sql.params["first_month"] = sql.filters.start.replace(day=1)
    total, monthly = _split(sql.rows(ACTIVE_SQL.format(enrollment=sql.enrollment())), 1)
    months = {month.date() if isinstance(month, datetime.datetime) else month: v[0] for month, v in monthly.items()}
    return {"active_patients": Value(total[0] or 0, months, total[0] or 0)}


# --- Sessions: attendance, no-shows, late cancellations, capacity ----------------------------------

SESSIONS_SQL = """
SELECT {month},
       count(*) FILTER (WHERE held AND s.attendance IS DISTINCT FROM 'cancelled'),
       count(*) FILTER (WHERE held AND s.attendance = ANY(%(attended)s)),
       count(*) FILTER (WHERE held AND s.attendance = 'absent'),
       count(*) FILTER (WHERE b.status = 'late_cancelled'),
       count(*) FILTER (WHERE b.status IN ('booked', 'cancelled', 'late_cancelled'))
FROM scheduling_booking b
JOIN scheduling_occurrence o ON o.id = b.occurrence_id
LEFT JOIN scheduling_sessionlog s ON s.booking_id = b.id
CROSS JOIN LATERAL (SELECT b.status = 'booked' AND o.starts_at < now() AS held) AS place
WHERE b.clinic_id = %(clinic)s AND o.clinic_id = %(clinic)s AND o.status = 'scheduled'
  AND o.starts_at >= %(start_at)s AND o.starts_at < %(end_at)s {conditions}
GROUP BY GROUPING SETS (({month}), ())
"""

CAPACITY_SQL = """
SELECT {month}, sum(o.booked_count), sum(o.capacity)
FROM scheduling_occurrence o
WHERE o.clinic_id = %(clinic)s AND o.status = 'scheduled'
  AND o.starts_at >= %(start_at)s AND o.starts_at < %(end_at)s {conditions}
GROUP BY GROUPING SETS (({month}), ())
"""


def sessions(sql: Sql) -> dict[str, Value]:
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
    query = SESSIONS_SQL.format(
        month=sql.month(sql.local("o.starts_at")), conditions="".join(f" AND {c}" for c in conditions)
    )
    total, monthly = _split(sql.rows(query), 5)

    def value(pick, denominator) -> Value:
        return Value(pick(*total), {month: pick(*values) for month, values in monthly.items()}, denominator)

    held, bookings = total[0] or 0, total[4] or 0
    return {
        "attendance_rate": value(lambda held, attended, absent, late, booked: ratio(attended, held), held),
        "no_show_rate": value(lambda held, attended, absent, late, booked: ratio(absent, held), held),
        "late_cancel_rate": value(lambda held, attended, absent, late, booked: ratio(late, booked), bookings),
    }


def capacity(sql: Sql) -> dict[str, Value]:
    conditions = []
    if sql.filters.program_id:
        conditions.append("o.program_id = %(program)s")
    if sql.filters.staff_id:
        conditions.append("o.staff_id = %(staff)s")
    query = CAPACITY_SQL.format(
        month=sql.month(sql.local("o.starts_at")), conditions="".join(f" AND {c}" for c in conditions)
    )
    total, monthly = _split(sql.rows(query), 2)
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
    total, monthly = _split(sql.rows(query), 2)
    received = total[0] or 0
    query = FIRST_SESSION_SQL.format(
        month=sql.month("first_day"), local=sql.local("e.first_session_at"), conditions=referral_conditions(sql)
    )
    days_total, days_monthly = _split(sql.rows(query), 3)
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
    return sql.rows(BY_SOURCE_SQL.format(conditions=referral_conditions(sql)))


def referrals_by_physician(sql: Sql) -> list[tuple]:
    query = BY_PHYSICIAN_SQL.format(local=sql.local("e.first_session_at"), conditions=referral_conditions(sql))
    return sql.rows(query)


FAMILIES = (outcomes, completion, sessions, capacity, referrals, active_patients)


def compute(*, clinic: Clinic, filters: KpiFilters) -> tuple[dict[str, Value], Sql]:
    """Every KPI's value and series: six queries whatever the clinic's size."""
    sql = Sql(clinic, filters)
    values: dict[str, Value] = {}
    for family in FAMILIES:
        values.update(family(sql))
    return values, sql
