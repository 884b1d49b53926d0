"""What a packet holds, read once for its PDF and its CSV (billing/packets/document.py).

A packet is what a medical reviewer asks for, so it holds structured facts only: dates, times, minutes,
monitoring, vitals, exercise, codes, signatures, weights. Free text typed by clinicians (session notes,
symptoms, rhythm notes, the plan's diagnosis narrative, goals and services, the referral's reason and
precautions, assessment notes, an eligibility override's reason) is left out for everyone, not only when
billing staff ask: the same request gives the same file whoever asked (a pending request is shared), the
file leaves the clinic (minimum necessary, 45 CFR 164.502(b)), and the chart keeps the notes for a clinician
to send when a reviewer asks for them.
"""

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from billing.models import ClaimLine, Coverage
from billing.rules import MissingRuleError, Rules
from clinic.models import Clinic, Enrollment, Membership, ProgramType, TreatmentPlan
from outcomes import computed
from outcomes.models import Assessment, Timepoint
from outcomes.selectors import assessment_results, observations_of
from referrals.eligibility import Eligibility, eligibility_or_unknown
from referrals.models import Referral
from scheduling.models import SessionLog

REHAB_TYPES = (ProgramType.CR, ProgramType.ICR, ProgramType.PR)
DPP_TYPES = (ProgramType.DPP, ProgramType.MDPP)
# The floor sheet may record how a DPP session was delivered (a `delivery_mode` on SessionLog); without it,
# every session was in person.
DELIVERY_LABELS = {"in_person": "In person", "distance": "Distance learning", "online": "Online"}
# PHQ-9's item 9 (thoughts of self-harm) is for same-day clinical follow-up; the total documents the
# psychosocial assessment a reviewer looks for.
LEFT_OUT_MEASURES = {computed.PHQ9_ITEM9}
SESSION_TYPES = {"C": "Core", "CM": "Core maintenance", "OM": "Ongoing maintenance"}


def staff_name(member: Membership | None) -> str:
    if member is None:
        return ""
    name = member.user.get_full_name() or member.user.email
    return f"{name} (NPI {member.npi})" if member.npi else name


@dataclass
class SessionRow:
    number: int
    day: datetime.date
    start: datetime.datetime | None
    end: datetime.datetime | None
    minutes: int | None
    attendance: str
    monitoring: str
    log: SessionLog
    weight: Decimal | None  # in the clinic's unit
    supervisor: str
    coach: str
    session_type: str = ""  # DPP: C, CM, OM, with MU- for a make-up
    delivery: str = ""
    weight_change: Decimal | None = None  # % from baseline, DPP
    lines: list[ClaimLine] = field(default_factory=list)

    @property
    def month(self) -> datetime.date:
        return self.day.replace(day=1)

    @property
    def codes(self) -> str:
        return " ".join(line.code + (f"-{'-'.join(line.modifiers)}" if line.modifiers else "") for line in self.lines)

    @property
    def line_status(self) -> str:
        return " ".join(line.get_status_display() for line in self.lines)

    @property
    def session_type_label(self) -> str:
        kind = self.session_type.removeprefix("MU-")
        label = SESSION_TYPES.get(kind, kind)
        return f"Make-up ({label.lower()})" if self.session_type.startswith("MU-") else label


@dataclass
class AssessmentBlock:
    assessment: Assessment
    results: list


@dataclass
class OutcomeRow:
    measure: str
    unit: str
    entry: str
    discharge: str


@dataclass
class Milestone:
    name: str
    reached_on: datetime.date | None
    loss: Decimal | None
    code: str
    lines: list[ClaimLine]


@dataclass
class Packet:
    clinic: Clinic
    enrollment: Enrollment
    period_start: datetime.date
    period_end: datetime.date
    coverages: list[Coverage]
    referral: Referral | None
    eligibility: Eligibility | None
    plans: list[TreatmentPlan]
    sessions: list[SessionRow]
    assessments: list[AssessmentBlock]
    lines: list[ClaimLine]
    weight_unit: str
    baseline: SessionRow | None = None
    milestones: list[Milestone] = field(default_factory=list)
    generated_at: datetime.datetime | None = None

    @property
    def patient(self):
        return self.enrollment.patient

    @property
    def program(self):
        return self.enrollment.program

    @property
    def is_dpp(self) -> bool:
        return self.program.program_type in DPP_TYPES

    @property
    def entry(self) -> Assessment | None:
        return next((b.assessment for b in self.assessments if b.assessment.timepoint == Timepoint.BASELINE), None)

    @property
    def discharge(self) -> Assessment | None:
        return next((b.assessment for b in self.assessments if b.assessment.timepoint == Timepoint.DISCHARGE), None)

    @property
    def outcomes(self) -> list[OutcomeRow]:
        """Each measure of the entry and discharge assessments on one row: entry value, discharge value."""
        rows: dict[str, OutcomeRow] = {}
        for block in self.assessments:
            for result in block.results:
                if result.measure.code in LEFT_OUT_MEASURES:
                    continue
                row = rows.setdefault(result.measure.name, OutcomeRow(result.measure.name, result.unit_label, "", ""))
                if block.assessment.timepoint == Timepoint.BASELINE:
                    row.entry = result.shown
                else:
                    row.discharge = result.shown
        return list(rows.values())

    @property
    def line_counts(self) -> dict[str, int]:
        counts = defaultdict(int)
        for line in self.lines:
            counts[line.get_status_display()] += 1
        return dict(counts)


def _local_day(moment: datetime.datetime | None, tz) -> datetime.date | None:
    return moment.astimezone(tz).date() if moment else None


def _monitoring(log: SessionLog, program_type: str) -> str:
    if program_type in (ProgramType.CR, ProgramType.ICR):
        return "Continuous ECG" if log.ecg_monitored else "No continuous ECG"
    if program_type == ProgramType.PR:
        return "Continuous oximetry" if log.continuous_oximetry else "No continuous oximetry"
    return ""


def _delivery(log: SessionLog) -> str:
    mode = getattr(log, "delivery_mode", "") or "in_person"
    display = getattr(log, "get_delivery_mode_display", None)
    return DELIVERY_LABELS.get(mode) or (display() if display else mode)


def session_type(day: datetime.date, first_day: datetime.date, makeup: bool) -> str:
    """The DPRP session type: core in months 1–6, core maintenance 7–12, ongoing after (domain reference 1.3)."""
    months = relativedelta(day, first_day)
    month = months.years * 12 + months.months + 1
    kind = "C" if month <= 6 else "CM" if month <= 12 else "OM"
    return f"MU-{kind}" if makeup else kind


def _sessions(clinic: Clinic, enrollment: Enrollment, weight_unit: str) -> list[SessionRow]:
    """Every attended session of the enrollment, numbered from the first (numbers count the whole episode)."""
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    logs = (
        SessionLog.objects.filter(clinic=clinic, enrollment=enrollment, attendance__in=SessionLog.ATTENDED)
        .select_related("booking", "occurrence__supervising_practitioner__user", "occurrence__coach__user")
        .order_by("occurrence__starts_at", "id")
    )
    program_type = enrollment.program.program_type
    rows = []
    for number, log in enumerate(logs, start=1):
        start, end = log.started_at, log.ended_at
        minutes = int((end - start).total_seconds() // 60) if start and end else None
        weight = None
        if log.weight_kg is not None:
            weight = computed.from_measure_unit(log.weight_kg, "kg", weight_unit, 1)
        occurrence = log.occurrence
        rows.append(
            SessionRow(
                number=number, day=_local_day(occurrence.starts_at, tz),
                start=start and start.astimezone(tz), end=end and end.astimezone(tz), minutes=minutes,
                attendance=log.get_attendance_display(), monitoring=_monitoring(log, program_type), log=log,
                weight=weight, supervisor=staff_name(occurrence.supervising_practitioner),
                coach=staff_name(occurrence.coach),
            )
        )  # fmt: skip
    return rows


def _dpp_details(rows: list[SessionRow], rules: Rules) -> tuple[SessionRow | None, list[Milestone]]:
    """Session types, delivery and weight change from the baseline (the weight at the first session), and the
    milestones: 5 % and 9 % loss in months 1–12, 5 % kept in months 7–12 (the MDPP rule rows' thresholds)."""
    if not rows:
        return None, []
    first_day = rows[0].day
    baseline = rows[0] if rows[0].weight is not None else None
    for row in rows:
        makeup = row.log.attendance == SessionLog.Attendance.MAKEUP or row.log.booking.is_makeup
        row.session_type = session_type(row.day, first_day, makeup)
        row.delivery = _delivery(row.log)
        if baseline is not None and row.log.weight_kg is not None:
            start, now = baseline.log.weight_kg, row.log.weight_kg  # in kg, as stored: no rounding of pounds
            row.weight_change = ((now - start) * 100 / start).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    try:
        wl5, wl9 = rules.decimal("mdpp", "wl5_percent", first_day), rules.decimal("mdpp", "wl9_percent", first_day)
        codes = {key: rules.get("mdpp", key, first_day, "") for key in ("code_wl5", "code_wl9", "code_wl5_maintained")}
    except MissingRuleError:
        return baseline, []
    within_year = [row for row in rows if row.session_type.removeprefix("MU-") in ("C", "CM")]

    def first_at(threshold, rows_of):
        return next((row for row in rows_of if row.weight_change is not None and -row.weight_change >= threshold), None)

    kept = [row for row in within_year if row.session_type.endswith("CM") and first_at(wl5, [row])]
    plural = "" if len(kept) == 1 else "s"
    milestones = [
        (f"{wl5} % weight loss", first_at(wl5, within_year), codes["code_wl5"]),
        (f"{wl9} % weight loss", first_at(wl9, within_year), codes["code_wl9"]),
        (f"{wl5} % loss kept in months 7–12 ({len(kept)} session{plural})", kept[0] if kept else None,
         codes["code_wl5_maintained"]),
    ]  # fmt: skip
    milestones = [
        Milestone(name, row and row.day, row and -row.weight_change, code, []) for name, row, code in milestones
    ]
    return baseline, milestones


def _assessments(clinic: Clinic, enrollment: Enrollment) -> list[AssessmentBlock]:
    """The outcome assessments at entry and discharge, each with its values in the clinic's units."""
    assessments = list(
        Assessment.objects.filter(
            clinic=clinic, enrollment=enrollment, timepoint__in=[Timepoint.BASELINE, Timepoint.DISCHARGE]
        )
        .select_related("battery", "patient", "performed_by__user")
        .prefetch_related("battery__items")
        .order_by("assessed_on", "pk")
    )
    observations = observations_of(clinic=clinic, assessment_ids=[a.pk for a in assessments])
    return [
        AssessmentBlock(a, assessment_results(clinic=clinic, assessment=a, observations=observations.get(a.pk, [])))
        for a in assessments
    ]


def packet_content(
    *, clinic: Clinic, enrollment: Enrollment, period_start: datetime.date, period_end: datetime.date,
    rules: Rules | None = None,
) -> Packet:  # fmt: skip
    """Everything one packet shows. Sessions and claim lines are those of the period; the plans, the referral,
    the eligibility evidence and the entry and discharge assessments are the enrollment's."""
    enrollment = Enrollment.objects.select_related("patient", "program").get(clinic=clinic, pk=enrollment.pk)
    weight_unit = computed.clinic_unit("kg", clinic)
    referral = Referral.objects.filter(clinic=clinic, enrollment=enrollment).select_related(
        "referring_provider", "program", "enrollment"
    ).first()  # fmt: skip
    every_session = _sessions(clinic, enrollment, weight_unit)
    lines = list(
        ClaimLine.objects.filter(
            clinic=clinic, enrollment=enrollment, date_of_service__range=(period_start, period_end)
        )
        .exclude(status=ClaimLine.Status.VOID)
        .select_related("payer", "batch")
        .order_by("date_of_service", "id")
    )
    by_session = defaultdict(list)
    for line in lines:
        if line.session_log_id:
            by_session[line.session_log_id].append(line)
    for row in every_session:
        row.lines = by_session.get(row.log.pk, [])
    packet = Packet(
        clinic=clinic, enrollment=enrollment, period_start=period_start, period_end=period_end,
        coverages=list(Coverage.objects.filter(clinic=clinic, patient_id=enrollment.patient_id)
                       .select_related("payer").order_by("priority", "-starts_on", "id")),
        referral=referral, eligibility=eligibility_or_unknown(referral) if referral else None,
        plans=list(TreatmentPlan.objects.filter(clinic=clinic, enrollment=enrollment)
                   .select_related("clinic", "drafted_by__user").order_by("version")),
        sessions=[row for row in every_session if period_start <= row.day <= period_end],
        assessments=_assessments(clinic, enrollment), lines=lines, weight_unit=computed.unit_label(weight_unit),
        generated_at=timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(clinic.timezone)),
    )  # fmt: skip
    if packet.is_dpp:
        packet.baseline, packet.milestones = _dpp_details(every_session, rules or Rules())
        for milestone in packet.milestones:
            milestone.lines = [line for line in lines if line.code == milestone.code]
    return packet
