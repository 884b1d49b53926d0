"""Claim lines derived from attended sessions, per program's rules; never typed by hand.

`claim_lines_derive` reads a clinic's (or some enrollments') attended sessions, coverage, fee schedule, signed
treatment plans (clinic.treatment_plans' bulk `dates_of_service_covered`), medical-necessity notes and eligibility
(referrals.eligibility's bulk `Preloaded`) in a fixed number of queries (a referral whose condition does not
qualify on its date costs one more, to say when it will). It works out every line and each reason
it cannot be billed yet, and upserts: a line that is already there is updated in place, exported lines never
change, and a line no longer supported (a session marked absent after all) becomes "void". Running it twice
changes nothing the second time.

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
from django.db import connection, transaction
from django.db.models import Min
from django.utils.timezone import now

from billing.models import ClaimLine, Coverage, FeeScheduleEntry, MedicalNecessityNote
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
    """An attended SessionLog as derivation reads it."""

    id: int
    enrollment_id: int
    patient_id: int
    day: datetime.date
    minutes: int | None
    ecg_monitored: bool
    continuous_oximetry: bool
    exercised: bool
    weight_kg: Decimal | None
    coach_id: int | None
    supervisor_id: int | None
    staff_id: int | None
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


# The local day and the minutes are worked out by PostgreSQL: parsing three timestamps per session in Python was
# the largest part of reading a clinic's sessions.
SESSIONS_SQL = """
SELECT s.id, s.enrollment_id, s.patient_id, (o.starts_at AT TIME ZONE %(tz)s)::date,
       floor(extract(epoch FROM s.ended_at - s.started_at) / 60)::int, s.ecg_monitored, s.continuous_oximetry,
       coalesce(s.exercise_minutes, 0) <> 0 OR s.modality <> '', s.weight_kg, o.coach_id,
       o.supervising_practitioner_id, coalesce(o.staff_id, s.updated_by_id), s.delivery_mode
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


def _covered_days(clinic: Clinic, sessions: dict[int, list[Session]], programs: dict[int, str]) -> set:
    """The (enrollment id, date of service) pairs of CR, ICR and PR sessions that a signed treatment plan covers,
    from the ITP selector's bulk form (clinic/treatment_plans): one query for the whole run."""
    from clinic.treatment_plans.selectors import dates_of_service_covered

    pairs = {
        (enrollment_id, session.day)
        for enrollment_id, rows in sessions.items() if programs.get(enrollment_id) in REHAB
        for session in rows
    }  # fmt: skip
    return dates_of_service_covered(clinic=clinic, dates_of_service=pairs)


def _necessity_notes(clinic: Clinic, enrollment_ids) -> dict[int, list[MedicalNecessityNote]]:
    notes = defaultdict(list)
    rows = MedicalNecessityNote.objects.filter(clinic=clinic, enrollment_id__in=enrollment_ids).order_by("written_on")
    for note in rows.defer("text"):  # derivation needs the range and the date, never the clinical text
        notes[note.enrollment_id].append(note)
    return notes


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
    """What every line of a derivation run looks up: rules, coverage, fees, plans, NPIs."""

    def __init__(self, clinic, enrollments, sessions):
        patient_ids = {enrollment.patient_id for enrollment in enrollments}
        self.clinic = clinic
        self.rules = Rules()
        self.sessions = sessions
        self.coverages = coverages_of(clinic, patient_ids)
        self.fees = _fees(clinic)
        self._fee_found = {}  # (code, payer, day): most lines of a run share a handful
        self.covered_days = _covered_days(
            clinic, sessions, {enrollment.pk: enrollment.program.program_type for enrollment in enrollments}
        )
        self.npi = dict(Membership.objects.filter(clinic=clinic).values_list("pk", "npi"))
        self.mdpp_firsts = _first_mdpp_sessions(clinic, patient_ids)
        self.necessity_notes = _necessity_notes(clinic, [enrollment.pk for enrollment in enrollments])
        self.not_eligible = _not_eligible_enrollments(clinic, enrollments)

    def necessity_note(self, enrollment_id: int, number: int) -> MedicalNecessityNote | None:
        return next((note for note in self.necessity_notes.get(enrollment_id, ()) if note.covers(number)), None)

    def coverage_on(self, patient_id: int, day: datetime.date) -> Coverage | None:
        return next((c for c in self.coverages.get(patient_id, ()) if c.is_active_on(day)), None)

    def fee(self, code: str, payer_id: int | None, day: datetime.date) -> Decimal | None:
        key = (code, payer_id, day)
        if key not in self._fee_found:
            self._fee_found[key] = self._fee_in_force(code, payer_id, day)
        return self._fee_found[key]

    def _fee_in_force(self, code: str, payer_id: int | None, day: datetime.date) -> Decimal | None:
        in_force = [
            fee for fee in self.fees.get(code, ())
            if fee.effective_from <= day and (fee.effective_to is None or day <= fee.effective_to)
        ]  # fmt: skip
        own = [fee for fee in in_force if payer_id is not None and fee.payer_id == payer_id]
        anyone = [fee for fee in in_force if fee.payer_id is None]
        chosen = (own or anyone or [None])[0]
        return chosen.amount if chosen else None

    def itp_blocker(self, enrollment_id: int, program_type: str, day: datetime.date) -> dict | None:
        if (enrollment_id, day) in self.covered_days:
            return None
        # The plan's own rule (settings.ITP_REVIEW_DAYS) decides coverage; the rules table names the same window
        # for the message and the rules page, and tests/billing keeps the two equal.
        window = self.rules.int(program_type, "itp_window_days", day)
        return blocker("itp_missing", day=day.isoformat(), window=window)


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


def rehab_lines(ctx: Context, enrollment: Enrollment, common: list[dict]) -> list[dict]:
    """CR, ICR and PR: one line per attended session; session, daily and minute limits; the ITP's 30 days."""
    program = enrollment.program
    kind = program.program_type
    rules = ctx.rules
    lines = []
    number = 0
    by_day = defaultdict(list)
    for session in ctx.sessions.get(enrollment.pk, ()):
        by_day[session.day].append(session)
    for day, sessions in by_day.items():
        session_limit, kx_limit = rules.int(kind, "session_limit", day), rules.int(kind, "kx_limit", day)
        daily_limit = rules.int(kind, "daily_limit", day)
        one, two = rules.int(kind, "minutes_one", day), rules.int(kind, "minutes_two", day)
        itp = ctx.itp_blocker(enrollment.pk, kind, day)
        minutes_so_far = 0
        for k, session in enumerate(sessions, start=1):
            number += 1
            if kind == "icr":
                code = rules.get(kind, "code_exercise" if session.exercised else "code_no_exercise", day)
            else:
                monitored = session.ecg_monitored if kind == "cr" else session.continuous_oximetry
                code = rules.get(kind, "code_monitored" if monitored else "code_unmonitored", day)
            blockers, modifiers, note = [], [], ""
            if number > kx_limit:
                blockers.append(blocker("session_limit", number=number, limit=kx_limit))
            elif number > session_limit:
                modifiers = ["KX"]
                necessity = ctx.necessity_note(enrollment.pk, number)
                if necessity is None:
                    blockers.append(blocker("kx_note_missing", number=number))
                else:
                    note = KX_NOTE.format(day=necessity.written_on.isoformat(), first=necessity.first_session,
                                          last=necessity.last_session)  # fmt: skip
            if k > daily_limit:
                blockers.append(blocker("daily_limit", k=k, day=day.isoformat(), limit=daily_limit))
            if session.minutes is None:
                blockers.append(blocker("time_missing"))
            else:
                minutes_so_far += session.minutes
                required = one + (k - 1) * (two - one)  # 31, 91, 151, …: 60 more for each further session
                if minutes_so_far < required:
                    blockers.append(
                        blocker("duration_short", minutes=minutes_so_far, day=day.isoformat(), k=k, required=required)
                    )
            if itp:
                blockers.append(itp)
            if session.supervisor_id is None:
                blockers.append(blocker("supervisor_missing"))
            if kind == "icr" and not program.cms_approved_icr:
                blockers.append(blocker("icr_not_approved"))
            lines.append(
                _line(
                    ctx, enrollment, day=day, code=code, session_id=session.id, blockers=blockers, common=common,
                    modifiers=modifiers, note=note, rendering_provider_id=session.staff_id,
                    supervising_provider_id=session.supervisor_id,
                )
            )  # fmt: skip
    return lines


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
        if enrollment.program.program_type == "mdpp":
            return mdpp_lines(ctx, enrollment, common)
        return rehab_lines(ctx, enrollment, common)
    except MissingRuleError as error:
        logger.warning("billing rule missing", extra={"enrollment_id": enrollment.pk, "error": str(error)})
        return []


# --- The upsert -------------------------------------------------------------------------------------------

UPDATED_FIELDS = ["patient_id", "program_type", "date_of_service", "units", "modifiers", "diagnosis_codes",
                  "rendering_provider_id", "supervising_provider_id", "payer_id", "expected_amount", "note", "status",
                  "blockers"]  # fmt: skip


EXISTING_FIELDS = ["id", "enrollment_id", "session_log_id", "code", *UPDATED_FIELDS]


def _key(values: dict) -> tuple:
    return (values["enrollment_id"], values["session_log_id"], values["code"])


def _locked(row: dict) -> bool:
    """Exported lines never change (ClaimLine.is_locked, on a row read as values)."""
    return row["status"] == ClaimLine.Status.EXPORTED


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
    ids = [enrollment.pk for enrollment in enrollments]
    ctx = Context(clinic, enrollments, _sessions(clinic, ids))
    # Plain rows, not model instances: a clinic's re-derivation reads hundreds of thousands of lines.
    existing = {
        _key(row): row
        for row in ClaimLine.objects.filter(clinic=clinic, enrollment_id__in=ids).values(*EXISTING_FIELDS)
    }
    exported_sessions = {
        row["session_log_id"] for row in existing.values() if _locked(row) and row["session_log_id"] is not None
    }
    to_create, to_update = [], []
    for enrollment in enrollments:
        for values in lines_of(ctx, enrollment):
            row = existing.pop(_key(values), None)
            if row is None:
                if values["session_log_id"] not in exported_sessions:  # else billed already, under its code then
                    to_create.append(values)
                continue
            if _locked(row):
                continue
            if any(row[field] != values[field] for field in UPDATED_FIELDS):
                to_update.append({**values, "id": row["id"]})
            else:
                result.unchanged += 1
    for row in existing.values():
        if row["status"] not in (ClaimLine.Status.EXPORTED, ClaimLine.Status.VOID):
            to_update.append({**row, "status": ClaimLine.Status.VOID, "blockers": []})
            result.voided += 1
    stamp = now()
    lines_insert(clinic, to_create, stamp)
    lines_update(clinic, to_update, stamp)
    result.created = len(to_create)
    result.updated = len(to_update) - result.voided
    return result


# Lines are written with one statement per CHUNK rows whose parameter is the rows as one JSON document
# (INSERT … SELECT FROM json_to_recordset, UPDATE … FROM json_to_recordset): Django's bulk_create and bulk_update
# send one placeholder per value, and quoting 360,000 lines × 19 values took longer than computing them; json.dumps
# is C. (COPY is not allowed under row-level security.)
CHUNK = 20_000
COLUMN_TYPES = {
    "id": "bigint", "clinic_id": "bigint", "enrollment_id": "bigint", "session_log_id": "bigint",
    "patient_id": "bigint", "program_type": "text", "date_of_service": "date", "code": "text", "units": "integer",
    "modifiers": "varchar(2)[]", "diagnosis_codes": "varchar(8)[]", "rendering_provider_id": "bigint",
    "supervising_provider_id": "bigint", "payer_id": "bigint", "expected_amount": "numeric", "note": "text",
    "status": "text", "blockers": "jsonb",
}  # fmt: skip
INSERTED = ["clinic_id", "enrollment_id", "session_log_id", "code", *UPDATED_FIELDS]


def _recordset(names: list[str]) -> str:
    return f"json_to_recordset(%(rows)s::json) AS t({', '.join(f'{name} {COLUMN_TYPES[name]}' for name in names)})"


def _json(rows: list[dict]) -> str:
    return json.dumps(rows, default=str)  # dates and Decimals as strings, which PostgreSQL reads as date and numeric


def lines_insert(clinic: Clinic, rows: list[dict], stamp) -> None:
    names = ", ".join(INSERTED)
    statement = (
        f"INSERT INTO billing_claimline ({names}, derived_at) "  # noqa: S608 (the names are ours)
        f"SELECT {', '.join(f't.{name}' for name in INSERTED)}, %(stamp)s FROM {_recordset(INSERTED)}"
    )
    for start in range(0, len(rows), CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(statement, {"rows": _json(rows[start : start + CHUNK]), "stamp": stamp})


def lines_update(clinic: Clinic, rows: list[dict], stamp) -> None:
    assignments = ", ".join(f"{name} = t.{name}" for name in UPDATED_FIELDS)
    statement = (
        f"UPDATE billing_claimline AS l SET {assignments}, derived_at = %(stamp)s "  # noqa: S608
        f"FROM {_recordset(['id', *UPDATED_FIELDS])} WHERE l.id = t.id AND l.clinic_id = %(clinic)s"
    )
    for start in range(0, len(rows), CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(statement, {"rows": _json(rows[start : start + CHUNK]), "stamp": stamp, "clinic": clinic.pk})


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
