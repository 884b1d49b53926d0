"""The CDC DPRP evaluation file of a DPP program: one row per attended session per participant, every 6 months.

Columns and codes come from settings (DPRP_COLUMNS, DPRP_CODES): the 2018 template order is confirmed, the
places of A1C, COHORTID and COACHID in the 2024 template are not, nor are the ENROLL, PAYER and SEX code
lists (domain reference 1.4). Participant ids are random (DprpParticipant), never a name or an MRN.

A request is a DprpExport row written before its task is queued (a beat job picks up what a broker outage
left). The task streams the sessions from a server-side cursor into a temporary file and then into the
clinic's storage, never holding the result whole, and writes the validation report beside it: every value
missing or out of range, written as the format's "not recorded" (999) or left blank. The file is downloaded
once the report is empty or someone accepted it (who and when is kept).
"""

import csv
import datetime
import io
import logging
import re
import secrets
import tempfile
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.http import FileResponse, Http404
from django.utils import timezone

from billing.models import Coverage, DprpExport, DprpParticipant
from clinic import audit
from clinic.models import AuditEntry, Clinic, Enrollment, Membership, Program, ProgramType
from referrals.eligibility import load_thresholds_on
from scheduling.models import SessionLog

logger = logging.getLogger(__name__)

DPRP_PROGRAMS = (ProgramType.DPP, ProgramType.MDPP)
KNOWN_COLUMNS = {
    "ORGCODE", "PARTICIP", "ENROLL", "PAYER", "STATE", "GLUCTEST", "GDM", "RISKTEST", "AGE", "ETHNIC", "AIAN",
    "ASIAN", "BLACK", "NHOPI", "WHITE", "SEX", "HEIGHT", "EDU", "DMODE", "SESSID", "SESSTYPE", "DATE", "WEIGHT",
    "PA", "A1C", "COHORTID", "COACHID",
}  # fmt: skip
UNCONFIRMED_COLUMNS = ("A1C", "COHORTID", "COACHID")
# MedFit records no ethnicity, race or education: the file says "not reported" for them.
NOT_RECORDED_COLUMNS = ("ETHNIC", "AIAN", "ASIAN", "BLACK", "NHOPI", "WHITE", "EDU")
# Ranges of the data dictionary (domain reference 1.4).
AGE_RANGE = (18, 125)
HEIGHT_RANGE_IN = (30, 98)
WEIGHT_RANGE_LB = (Decimal(70), Decimal(997))
A1C_RANGE = (Decimal("2.5"), Decimal(18))
FIRST_A1C_RANGE = (Decimal("5.7"), Decimal("6.4"))
KG_PER_LB = Decimal("0.45359237")
CM_PER_IN = Decimal("2.54")
ISSUES_KEPT = 500  # issues stored for the report; the count covers them all
PROGRESS_EVERY = 5_000
CHUNK = 2_000
ORG_CODE = re.compile(r"^[A-Za-z0-9-]{1,25}$")


def columns() -> list[str]:
    unknown = [name for name in settings.DPRP_COLUMNS if name not in KNOWN_COLUMNS]
    if unknown:
        raise ValidationError(f"settings.DPRP_COLUMNS names columns the export does not know: {', '.join(unknown)}.")
    return list(settings.DPRP_COLUMNS)


def codes() -> dict:
    return settings.DPRP_CODES


@dataclass
class Participant:
    """What every row of one enrollment repeats, read once per export."""

    participant_id: str
    patient_id: int
    enroll: str
    payer: str
    state: str
    gluctest: str
    gdm: str
    risktest: str
    age: int | None
    sex: str
    height_in: int | None
    a1c: Decimal | None
    core_ends: datetime.date | None  # the first session + 6 months: core (C) before, core maintenance (CM) after
    maintenance_ends: datetime.date | None  # + 12 months: ongoing maintenance (OM) from then
    first_session_id: int | None
    cohort_id: str


@dataclass
class Issue:
    row: int
    column: str
    value: str
    message: str
    participant: str
    date: str
    session_log: int
    occurrence: int
    patient: int

    def as_json(self) -> dict:
        return self.__dict__.copy()


# --- Participant ids --------------------------------------------------------------------------------------------


def participant_ids_ensure(*, clinic: Clinic, enrollment_ids) -> dict[int, str]:
    """Each enrollment's participant id, made (random, 12 hex digits) for those that have none yet. Two exports
    at once, or a random id already taken, lose their insert to the unique constraints and read the winner."""
    wanted = set(enrollment_ids)
    known = {}
    for _ in range(5):
        known = dict(
            DprpParticipant.objects.filter(clinic=clinic, enrollment_id__in=wanted).values_list(
                "enrollment_id", "participant_id"
            )
        )
        missing = wanted - set(known)
        if not missing:
            return known
        DprpParticipant.objects.bulk_create(
            [
                DprpParticipant(clinic=clinic, enrollment_id=pk, participant_id=secrets.token_hex(6).upper())
                for pk in sorted(missing)
            ],
            ignore_conflicts=True,
        )
    raise RuntimeError("could not make unique DPRP participant ids")


# --- Reading ----------------------------------------------------------------------------------------------------


def _period_bounds(clinic: Clinic, start: datetime.date, end: datetime.date):
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    return (
        datetime.datetime.combine(start, datetime.time(), tzinfo=tz),
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), tzinfo=tz),
    )


def sessions_in_period(export: DprpExport):
    clinic = export.clinic
    since, before = _period_bounds(clinic, export.period_start, export.period_end)
    return SessionLog.objects.filter(
        clinic=clinic, enrollment__program_id=export.program_id, attendance__in=SessionLog.ATTENDED,
        occurrence__starts_at__gte=since, occurrence__starts_at__lt=before,
    )  # fmt: skip


SESSION_FIELDS = ["id", "enrollment_id", "patient_id", "occurrence_id", "occurrence__starts_at",
                  "occurrence__coach_id", "attendance", "session_number", "weight_kg", "activity_minutes",
                  "delivery_mode"]  # fmt: skip


def _yes_no(value: bool) -> str:
    return codes()["yes"] if value else codes()["no"]


def _in(value, bounds) -> bool:
    return bounds[0] <= value <= bounds[1]


def _first_coverage(coverages, day):
    active = [c for c in coverages if c.is_active_on(day)]
    return min(active, key=lambda c: (c.priority, c.pk)) if active else None


def participants_load(*, clinic: Clinic, enrollment_ids) -> dict[int, Participant]:
    """Everything a participant's rows repeat, in a fixed number of queries whatever their number."""
    ids = sorted(set(enrollment_ids))
    pids = participant_ids_ensure(clinic=clinic, enrollment_ids=ids)
    enrollments = list(
        Enrollment.objects.filter(clinic=clinic, pk__in=ids).select_related("patient", "referral").order_by("pk")
    )
    coverages = {}
    patient_ids = {e.patient_id for e in enrollments}
    for coverage in Coverage.objects.filter(clinic=clinic, patient_id__in=patient_ids).select_related("payer"):
        coverages.setdefault(coverage.patient_id, []).append(coverage)
    firsts = {
        row["enrollment_id"]: row
        for row in SessionLog.objects.filter(clinic=clinic, enrollment_id__in=ids, attendance__in=SessionLog.ATTENDED)
        .order_by("enrollment_id", "occurrence__starts_at", "id")
        .distinct("enrollment_id")
        .values("enrollment_id", "id", "occurrence__starts_at", "occurrence__template_id")
    }
    thresholds = load_thresholds_on({e.start_date for e in enrollments}) if enrollments else {}
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    code = codes()
    participants = {}
    for enrollment in enrollments:
        patient = enrollment.patient
        referral = getattr(enrollment, "referral", None)
        first = firsts.get(enrollment.pk)
        first_day = first["occurrence__starts_at"].astimezone(tz).date() if first else None
        coverage = _first_coverage(coverages.get(patient.pk, []), first_day or enrollment.start_date)
        payer = code["payer"].get(coverage.payer.kind, code["not_reported"]) if coverage else code["not_reported"]
        pid = pids[enrollment.pk]
        template_id = first["occurrence__template_id"] if first else None
        height = None
        if referral is not None and referral.height_cm is not None:
            height = int((Decimal(referral.height_cm) / CM_PER_IN).quantize(Decimal(1), ROUND_HALF_UP))
        limits = thresholds[enrollment.start_date]
        score = referral.risk_test_score if referral is not None else None
        participants[enrollment.pk] = Participant(
            participant_id=pid, patient_id=patient.pk,
            enroll=code["enroll_referral"] if referral is not None else code["not_reported"], payer=payer,
            state=patient.state.strip(),
            gluctest=_yes_no(referral is not None and _blood_test_in_range(referral, limits)),
            gdm=_yes_no(referral is not None and bool(referral.gestational_diabetes_history)),
            risktest=_yes_no(score is not None and score >= limits["dpp.min_risk_score"]),
            age=relativedelta(enrollment.start_date, patient.date_of_birth).years,
            sex=code["sex"].get(patient.sex, code["not_reported"]), height_in=height,
            a1c=referral.a1c_percent if referral is not None else None,
            core_ends=first_day + relativedelta(months=6) if first_day else None,
            maintenance_ends=first_day + relativedelta(months=12) if first_day else None,
            first_session_id=first["id"] if first else None,
            # A group's cohort is its class; someone seen on their own is a cohort of one (their own id).
            cohort_id=f"C{template_id}" if template_id else pid,
        )  # fmt: skip
    return participants


def _blood_test_in_range(referral, thresholds) -> bool:
    """Eligible by blood test: any one of A1C, fasting glucose or 2-h OGTT in CDC's prediabetes range (the
    referral's eligibility check judges the test's date)."""
    for value, key in ((referral.a1c_percent, "a1c"), (referral.fasting_glucose, "fpg"), (referral.ogtt_2h, "ogtt")):
        if value is not None and thresholds[f"dpp.{key}_min"] <= Decimal(value) <= thresholds[f"dpp.{key}_max"]:
            return True
    return False


# --- One row ----------------------------------------------------------------------------------------------------


def _date(day: datetime.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"  # m/d/yyyy, no zero padding (CDC's example row)


def _session_type(participant: Participant, day: datetime.date, attendance: str) -> str:
    if participant.core_ends is None or day < participant.core_ends:
        kind = "C"
    elif day < participant.maintenance_ends:
        kind = "CM"
    else:
        kind = "OM"
    return f"MU-{kind}" if attendance == SessionLog.Attendance.MAKEUP else kind


def row_values(participant: Participant, session: dict, *, org_code: str, tz) -> tuple[dict, list[tuple]]:
    """The row of one attended session (column -> text) and its problems as (column, value, message)."""
    code = codes()
    problems = []
    day = session["occurrence__starts_at"].astimezone(tz).date()
    values = {
        "ORGCODE": org_code, "PARTICIP": participant.participant_id, "ENROLL": participant.enroll,
        "PAYER": participant.payer, "GLUCTEST": participant.gluctest, "GDM": participant.gdm,
        "RISKTEST": participant.risktest, "SEX": participant.sex,
        "DMODE": code["dmode"][session["delivery_mode"]], "SESSTYPE": _session_type(participant, day,
        session["attendance"]), "DATE": _date(day), "COHORTID": participant.cohort_id,
    }  # fmt: skip
    for column in NOT_RECORDED_COLUMNS:
        values[column] = code["not_reported"]

    state = participant.state
    values["STATE"] = state.upper() if re.fullmatch(r"[A-Za-z]{2}", state) else ""
    if not values["STATE"]:
        problems.append(("STATE", state, f"State “{state}” is not a two-letter code: left blank." if state
                         else "State not recorded: left blank."))  # fmt: skip

    age = participant.age
    values["AGE"] = str(age) if age is not None and _in(age, AGE_RANGE) else ""
    if not values["AGE"]:
        problems.append(("AGE", str(age), f"Age {age} at enrollment is outside 18–125: left blank."))

    height = participant.height_in
    values["HEIGHT"] = str(height) if height is not None and _in(height, HEIGHT_RANGE_IN) else ""
    if height is None:
        problems.append(("HEIGHT", "", "Height not recorded on the referral: left blank."))
    elif not values["HEIGHT"]:
        problems.append(("HEIGHT", str(height), f"Height {height} in is outside 30–98 in: left blank."))

    number = session["session_number"]
    values["SESSID"] = str(number) if number else ""
    if not number:
        problems.append(("SESSID", "", "The session has no number on the floor sheet: left blank."))

    weight = session["weight_kg"]
    values["WEIGHT"] = code["number_not_recorded"]
    if weight is None:
        problems.append(("WEIGHT", "", f"Weight not recorded: written as {code['number_not_recorded']}."))
    else:
        pounds = (weight / KG_PER_LB).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if _in(pounds, WEIGHT_RANGE_LB):
            values["WEIGHT"] = str(pounds)
        else:
            problems.append(("WEIGHT", str(pounds), f"Weight {pounds} lb is outside 70–997 lb: written as "
                             f"{code['number_not_recorded']}."))  # fmt: skip

    minutes = session["activity_minutes"]
    values["PA"] = str(minutes) if minutes is not None else code["pa_not_recorded"]
    if minutes is None:
        problems.append(("PA", "", f"Activity minutes not recorded: written as {code['pa_not_recorded']}."))

    # The A1C MedFit has is the referral's (the enrollment's first): on the first session's row only.
    values["A1C"] = code["number_not_recorded"]
    a1c = participant.a1c
    if a1c is not None and session["id"] == participant.first_session_id:
        if _in(a1c, FIRST_A1C_RANGE):
            values["A1C"] = f"{a1c:.1f}"
        else:
            problems.append(("A1C", f"{a1c:.1f}", f"A first A1C of {a1c:.1f}% is outside 5.7–6.4%: written as "
                             f"{code['number_not_recorded']}."))  # fmt: skip

    coach = session["occurrence__coach_id"]
    values["COACHID"] = str(coach) if coach else ""
    if not coach:
        problems.append(("COACHID", "", "No coach recorded for the class: left blank."))
    return values, problems


# --- Writing ----------------------------------------------------------------------------------------------------


@dataclass
class Written:
    rows: int
    issues: list[dict]
    issue_count: int


def dprp_csv_write(export: DprpExport, out, progress=None) -> Written:
    """Write the file to the text stream `out`: the header, then a row per attended session, participant by
    participant and date by date, read from a server-side cursor in chunks. `progress(rows)` now and then."""
    clinic = export.clinic
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    names = export.columns
    sessions = sessions_in_period(export)
    participants = participants_load(
        clinic=clinic, enrollment_ids=sessions.values_list("enrollment_id", flat=True).distinct()
    )
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    rows, issues, issue_count = 0, [], 0
    stream = sessions.order_by("enrollment_id", "occurrence__starts_at", "id").values(*SESSION_FIELDS)
    for session in stream.iterator(chunk_size=CHUNK):
        participant = participants[session["enrollment_id"]]
        values, problems = row_values(participant, session, org_code=export.org_code, tz=tz)
        writer.writerow([values[name] for name in names])
        rows += 1
        issue_count += len(problems)
        for column, value, message in problems:
            if len(issues) < ISSUES_KEPT:
                issues.append(
                    Issue(
                        row=rows, column=column, value=value, message=message,
                        participant=participant.participant_id, date=values["DATE"], session_log=session["id"],
                        occurrence=session["occurrence_id"], patient=participant.patient_id,
                    ).as_json()
                )  # fmt: skip
        if progress and rows % PROGRESS_EVERY == 0:
            progress(rows)
    return Written(rows=rows, issues=issues, issue_count=issue_count)


# --- Services ---------------------------------------------------------------------------------------------------


def dprp_export_request(
    *, clinic: Clinic, actor: Membership, program: Program, org_code: str, period_start, period_end
) -> DprpExport:
    """The request row first, then the task (after commit): a dead broker leaves a pending row that
    `billing.tasks.run_pending_dprp_exports` (Celery beat) picks up."""
    from billing import tasks

    errors = {}
    if program.clinic_id != clinic.pk or program.program_type not in DPRP_PROGRAMS:
        errors["program"] = "Choose a CDC DPP or Medicare DPP program of this clinic."
    if not ORG_CODE.match(org_code or ""):
        errors["org_code"] = "The DPRP organization code is letters, digits and hyphens, at most 25."
    if period_start and period_end and period_end < period_start:
        errors["period_end"] = "The period cannot end before it starts."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        export = DprpExport.objects.create(
            clinic=clinic, program=program, org_code=org_code, period_start=period_start, period_end=period_end,
            columns=columns(), requested_by=actor,
        )  # fmt: skip
        transaction.on_commit(lambda: tasks.enqueue_dprp_export(clinic.pk, export.pk))
    return export


def dprp_export_run(*, export_id: int) -> DprpExport | None:
    """Write one pending export (the task's body; safe to run twice: a finished row is left alone, and a row
    another worker holds is skipped)."""
    with transaction.atomic():
        export = DprpExport.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
        if export is None or export.is_finished:
            return export
        export.status = DprpExport.Status.RUNNING
        export.save(update_fields=["status"])
    export = DprpExport.objects.select_related("clinic").get(pk=export.pk)
    try:
        total = sessions_in_period(export).count()
        DprpExport.objects.filter(pk=export.pk).update(rows_total=total)

        def progress(rows):
            DprpExport.objects.filter(pk=export.pk).update(rows_done=rows)

        with tempfile.TemporaryFile() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            # No transaction here: the progress updates must show while it runs. Outside one, Django declares
            # the server-side cursor WITH HOLD (PostgreSQL keeps the result on its side, not in this process).
            written = dprp_csv_write(export, text, progress)
            text.flush()
            raw.seek(0)
            export.file.save(export.filename, File(raw), save=False)
            text.detach()
        DprpExport.objects.filter(pk=export.pk).update(
            file=export.file.name, rows_done=written.rows, rows_total=written.rows, issues=written.issues,
            issue_count=written.issue_count, status=DprpExport.Status.READY, finished_at=timezone.now(),
        )  # fmt: skip
    except Exception:
        logger.exception("DPRP export %s failed", export.pk)
        DprpExport.objects.filter(pk=export.pk).update(
            status=DprpExport.Status.FAILED, error="The export could not be written.", finished_at=timezone.now()
        )
    export.refresh_from_db()
    return export


@transaction.atomic
def dprp_export_accept(*, clinic: Clinic, actor: Membership, export: DprpExport, request=None) -> DprpExport:
    """Accept the validation report as it is: the file keeps the 999s and blanks the report lists."""
    export = DprpExport.objects.select_for_update().get(clinic=clinic, pk=export.pk)
    if not export.needs_acceptance:
        raise ValidationError("Only a finished export with open issues can be accepted.")
    export.accepted_by, export.accepted_at = actor, timezone.now()
    export.save(update_fields=["accepted_by", "accepted_at"])
    audit.record_access(
        clinic=clinic, actor=actor.user, obj=export, request=request, event=AuditEntry.Event.UPDATE,
        detail=f"Accepted the DPRP validation report ({export.issue_count} issues) as it is",
    )  # fmt: skip
    return export


def dprp_export_download(*, clinic: Clinic, export: DprpExport, request) -> FileResponse:
    """The file, once its report is empty or accepted (else 404), with an access entry for the download."""
    if not export.downloadable:
        raise Http404
    audit.record_access(
        clinic=clinic, actor=request.user, obj=export, request=request, event=AuditEntry.Event.EXPORT,
        detail=f"Downloaded the DPRP file of {export.program} for {export.period_start} to {export.period_end} "
        f"({export.rows_done} rows)",
    )  # fmt: skip
    response = FileResponse(export.file.open("rb"), content_type="text/csv", as_attachment=True,
                            filename=export.filename)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response
