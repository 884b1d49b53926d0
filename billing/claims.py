"""Claim lines derived from attended sessions, per program's rules; never typed by hand.

`claim_lines_derive` works out the lines of a clinic's (or some enrollments') attended sessions and each reason
a line cannot be billed yet, into a temporary table, then upserts them: a line that is already there is updated in
place, exported lines never change, and a line no longer supported (a session marked absent after all) becomes
"void". Running it twice changes nothing the second time.

CR, ICR and PR lines are worked out by PostgreSQL in one statement (REHAB_LINES_SQL: session numbers, daily counts
and minutes by window functions, coverage, fee, signed plan and medical-necessity note by joins), since a large
clinic has hundreds of thousands of them. MDPP lines, a few dozen per participant with weight-loss milestones that
depend on the sessions before them, are worked out in Python (mdpp_lines). Eligibility is judged in Python
(referrals.eligibility's bulk `Preloaded`) for both. The query count does not grow with the clinic.

Every code, limit and window comes from the BillingRule table (billing/rules.py) effective on the date of
service. The reason codes and their messages are below (BLOCKERS); pages and the API show them as they are.
"""

import datetime
import json
import logging
import zlib
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils.timezone import now

from billing.models import ClaimLine, Coverage, FeeScheduleEntry
from billing.rules import MissingRuleError, Rules
from clinic.models import Clinic, Enrollment, Membership
from scheduling.models import SessionLog

logger = logging.getLogger(__name__)

REHAB = ("cr", "icr", "pr")
BILLED_PROGRAMS = (*REHAB, "mdpp")

# Reason codes (machine-readable) and the sentence billing staff read; {placeholders} come from the line.
BLOCKERS = {
    "itp_missing": "No signed treatment plan covers {day}: a physician must sign the plan at most {window} days "
    "before the session.",
    "session_limit": "Session {number} is beyond the program's {limit} billable sessions.",
    "kx_note_missing": "Session {number} needs the KX modifier, which attests a medical-necessity note: no note "
    "covering session {number} is on record (a physiologist adds it from the enrollment's medical-necessity page).",
    "daily_limit": "Session {k} on {day}: the program allows {limit} a day.",
    "duration_short": "{minutes} minutes recorded on {day} for {k} session(s); {required} are needed.",
    "time_missing": "No start and end time recorded: the session's minutes cannot be shown.",
    "not_eligible": "The referral's eligibility result is not eligible and no override is recorded.",
    "weight_missing": "No weight recorded at this session.",
    "coach_npi_missing": "The session's coach has no NPI on record (Staff page).",
    "lifetime_limit": "{why}",
    "coverage_missing": "No active coverage on {day}.",
    "supervisor_missing": "No supervising practitioner recorded for the class.",
    "icr_not_approved": "The program is not marked as a CMS-approved intensive cardiac rehab program.",
    "rule_missing": "{why}",
}

KX_NOTE = "KX: medical-necessity note of {day} for sessions {first}–{last}."


def blocker(code: str, **values) -> dict:
    return {"code": code, "message": BLOCKERS[code].format(**values)}


@dataclass
class Session:
    """An attended MDPP SessionLog as derivation reads it."""

    id: int
    enrollment_id: int
    day: datetime.date
    weight_kg: Decimal | None
    coach_id: int | None
    delivery_mode: str


@dataclass
class DeriveResult:
    created: int = 0
    updated: int = 0
    voided: int = 0
    unchanged: int = 0


# A session's delivery mode (scheduling.DeliveryMode, set on the floor sheet) picks the MDPP attendance code.
MDPP_CODE_KEYS = {"in_person": "code_in_person", "distance": "code_distance", "online": "code_online"}


# --- Reading what derivation needs, in bulk -----------------------------------------------------------------


# The local day is worked out by PostgreSQL: parsing timestamps per session in Python was the largest part of
# reading a clinic's sessions.
SESSIONS_SQL = """
SELECT s.id, s.enrollment_id, (o.starts_at AT TIME ZONE %(tz)s)::date, s.weight_kg, o.coach_id, s.delivery_mode
FROM scheduling_sessionlog s
JOIN scheduling_occurrence o ON o.id = s.occurrence_id AND o.clinic_id = %(clinic)s
WHERE s.clinic_id = %(clinic)s AND s.enrollment_id = ANY(%(ids)s) AND s.attendance = ANY(%(attended)s)
ORDER BY s.enrollment_id, o.starts_at, s.id
"""


def _sessions(clinic: Clinic, enrollment_ids) -> dict[int, list[Session]]:
    params = {"tz": clinic.timezone, "clinic": clinic.pk, "ids": list(enrollment_ids),
              "attended": list(SessionLog.ATTENDED)}  # fmt: skip
    by_enrollment = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(SESSIONS_SQL, params)
        for row in cursor.fetchall():
            session = Session(*row)
            by_enrollment[session.enrollment_id].append(session)
    return by_enrollment


def _first_mdpp_sessions(clinic: Clinic, patient_ids) -> dict[int, list[tuple[datetime.datetime, int]]]:
    """Each patient's MDPP enrollments with their first attended session, oldest first: MDPP is once per life."""
    rows = (
        SessionLog.objects.filter(
            clinic=clinic, patient_id__in=patient_ids, enrollment__program__program_type="mdpp",
            attendance__in=SessionLog.ATTENDED,
        )
        .values("patient_id", "enrollment_id")
        .annotate(first=Min("occurrence__starts_at"))
    )  # fmt: skip
    firsts = defaultdict(list)
    for row in rows:
        firsts[row["patient_id"]].append((row["first"], row["enrollment_id"]))
    return {patient: sorted(values) for patient, values in firsts.items()}


def coverages_of(clinic: Clinic, patient_ids) -> dict[int, list[Coverage]]:
    coverages = defaultdict(list)
    for coverage in Coverage.objects.filter(clinic=clinic, patient_id__in=patient_ids).select_related("payer"):
        coverages[coverage.patient_id].append(coverage)
    for rows in coverages.values():
        rows.sort(key=lambda coverage: (coverage.priority, coverage.pk))
    return coverages


def _fees(clinic: Clinic) -> dict[str, list[FeeScheduleEntry]]:
    fees = defaultdict(list)
    for fee in FeeScheduleEntry.objects.filter(clinic=clinic):
        fees[fee.code].append(fee)
    return fees


def _not_eligible_enrollments(clinic: Clinic, enrollments) -> set[int]:
    """Enrollments whose referral is judged not eligible without an override; thresholds and first-session weights
    read in bulk (referrals.eligibility.Preloaded), so the query count does not grow with the referrals."""
    from referrals import eligibility

    referrals = [enrollment.referral for enrollment in enrollments if getattr(enrollment, "referral", None)]
    if not referrals:
        return set()
    preloaded = eligibility.Preloaded(
        thresholds=eligibility.load_thresholds_on({eligibility.referral_day(r) for r in referrals}),
        weights=eligibility.first_session_weights(
            clinic.pk, {(r.patient_id, eligibility.judgment_day(r).day) for r in referrals}
        ),
    )
    not_eligible = set()
    for referral in referrals:
        result = eligibility.eligibility_or_unknown(referral, preloaded)
        if result.status == eligibility.NOT_ELIGIBLE and not result.overridden:
            not_eligible.add(referral.enrollment_id)
    return not_eligible


# --- The rules --------------------------------------------------------------------------------------------


class Context:
    """What every MDPP line of a derivation run looks up: rules, sessions, coverage, fees, NPIs."""

    def __init__(self, clinic, enrollments, not_eligible):
        patient_ids = {enrollment.patient_id for enrollment in enrollments}
        self.clinic = clinic
        self.rules = Rules()
        self.sessions = _sessions(clinic, [enrollment.pk for enrollment in enrollments])
        self.coverages = coverages_of(clinic, patient_ids)
        self.fees = _fees(clinic)
        self.npi = dict(Membership.objects.filter(clinic=clinic).values_list("pk", "npi"))
        self.mdpp_firsts = _first_mdpp_sessions(clinic, patient_ids)
        self.not_eligible = not_eligible

    def coverage_on(self, patient_id: int, day: datetime.date) -> Coverage | None:
        return next((c for c in self.coverages.get(patient_id, ()) if c.is_active_on(day)), None)

    def fee(self, code: str, payer_id: int | None, day: datetime.date) -> Decimal | None:
        in_force = [
            fee for fee in self.fees.get(code, ())
            if fee.effective_from <= day and (fee.effective_to is None or day <= fee.effective_to)
        ]  # fmt: skip
        own = [fee for fee in in_force if payer_id is not None and fee.payer_id == payer_id]
        anyone = [fee for fee in in_force if fee.payer_id is None]
        chosen = (own or anyone or [None])[0]
        return chosen.amount if chosen else None


def _line(ctx: Context, enrollment: Enrollment, *, day, code, session_id, blockers, common, **fields) -> dict:
    coverage = ctx.coverage_on(enrollment.patient_id, day)
    blockers = [*blockers, *common]
    if coverage is None:
        blockers.append(blocker("coverage_missing", day=day.isoformat()))
    payer_id = coverage.payer_id if coverage else None
    amount = ctx.fee(code, payer_id, day)
    referral = getattr(enrollment, "referral", None)
    return {
        "clinic_id": enrollment.clinic_id, "enrollment_id": enrollment.pk, "patient_id": enrollment.patient_id,
        "session_log_id": session_id, "program_type": enrollment.program.program_type, "date_of_service": day,
        "code": code, "units": 1, "modifiers": fields.pop("modifiers", []),
        "diagnosis_codes": list(referral.diagnosis_codes) if referral else [],
        "payer_id": payer_id, "expected_amount": amount, "note": fields.pop("note", ""),
        "status": ClaimLine.Status.BLOCKED if blockers else ClaimLine.Status.READY, "blockers": blockers,
        **fields,
    }  # fmt: skip


def mdpp_lines(ctx: Context, enrollment: Enrollment, common: list[dict]) -> list[dict]:
    """Medicare DPP: an attendance line per session (22 paid in 12 months, once per lifetime) and the
    weight-loss performance lines against the weight at the first core session."""
    sessions = ctx.sessions.get(enrollment.pk, [])
    if not sessions:
        return []
    rules = ctx.rules
    first_day = sessions[0].day
    common = list(common)
    tz = zoneinfo.ZoneInfo(ctx.clinic.timezone)
    earlier = [
        first.astimezone(tz).date() for first, enrollment_id in ctx.mdpp_firsts.get(enrollment.patient_id, ())
        if (first.astimezone(tz).date(), enrollment_id) < (first_day, enrollment.pk)
    ]  # fmt: skip
    if earlier:
        why = f"Medicare DPP is once per lifetime: services were already received from {earlier[0].isoformat()}."
        common.append(blocker("lifetime_limit", why=why))
    paid = rules.int("mdpp", "paid_sessions", first_day)
    window_end = first_day + relativedelta(months=rules.int("mdpp", "paid_window_months", first_day))
    maintenance_from = first_day + relativedelta(months=rules.int("mdpp", "maintenance_from_month", first_day) - 1)
    wl5, wl9 = rules.decimal("mdpp", "wl5_percent", first_day), rules.decimal("mdpp", "wl9_percent", first_day)
    baseline = sessions[0].weight_kg
    lines, reached = [], set()
    for number, session in enumerate(sessions, start=1):
        day = session.day
        coach = {"rendering_provider_id": session.coach_id, "supervising_provider_id": None}
        code = rules.get("mdpp", MDPP_CODE_KEYS.get(session.delivery_mode, "code_in_person"), day)
        blockers = []
        if code is None:
            blockers.append(blocker("rule_missing", why=f"No MDPP code for {session.delivery_mode} on {day}."))
            code = rules.get("mdpp", "code_in_person", day) or "G9886"
        if session.weight_kg is None:
            blockers.append(blocker("weight_missing"))
        if session.coach_id is None or not ctx.npi.get(session.coach_id):
            blockers.append(blocker("coach_npi_missing"))
        if number > paid:
            blockers.append(
                blocker("lifetime_limit", why=f"Session {number}: only {paid} sessions are paid in 12 months.")
            )
        elif day >= window_end:
            blockers.append(blocker("lifetime_limit", why="The 12-month services period has ended."))
        lines.append(_line(ctx, enrollment, day=day, code=code, session_id=session.id, blockers=blockers,
                           common=common, **coach))  # fmt: skip
        if baseline is None or session.weight_kg is None or day >= window_end:
            continue
        loss = (baseline - session.weight_kg) * 100 / baseline
        for key, threshold in (("code_wl5", wl5), ("code_wl9", wl9)):
            if loss >= threshold and key not in reached:
                reached.add(key)
                lines.append(_line(ctx, enrollment, day=day, code=rules.get("mdpp", key, day), session_id=None,
                                   blockers=[], common=common, **coach))  # fmt: skip
        if day >= maintenance_from and loss >= wl5:
            lines.append(_line(ctx, enrollment, day=day, code=rules.get("mdpp", "code_wl5_maintained", day),
                               session_id=session.id, blockers=[], common=common, **coach))  # fmt: skip
    return lines


def lines_of(ctx: Context, enrollment: Enrollment) -> list[dict]:
    common = [blocker("not_eligible")] if enrollment.pk in ctx.not_eligible else []
    try:
        return mdpp_lines(ctx, enrollment, common)
    except MissingRuleError as error:
        logger.warning("billing rule missing", extra={"enrollment_id": enrollment.pk, "error": str(error)})
        return []


# --- CR, ICR and PR lines, worked out by PostgreSQL ------------------------------------------------------

# One line per attended session. Session numbers, the day's k-th session and its minutes so far are window
# functions; the rules are the BillingRule rows effective on each day (newest first, as billing.rules reads them);
# coverage, fee, plan and medical-necessity note are looked up per line. Reading 360,000 sessions into Python
# and sending their lines back was most of a large clinic's run (issue 10's target is 10 s for that clinic).
# The blockers are built in the order and with the messages of BLOCKERS: each %(m_<code>)s parameter is its
# message, whose {placeholders} _message() replaces. An enrollment missing a rule on a day of its sessions gets no
# lines, as billing.rules' MissingRuleError does for MDPP.
REHAB_RULE_KEYS = ("code_monitored", "code_unmonitored", "code_exercise", "code_no_exercise", "session_limit",
                   "kx_limit", "daily_limit", "minutes_one", "minutes_two", "itp_window_days")  # fmt: skip


def _message(code: str, **values: str) -> str:
    """SQL for the blocker `code` as {code, message}: the message's {placeholders} replaced by SQL expressions."""
    message = f"%(m_{code})s::text"  # typed: the server binds the parameters (settings.DB_PREPARED_STATEMENTS)
    for name, expression in values.items():
        message = f"replace({message}, '{{{name}}}', ({expression})::text)"
    return f"jsonb_build_object('code', '{code}', 'message', {message})"


def _rule(key: str, kind: str = "int") -> str:
    cast = {"int": "::int", "text": ""}[kind]
    return f"(max(value) FILTER (WHERE key = '{key}')){cast} AS {key}"


REHAB_LINES_SQL = f"""
WITH attended AS (
    SELECT s.id, s.enrollment_id, e.patient_id, p.program_type AS kind, p.cms_approved_icr, o.starts_at,
           (o.starts_at AT TIME ZONE %(tz)s)::date AS day,
           floor(extract(epoch FROM s.ended_at - s.started_at) / 60)::int AS minutes,
           CASE p.program_type WHEN 'cr' THEN s.ecg_monitored WHEN 'pr' THEN s.continuous_oximetry
                ELSE coalesce(s.exercise_minutes, 0) <> 0 OR s.modality <> '' END AS monitored,
           o.supervising_practitioner_id AS supervisor_id, coalesce(o.staff_id, s.updated_by_id) AS staff_id,
           coalesce(r.diagnosis_codes, '{{}}') AS diagnosis_codes
    FROM scheduling_sessionlog s
    JOIN scheduling_occurrence o ON o.id = s.occurrence_id AND o.clinic_id = %(clinic)s
    JOIN clinic_enrollment e ON e.id = s.enrollment_id AND e.clinic_id = %(clinic)s
    JOIN clinic_program p ON p.id = e.program_id
    LEFT JOIN referrals_referral r ON r.enrollment_id = e.id AND r.clinic_id = %(clinic)s
    WHERE s.clinic_id = %(clinic)s AND s.enrollment_id = ANY(%(ids)s) AND s.attendance = ANY(%(attended)s)
),
numbered AS (
    SELECT a.*,
           -- by day first, which orders sessions as starts_at does: the three windows then share one sort
           row_number() OVER (PARTITION BY enrollment_id ORDER BY day, starts_at, id) AS number,
           row_number() OVER (PARTITION BY enrollment_id, day ORDER BY starts_at, id) AS k,
           sum(minutes) OVER (PARTITION BY enrollment_id, day ORDER BY starts_at, id) AS minutes_so_far
    FROM attended a
),
rule_rows AS (
    SELECT DISTINCT ON (d.kind, d.day, b.key) d.kind, d.day, b.key, b.value
    FROM (SELECT DISTINCT kind, day FROM attended) d
    JOIN billing_billingrule b
      ON b.program_type = d.kind AND b.effective_from <= d.day AND (b.effective_to IS NULL OR d.day <= b.effective_to)
    WHERE b.key = ANY(%(rule_keys)s)
    ORDER BY d.kind, d.day, b.key, b.effective_from DESC
),
day_rules AS (
    SELECT kind, day, {_rule("code_monitored", "text")}, {_rule("code_unmonitored", "text")},
           {_rule("code_exercise", "text")}, {_rule("code_no_exercise", "text")}, {_rule("session_limit")},
           {_rule("kx_limit")}, {_rule("daily_limit")}, {_rule("minutes_one")}, {_rule("minutes_two")},
           {_rule("itp_window_days")}
    FROM rule_rows GROUP BY kind, day
),
ruled AS (
    SELECT n.*, r.session_limit, r.kx_limit, r.daily_limit, r.itp_window_days,
           r.minutes_one + (n.k - 1) * (r.minutes_two - r.minutes_one) AS required,
           CASE WHEN n.kind = 'icr' THEN CASE WHEN n.monitored THEN r.code_exercise ELSE r.code_no_exercise END
                ELSE CASE WHEN n.monitored THEN r.code_monitored ELSE r.code_unmonitored END END AS code,
           r.session_limit IS NOT NULL AND r.kx_limit IS NOT NULL AND r.daily_limit IS NOT NULL
               AND r.minutes_one IS NOT NULL AND r.minutes_two IS NOT NULL AND r.itp_window_days IS NOT NULL
               AND CASE WHEN n.kind = 'icr' THEN r.code_exercise IS NOT NULL AND r.code_no_exercise IS NOT NULL
                        ELSE r.code_monitored IS NOT NULL AND r.code_unmonitored IS NOT NULL END AS rules_complete
    FROM numbered n LEFT JOIN day_rules r ON r.kind = n.kind AND r.day = n.day
),
missing_rules AS (SELECT DISTINCT enrollment_id FROM ruled WHERE NOT rules_complete),
notes AS (  -- for sessions that need the KX modifier, the oldest medical-necessity note covering them
    SELECT DISTINCT ON (u.id) u.id, m.written_on, m.first_session, m.last_session
    FROM ruled u
    JOIN billing_medicalnecessitynote m
      ON m.clinic_id = %(clinic)s AND m.enrollment_id = u.enrollment_id
     AND m.first_session <= u.number AND u.number <= m.last_session
    WHERE u.number > u.session_limit AND u.number <= u.kx_limit
    ORDER BY u.id, m.written_on, m.id
),
covered AS (  -- the dates of service each enrollment's signed plans cover
    SELECT plan.enrollment_id, range_agg(daterange({{signed_on}}, {{covers_until}}, '[]')) AS days
    FROM clinic_treatmentplan plan
    WHERE plan.clinic_id = %(clinic)s AND plan.enrollment_id = ANY(%(ids)s) AND plan.signed_at IS NOT NULL
    GROUP BY plan.enrollment_id
),
coverage AS (
    SELECT DISTINCT ON (a.id) a.id, c.payer_id FROM attended a
    JOIN billing_coverage c
      ON c.clinic_id = %(clinic)s AND c.patient_id = a.patient_id
     AND c.starts_on <= a.day AND (c.ends_on IS NULL OR a.day <= c.ends_on)
    ORDER BY a.id, c.priority, c.id
),
looked_up AS (
    SELECT u.*, coverage.payer_id, coalesce(covered.days @> u.day, false) AS plan_covers,
           note.written_on, note.first_session, note.last_session
    FROM ruled u
    LEFT JOIN coverage ON coverage.id = u.id
    LEFT JOIN covered ON covered.enrollment_id = u.enrollment_id
    LEFT JOIN notes note ON note.id = u.id
    WHERE u.enrollment_id NOT IN (SELECT enrollment_id FROM missing_rules)
),
blocked AS (
    SELECT l.*, to_jsonb(array_remove(ARRAY[
        CASE WHEN l.number > l.kx_limit THEN {_message("session_limit", number="l.number", limit="l.kx_limit")} END,
        CASE WHEN l.number > l.session_limit AND l.number <= l.kx_limit AND l.written_on IS NULL
             THEN {_message("kx_note_missing", number="l.number")} END,
        CASE WHEN l.k > l.daily_limit
             THEN {_message("daily_limit", k="l.k", day="to_char(l.day, 'YYYY-MM-DD')", limit="l.daily_limit")} END,
        CASE WHEN l.minutes IS NULL THEN {_message("time_missing")} END,
        CASE WHEN l.minutes IS NOT NULL AND l.minutes_so_far < l.required
             THEN {
    _message(
        "duration_short", minutes="l.minutes_so_far", day="to_char(l.day, 'YYYY-MM-DD')", k="l.k", required="l.required"
    )
} END,
        CASE WHEN NOT l.plan_covers
             THEN {_message("itp_missing", day="to_char(l.day, 'YYYY-MM-DD')", window="l.itp_window_days")} END,
        CASE WHEN l.supervisor_id IS NULL THEN {_message("supervisor_missing")} END,
        CASE WHEN l.kind = 'icr' AND NOT l.cms_approved_icr THEN {_message("icr_not_approved")} END,
        CASE WHEN l.enrollment_id = ANY(%(not_eligible)s) THEN {_message("not_eligible")} END,
        CASE WHEN l.payer_id IS NULL THEN {_message("coverage_missing", day="to_char(l.day, 'YYYY-MM-DD')")} END
    ]::jsonb[], NULL)) AS blockers
    FROM looked_up l
),
fees AS MATERIALIZED (  -- once per code, payer and day, not per line
    SELECT k.code, k.payer_id, k.day, fee.amount
    FROM (SELECT DISTINCT code, payer_id, day FROM blocked) k
    LEFT JOIN LATERAL (
        SELECT f.amount FROM billing_feescheduleentry f
        WHERE f.clinic_id = %(clinic)s AND f.code = k.code AND (f.payer_id = k.payer_id OR f.payer_id IS NULL)
          AND f.effective_from <= k.day AND (f.effective_to IS NULL OR k.day <= f.effective_to)
        ORDER BY f.payer_id IS NULL, f.effective_from DESC, f.id LIMIT 1
    ) fee ON true
)
INSERT INTO {{into}}
SELECT %(clinic)s, b.enrollment_id, b.id, b.code, b.patient_id, b.kind, b.day, 1,
       CASE WHEN b.number > b.session_limit AND b.number <= b.kx_limit THEN ARRAY['KX'] ELSE '{{}}' END,
       b.diagnosis_codes, b.staff_id, b.supervisor_id, b.payer_id, fees.amount,
       CASE WHEN b.written_on IS NULL THEN ''
            ELSE replace(replace(replace(%(kx_note)s::text, '{{day}}', to_char(b.written_on, 'YYYY-MM-DD')),
                                 '{{first}}', b.first_session::text), '{{last}}', b.last_session::text) END,
       CASE WHEN b.blockers = '[]' THEN 'ready' ELSE 'blocked' END, b.blockers, %(stamp)s
FROM blocked b
JOIN fees ON fees.code = b.code AND coalesce(fees.payer_id, 0) = coalesce(b.payer_id, 0) AND fees.day = b.day
"""  # noqa: S608 (the f-string's parts are ours; values are parameters)


def rehab_lines_insert(clinic: Clinic, enrollment_ids: list[int], not_eligible: set[int], *, into: str, stamp) -> int:
    """Work out the CR, ICR and PR lines of these enrollments into `into` (REHAB_LINES_SQL); return how many."""
    from clinic.treatment_plans.selectors import plan_coverage_sql

    signed_on, covers_until = plan_coverage_sql(plan="plan")
    statement = (
        REHAB_LINES_SQL.replace("{signed_on}", signed_on).replace("{covers_until}", covers_until)
        .replace("{into}", into)
    )  # fmt: skip
    params = {
        "clinic": clinic.pk, "tz": clinic.timezone, "ids": enrollment_ids, "attended": list(SessionLog.ATTENDED),
        "rule_keys": list(REHAB_RULE_KEYS), "not_eligible": sorted(not_eligible), "kx_note": KX_NOTE,
        "itp_review_days": settings.ITP_REVIEW_DAYS, "stamp": stamp,
        **{f"m_{code}": message for code, message in BLOCKERS.items()},
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


# --- The upsert -------------------------------------------------------------------------------------------

UPDATED_FIELDS = ["patient_id", "program_type", "date_of_service", "units", "modifiers", "diagnosis_codes",
                  "rendering_provider_id", "supervising_provider_id", "payer_id", "expected_amount", "note", "status",
                  "blockers"]  # fmt: skip
INSERTED = ["clinic_id", "enrollment_id", "session_log_id", "code", *UPDATED_FIELDS]
COLUMN_TYPES = {
    "clinic_id": "bigint", "enrollment_id": "bigint", "session_log_id": "bigint", "code": "text",
    "patient_id": "bigint", "program_type": "text", "date_of_service": "date", "units": "integer",
    "modifiers": "varchar(2)[]", "diagnosis_codes": "varchar(8)[]", "rendering_provider_id": "bigint",
    "supervising_provider_id": "bigint", "payer_id": "bigint", "expected_amount": "numeric", "note": "text",
    "status": "text", "blockers": "jsonb",
}  # fmt: skip

# Every derived line of a run, before it is compared with the lines on record. Temporary: this session's only.
DERIVED_TABLE_SQL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS claim_derived ("
    + ", ".join(f"{name} {COLUMN_TYPES[name]}" for name in INSERTED)
    + ", derived_at timestamptz) ON COMMIT DROP"
)
# The caller's transaction may go on after a run: its settings are put back (SET LOCAL lasts to the end of it).
RESET_SETTINGS = "RESET work_mem; RESET jit; RESET enable_mergejoin; RESET enable_nestloop"
INTO_DERIVED = f"claim_derived ({', '.join(INSERTED)}, derived_at)"
INTO_LINES = f"billing_claimline ({', '.join(INSERTED)}, derived_at)"
# coalesce, not IS NOT DISTINCT FROM, so that PostgreSQL can hash the join (session ids start at 1).
SAME_LINE = " AND ".join(
    [
        "l.enrollment_id = d.enrollment_id",
        "l.code = d.code",
        "coalesce(l.session_log_id, 0) = coalesce(d.session_log_id, 0)",
    ]
)
OURS = "l.clinic_id = %(clinic)s AND l.enrollment_id = ANY(%(ids)s)"  # every line of the run's enrollments

# Exported lines never change; a line whose session has an exported line under another code is billed already.
# The look-ups of one derived line name its enrollment (SAME_LINE), not the run's list of them.
UPSERT_SQL = {
    "updated": f"""
        UPDATE billing_claimline l SET {", ".join(f"{name} = d.{name}" for name in UPDATED_FIELDS)},
               derived_at = %(stamp)s
        FROM claim_derived d
        WHERE l.clinic_id = %(clinic)s AND {SAME_LINE} AND l.status <> 'exported'
          AND ({", ".join(f"l.{name}" for name in UPDATED_FIELDS)})
              IS DISTINCT FROM ({", ".join(f"d.{name}" for name in UPDATED_FIELDS)})""",  # noqa: S608
    "voided": f"""
        UPDATE billing_claimline l SET status = 'void', blockers = '[]', derived_at = %(stamp)s
        WHERE {OURS} AND l.status NOT IN ('exported', 'void')
          AND NOT EXISTS (SELECT 1 FROM claim_derived d WHERE {SAME_LINE})""",  # noqa: S608
    "created": f"""
        INSERT INTO billing_claimline ({", ".join(INSERTED)}, derived_at)
        SELECT {", ".join(f"d.{name}" for name in INSERTED)}, %(stamp)s FROM claim_derived d
        WHERE NOT EXISTS (SELECT 1 FROM billing_claimline l WHERE l.clinic_id = %(clinic)s AND {SAME_LINE})
          AND NOT EXISTS (SELECT 1 FROM billing_claimline l
                          WHERE l.clinic_id = %(clinic)s AND l.enrollment_id = d.enrollment_id
                            AND l.session_log_id = d.session_log_id AND l.status = 'exported')""",  # noqa: S608
}
UNCHANGED_SQL = f"""
    SELECT count(*) FROM claim_derived d JOIN billing_claimline l ON {SAME_LINE}
    WHERE l.clinic_id = %(clinic)s AND l.status <> 'exported' AND l.derived_at <> %(stamp)s"""  # noqa: S608


def billed_enrollments(*, clinic: Clinic, enrollment_ids=None, date_from=None, date_to=None):
    enrollments = Enrollment.objects.filter(clinic=clinic, program__program_type__in=BILLED_PROGRAMS)
    if enrollment_ids is not None:
        enrollments = enrollments.filter(pk__in=list(enrollment_ids))
    if date_from or date_to:
        sessions = SessionLog.objects.filter(clinic=clinic, attendance__in=SessionLog.ATTENDED)
        if date_from:
            sessions = sessions.filter(occurrence__starts_at__date__gte=date_from)
        if date_to:
            sessions = sessions.filter(occurrence__starts_at__date__lte=date_to)
        enrollments = enrollments.filter(pk__in=sessions.values("enrollment_id"))
    return enrollments.select_related("program", "referral", "referral__program").order_by("pk")


@transaction.atomic
def claim_lines_derive(*, clinic: Clinic, enrollment_ids=None, date_from=None, date_to=None) -> DeriveResult:
    """Derive (or re-derive) the claim lines of the clinic's CR, ICR, PR and MDPP enrollments: all, the given
    ones, or those with sessions in a period (whole enrollments, since session numbers count from the first).

    One derivation per clinic at a time: the task a floor-sheet save queues, the nightly run and a click on
    *Derive lines again* may overlap, and two of them reading the same lines would both create the new ones."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"claims:{clinic.pk}".encode())])
    enrollments = list(
        billed_enrollments(clinic=clinic, enrollment_ids=enrollment_ids, date_from=date_from, date_to=date_to)
    )
    result = DeriveResult()
    if not enrollments:
        return result
    not_eligible = _not_eligible_enrollments(clinic, enrollments)
    ids = [enrollment.pk for enrollment in enrollments]
    stamp = now()
    # A first run's lines are all new: they go straight into the table, without the comparison below.
    with connection.cursor() as cursor:
        cursor.execute(  # one array parameter: Django's __in would send one placeholder per enrollment
            "SELECT NOT EXISTS (SELECT 1 FROM billing_claimline WHERE clinic_id = %s AND enrollment_id = ANY(%s))",
            [clinic.pk, ids],
        )
        first_run = cursor.fetchone()[0]
    into = INTO_LINES if first_run else INTO_DERIVED
    with connection.cursor() as cursor:
        # A large clinic's run sorts 360,000 sessions, which the default 4 MB spills to disk; compiling these
        # statements (JIT) took seconds longer than running them; and merge joins sorted 360,000 lines to join
        # them to a few dozen fees (the planner misjudges the sizes of the statement's parts), where hashing
        # the small side is right.
        cursor.execute("SET LOCAL work_mem = '128MB'; SET LOCAL jit = off; SET LOCAL enable_mergejoin = off")
        if not first_run:
            cursor.execute(DERIVED_TABLE_SQL)
            cursor.execute("TRUNCATE claim_derived")  # an earlier run in this transaction
    derived = 0
    rehab = [enrollment.pk for enrollment in enrollments if enrollment.program.program_type in REHAB]
    if rehab:
        derived += rehab_lines_insert(clinic, rehab, not_eligible, into=into, stamp=stamp)
    mdpp = [enrollment for enrollment in enrollments if enrollment.program.program_type == "mdpp"]
    if mdpp:
        ctx = Context(clinic, mdpp, not_eligible)
        derived += derived_insert([values for e in mdpp for values in lines_of(ctx, e)], into=into, stamp=stamp)
    if first_run:
        with connection.cursor() as cursor:
            cursor.execute(RESET_SETTINGS)
        result.created = derived
        return result
    params = {"clinic": clinic.pk, "ids": ids, "stamp": stamp}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE claim_derived")  # its size, for the plans below (temporary tables get no autovacuum)
        # Each statement compares whole sets of lines. A clinic's first run finds no lines yet, and with that
        # estimate PostgreSQL would scan the lines once per derived line; hashing the sets is right at any size.
        cursor.execute("SET LOCAL enable_nestloop = off")
        for outcome, statement in UPSERT_SQL.items():
            cursor.execute(statement, params)
            setattr(result, outcome, cursor.rowcount)
        cursor.execute(UNCHANGED_SQL, params)
        result.unchanged = cursor.fetchone()[0]
        cursor.execute(RESET_SETTINGS)
    return result


# MDPP lines are sent as one JSON document per CHUNK lines: Django's bulk_create sends one placeholder per
# value, and json.dumps is C.
CHUNK = 20_000


def derived_insert(rows: list[dict], *, into: str, stamp) -> int:
    recordset = ", ".join(f"{name} {COLUMN_TYPES[name]}" for name in INSERTED)
    statement = (
        f"INSERT INTO {into} SELECT {', '.join(f't.{name}' for name in INSERTED)}, %(stamp)s "  # noqa: S608 (ours)
        f"FROM json_to_recordset(%(rows)s::json) AS t({recordset})"
    )
    for start in range(0, len(rows), CHUNK):
        with connection.cursor() as cursor:
            # dates and Decimals as strings, which PostgreSQL reads as date and numeric
            cursor.execute(statement, {"rows": json.dumps(rows[start : start + CHUNK], default=str), "stamp": stamp})
    return len(rows)


def request_derivation(*, clinic_id: int, enrollment_ids) -> None:
    """After the current transaction commits, ask the worker to re-derive these enrollments' lines. A broker
    outage only delays them: the nightly run derives everything again."""
    from billing import tasks

    ids = sorted(set(enrollment_ids))

    def send():
        try:
            tasks.derive_claim_lines.delay(clinic_id, ids)
        except Exception as error:  # noqa: BLE001 (any broker failure: the nightly run catches up)
            logger.warning("could not reach the worker; the nightly run derives the lines", extra={"error": str(error)})

    transaction.on_commit(send)
