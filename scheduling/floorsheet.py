"""The floor sheet: reads (selectors) and writes (services) of the session log of a class.

A row of the floor sheet is one booking's `SessionLog`. Saving a row
- checks every value against its physiologic range (clear messages, in the clinic's weight unit),
- refuses a save made from an older copy of the row (`version`), so two people never overwrite each
  other silently,
- runs the safety rules effective at the session date (`SafetyRule` rows), opening a flag per rule that
  fires and resolving the open flags whose condition no longer holds,
- refuses exercise values while a pre-exercise hold is open (until it is overridden with a reason and
  the supervising practitioner's acknowledgment),
- writes every measured number as a coded `Observation` (replacing those of the earlier save),
- numbers the attended sessions of the enrollment and sets `Enrollment.first_session_at` once.

Values are stored in SI (kg), glucose in mg/dL. `actor` is the acting `Membership`: the session log,
the flags and the observations record a member of the clinic, not just a user.
"""

import copy
import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal

from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from clinic import events
from clinic.compiled import AnyOf, CompiledQuery, columns_of, loaded, loaded_row, paths_of
from clinic.models import (
    AuditEntry,
    Clinic,
    Enrollment,
    Measure,
    Membership,
    Observation,
    Patient,
    PrescriptionComponent,
    Program,
    ProgramType,
    User,
)
from clinic.selectors import full_name_or_email, patients_visible_to
from referrals.selectors import medicare_dpp_warnings_at_first_session
from scheduling.models import Booking, DeliveryMode, Occurrence, SafetyFlag, SafetyRule, SessionLog

KG_PER_LB = Decimal("0.45359237")

PRE_FIELDS = ["pre_hr", "pre_sbp", "pre_dbp", "pre_spo2", "pre_glucose", "weight_kg", "symptoms"]
EXERCISE_FIELDS = [
    "modality", "exercise_minutes", "workload_watts", "speed_mph", "grade_percent", "mets", "load_kg",
    "peak_hr", "peak_sbp", "peak_dbp", "rpe",
]  # fmt: skip
POST_FIELDS = ["post_hr", "post_sbp", "post_dbp", "post_spo2"]
MONITORING_FIELDS = ["ecg_monitored", "rhythm_note", "continuous_oximetry", "o2_flow_lpm", "activity_minutes"]
# Every field a row (or the API) may set; `rpe_scale` goes with `rpe`.
FIELDS = [
    "attendance", *PRE_FIELDS, *EXERCISE_FIELDS, "rpe_scale", *POST_FIELDS, *MONITORING_FIELDS,
    "started_at", "ended_at", "notes", "delivery_mode",
]  # fmt: skip
# What billing may read: attendance facts, times and monitoring, no clinical notes.
ATTENDANCE_FIELDS = [
    "attendance", "session_number", "exercise_minutes", "ecg_monitored", "continuous_oximetry", "started_at",
    "ended_at", "delivery_mode",
]  # fmt: skip
WORKLOAD_FIELDS = ["workload_watts", "speed_mph", "mets", "load_kg"]
DIABETES_PROGRAMS = {ProgramType.DPP, ProgramType.MDPP}
ECG_PROGRAMS = {ProgramType.CR, ProgramType.ICR}
OXIMETRY_PROGRAMS = {ProgramType.PR}

# The physiologic range of a measured field is its clinic.Measure row's min and max (reference data
# loaded by migration, shared by all clinics): one place for it. Here only how a message names it.
# field: (label, unit as written on the sheet)
MEASURED_LABELS = {
    "pre_hr": ("Resting heart rate", "bpm"),
    "peak_hr": ("Peak heart rate", "bpm"),
    "post_hr": ("Heart rate after exercise", "bpm"),
    "pre_sbp": ("Resting systolic BP", "mmHg"),
    "peak_sbp": ("Peak systolic BP", "mmHg"),
    "post_sbp": ("Systolic BP after exercise", "mmHg"),
    "pre_dbp": ("Resting diastolic BP", "mmHg"),
    "peak_dbp": ("Peak diastolic BP", "mmHg"),
    "post_dbp": ("Diastolic BP after exercise", "mmHg"),
    "pre_spo2": ("Resting SpO2", "%"),
    "post_spo2": ("SpO2 after exercise", "%"),
    "pre_glucose": ("Glucose", "mg/dL"),
    "weight_kg": ("Weight", "kg"),
    "mets": ("METs", "METs"),
    "workload_watts": ("Workload", "W"),
    "activity_minutes": ("Activity minutes since last session", "min"),
}
# Fields with no measure (not stored as observations): their plausible range.
# field: (low, high, label, unit)
UNMEASURED_RANGES = {
    "exercise_minutes": (0, 240, "Exercise minutes", "min"),
    "speed_mph": (0, 15, "Speed", "mph"),
    "grade_percent": (-5, 30, "Grade", "%"),
    "load_kg": (0, 500, "Load", "kg"),
    "o2_flow_lpm": (0, 15, "O2 flow", "L/min"),
}
BP_PAIRS = [("pre_sbp", "pre_dbp"), ("peak_sbp", "peak_dbp"), ("post_sbp", "post_dbp")]

# field: (measure code, phase); RPE and the weight are handled alongside.
OBSERVED = {
    "pre_hr": ("8867-4", "pre"),
    "peak_hr": ("8867-4", "peak"),
    "post_hr": ("8867-4", "post"),
    "pre_sbp": ("8480-6", "pre"),
    "peak_sbp": ("8480-6", "peak"),
    "post_sbp": ("8480-6", "post"),
    "pre_dbp": ("8462-4", "pre"),
    "peak_dbp": ("8462-4", "peak"),
    "post_dbp": ("8462-4", "post"),
    "pre_spo2": ("59408-5", "pre"),
    "post_spo2": ("59408-5", "post"),
    "pre_glucose": ("2339-0", "pre"),
    "weight_kg": ("29463-7", "pre"),
    "mets": ("session-mets", "peak"),
    "workload_watts": ("session-watts", "peak"),
    "activity_minutes": ("activity-minutes", ""),
}
RPE_MEASURES = {SessionLog.RpeScale.BORG: "rpe-borg", SessionLog.RpeScale.CR10: "rpe-cr10"}
FLOOR_MEASURE_CODES = {code for code, _ in OBSERVED.values()} | set(RPE_MEASURES.values())

COMPARE = {
    SafetyRule.Comparator.GT: lambda value, threshold: value > threshold,
    SafetyRule.Comparator.GTE: lambda value, threshold: value >= threshold,
    SafetyRule.Comparator.LT: lambda value, threshold: value < threshold,
    SafetyRule.Comparator.LTE: lambda value, threshold: value <= threshold,
}


class EditConflict(Exception):
    """The row was saved by someone else since it was opened: `current` holds their values."""

    def __init__(self, current: SessionLog | None):
        super().__init__("Someone saved this row after you opened it. Their values are shown; nothing was overwritten.")
        self.current = current


def register_audited_models():
    auditlog.register(SessionLog, exclude_fields=["version", "updated_at"])
    auditlog.register(SafetyFlag)


# --- Units ---------------------------------------------------------------------------------------


def weight_to_kg(value: Decimal | None, unit: str) -> Decimal | None:
    if value is None:
        return None
    kg = Decimal(value) * KG_PER_LB if unit == Clinic.WeightUnit.LB else Decimal(value)
    return kg.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def weight_from_kg(value: Decimal | None, unit: str) -> Decimal | None:
    """The stored kilograms in the clinic's unit, to 0.1 (3-decimal kg round-trips any 0.1 lb exactly)."""
    if value is None:
        return None
    shown = Decimal(value) / KG_PER_LB if unit == Clinic.WeightUnit.LB else Decimal(value)
    return shown.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- Selectors -----------------------------------------------------------------------------------


# The class with its program and supervising practitioner, every column of each as select_related reads them
# (the saves use the same instance), compiled once (clinic.compiled): through the ORM, compiling the four
# tables' query was most of the 1.5 ms of CPU it took (issue 11). Values: clinic, class.
_OCCURRENCE_PARTS = [
    (Occurrence, "", columns_of(Occurrence)), (Program, "program__", columns_of(Program)),
    (Membership, "supervising_practitioner__", columns_of(Membership)),
    (User, "supervising_practitioner__user__", columns_of(User)),
]  # fmt: skip
OCCURRENCE_WITH_STAFF = CompiledQuery(
    lambda clinic_id, occurrence_id: Occurrence.objects.filter(clinic_id=clinic_id, pk=occurrence_id).values_list(
        *paths_of(_OCCURRENCE_PARTS)
    ),
    clinic_id=-1, occurrence_id=-2,
)  # fmt: skip


def occurrence_get(*, clinic: Clinic, occurrence_id: int) -> Occurrence:
    """The class with what its floor-sheet pages show: the program and the supervising practitioner (who
    acknowledges overrides). No more joins: under row-level security PostgreSQL's planning time grows
    fast with each joined table (joining the staff and coach too took 2.6 ms to plan, 0.3 ms to run)."""
    rows = OCCURRENCE_WITH_STAFF.rows(clinic_id=clinic.pk, occurrence_id=occurrence_id)
    if not rows:
        raise Http404
    occurrence, program, supervisor, user = loaded_row(rows[0], _OCCURRENCE_PARTS)
    occurrence.program = program
    if supervisor is not None:  # none chosen: the LEFT JOIN's columns are NULL
        supervisor.user = user
    occurrence.supervising_practitioner = supervisor
    return occurrence


def flag_get(*, clinic: Clinic, flag_id: int) -> SafetyFlag:
    flag = (
        SafetyFlag.objects.select_related("rule", "session_log__occurrence", "session_log__booking")
        .filter(clinic=clinic, pk=flag_id)
        .first()
    )
    if flag is None:
        raise Http404
    return flag


def clinic_members(*, clinic: Clinic) -> QuerySet[Membership]:
    """Who can be chosen as supervising practitioner or coach: the clinic's active members."""
    return (
        Membership.objects.filter(clinic=clinic, is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


# Compiled once (clinic.compiled; issue 11). Values: clinic.
MEMBER_NAMES = CompiledQuery(
    lambda clinic_id: clinic_members(clinic=Clinic(pk=clinic_id)).values_list(
        "pk", "user__first_name", "user__last_name", "user__email"
    ),
    clinic_id=-1,
)


def clinic_member_names(*, clinic: Clinic) -> list[tuple[int, str]]:
    """The clinic's active members as (id, full name or else email), for a select: read as values, not as
    61 memberships and their users (the load test's clinic; about 1 ms of the floor sheet's CPU)."""
    return [(pk, full_name_or_email(*names)) for pk, *names in MEMBER_NAMES.rows(clinic_id=clinic.pk)]


AEROBIC_TARGET_COLUMNS = [
    "intensity_method", "intensity_low", "intensity_high", "speed_mph", "grade_percent", "target_hr_low",
    "target_hr_high", "minutes", "modality",
]  # fmt: skip
# Compiled once (clinic.compiled; issue 11): the ORM's compiling and instance building were most of its CPU.
# Values: clinic, the enrollments' ids (one array, so the SQL does not depend on how many).
AEROBIC_TARGETS = CompiledQuery(
    lambda clinic_id, enrollment_ids: PrescriptionComponent.objects.filter(
        AnyOf("prescription__enrollment_id", enrollment_ids),
        clinic_id=clinic_id,
        kind=PrescriptionComponent.Kind.AEROBIC,
        prescription__superseded_at__isnull=True,
    ).values_list("id", "prescription__enrollment_id", *AEROBIC_TARGET_COLUMNS),
    clinic_id=-1, enrollment_ids=[-2],
)  # fmt: skip


def current_aerobic_components(*, clinic: Clinic, enrollment_ids) -> dict[int, PrescriptionComponent]:
    """The aerobic component of each enrollment's current prescription, by enrollment id (one query), with the
    columns of its targets only (the row's header and the heart-rate ceiling) and its enrollment's id as
    `enrollment_id`: the prescription is not read."""
    components = {}
    for pk, enrollment_id, *targets in AEROBIC_TARGETS.rows(clinic_id=clinic.pk, enrollment_ids=list(enrollment_ids)):
        component = loaded(PrescriptionComponent, id=pk, **dict(zip(AEROBIC_TARGET_COLUMNS, targets, strict=True)))
        component.enrollment_id = enrollment_id
        components[enrollment_id] = component
    return components


@dataclasses.dataclass
class Row:
    booking: Booking
    log: SessionLog | None
    aerobic: PrescriptionComponent | None
    flags: list  # open and overridden flags of this session
    eligibility_warning: str = ""  # a Medicare DPP patient found not eligible at the first session

    @property
    def enrollment(self) -> Enrollment:
        return self.booking.enrollment

    @property
    def patient(self):
        return self.booking.patient

    @property
    def program_type(self) -> str:
        return self.booking.enrollment.program.program_type

    @property
    def open_holds(self) -> list:
        return [f for f in self.flags if f.status == SafetyFlag.Status.OPEN and f.severity == SafetyRule.Severity.HOLD]

    @property
    def open_flags(self) -> list:
        return [f for f in self.flags if f.status == SafetyFlag.Status.OPEN]

    @property
    def hr_ceiling(self) -> int | None:
        return effective_hr_ceiling(self.enrollment, self.aerobic)


def _booked(clinic: Clinic) -> QuerySet[Booking]:
    """The booked patients' bookings with what a row shows: patient, program, session log and its author."""
    return Booking.objects.filter(clinic=clinic, status=Booking.Status.BOOKED).select_related(
        "patient", "enrollment__program", "session_log__updated_by__user"
    )


# What the sheet's rows show of a booking (floorsheet_tags.floor_row, RowForm, the class's counts, the audit
# entry): the session log whole, of the booking, patient, enrollment, program and the log's author only these
# columns. Their every column took a quarter more CPU to read (4.2 against 3.3 ms for a class of 20). A column
# read later that is not here costs a query per row: add it here. (model, path from the booking, columns)
SHEET_ROW_PARTS = [
    (Booking, "", ["id", "occurrence_id", "enrollment_id", "patient_id", "is_makeup"]),
    (Patient, "patient__", ["id", "first_name", "last_name"]),
    (Enrollment, "enrollment__", ["id", "program_id", "beta_blocker", "supplemental_oxygen", "hr_ceiling",
                                  "has_diabetes", "precaution_notes"]),
    (Program, "enrollment__program__", ["id", "program_type"]),
    (SessionLog, "session_log__", columns_of(SessionLog)),
    (Membership, "session_log__updated_by__", ["id", "user_id"]),
    (User, "session_log__updated_by__user__", ["id", "first_name", "last_name"]),
]  # fmt: skip
# The rows' six tables, compiled once and read as values (clinic.compiled): Django compiling the query and
# building the instances through select_related was most of its CPU (issue 11). Values: clinic, class.
SHEET_ROWS = CompiledQuery(
    lambda clinic_id, occurrence_id: _booked(Clinic(pk=clinic_id))
    .filter(occurrence_id=occurrence_id)
    .order_by("patient__last_name", "patient__first_name", "pk")
    .values_list(*paths_of(SHEET_ROW_PARTS)),
    clinic_id=-1, occurrence_id=-2,
)  # fmt: skip


def floor_sheet_rows(*, clinic: Clinic, occurrence: Occurrence) -> list[Row]:
    """Every booked patient of the class with their session log, current aerobic prescription and flags.

    Three queries whatever the size of the class (bookings with their logs, flags, prescriptions), and
    one more for the Medicare DPP judgments when the class has Medicare DPP patients.
    """
    bookings = []
    for row in SHEET_ROWS.rows(clinic_id=clinic.pk, occurrence_id=occurrence.pk):
        booking, patient, enrollment, program, log, author, user = loaded_row(row, SHEET_ROW_PARTS)
        # Where select_related would put them.
        booking.occurrence = occurrence  # the row's form reads the class's date: no query per row
        booking.patient, booking.enrollment, enrollment.program = patient, enrollment, program
        Booking.session_log.related.set_cached_value(booking, log)  # None too: no query for a row without one
        if log is not None:
            log.updated_by = author
            if author is not None:
                author.user = user
        bookings.append(booking)
    return _rows(clinic, bookings)


def floor_row_get(*, clinic: Clinic, occurrence_id: int, booking_id: int, with_flags: bool = True) -> Row:
    """One booked patient's row, with its class as `row.booking.occurrence`. `with_flags=False` leaves
    `flags` empty (row_with_flags reads them). The class is read on its own, not joined to the booking:
    one query of both (13 tables) took 38 ms to plan under row-level security, two take under 2 ms."""
    occurrence = occurrence_get(clinic=clinic, occurrence_id=occurrence_id)
    booking = _booked(clinic).filter(occurrence=occurrence, pk=booking_id).first()
    if booking is None:
        raise Http404
    booking.occurrence = occurrence
    return _rows(clinic, [booking], with_flags=with_flags)[0]


def row_with_flags(*, clinic: Clinic, row: Row) -> Row:
    """The row with its open and overridden flags read (one query when it has a log)."""
    flags = _shown_flags(clinic=clinic, log_ids=[row.log.pk]).get(row.log.pk, []) if row.log else []
    return dataclasses.replace(row, flags=flags)


def _rows(clinic: Clinic, bookings: list[Booking], with_flags: bool = True) -> list[Row]:
    logs = {b.pk: getattr(b, "session_log", None) for b in bookings}
    log_ids = [log.pk for log in logs.values() if log is not None] if with_flags else []
    flags = _shown_flags(clinic=clinic, log_ids=log_ids)
    aerobic = current_aerobic_components(clinic=clinic, enrollment_ids={b.enrollment_id for b in bookings})
    mdpp = [b.enrollment_id for b in bookings if b.enrollment.program.program_type == ProgramType.MDPP]
    warnings = medicare_dpp_warnings_at_first_session(clinic=clinic, enrollment_ids=mdpp) if mdpp else {}
    return [
        Row(
            booking=b,
            log=logs[b.pk],
            aerobic=aerobic.get(b.enrollment_id),
            flags=flags.get(logs[b.pk].pk, []) if logs[b.pk] else [],
            eligibility_warning=warnings.get(b.enrollment_id, ""),
        )
        for b in bookings
    ]


def _shown_flags(*, clinic: Clinic, log_ids: list[int]) -> dict[int, list[SafetyFlag]]:
    """The open and overridden flags of these session logs, by log id (one query; none without logs)."""
    flags: dict[int, list] = {}
    if log_ids:
        shown = SafetyFlag.objects.filter(
            clinic=clinic,
            session_log_id__in=log_ids,
            status__in=[SafetyFlag.Status.OPEN, SafetyFlag.Status.OVERRIDDEN],
        ).select_related("rule", "acknowledged_by__user", "overridden_by__user")
        for flag in shown.order_by("created_at", "pk"):
            flags.setdefault(flag.session_log_id, []).append(flag)
    return flags


def row_after_save(*, clinic: Clinic, row: Row, log: SessionLog) -> Row:
    """The row as `session_log_save` left it, from the log it returned and the flags it left (instead of
    reading the row afresh: a save changes neither the booking, the precautions nor the prescription).
    A Medicare DPP row is judged again: the save may have recorded the first session."""
    warning = row.eligibility_warning
    if row.program_type == ProgramType.MDPP:
        enrollment_id = row.enrollment.pk
        warning = medicare_dpp_warnings_at_first_session(clinic=clinic, enrollment_ids=[enrollment_id]).get(
            enrollment_id, ""
        )
    flags = getattr(log, "shown_flags", None)
    if flags is None:
        flags = _shown_flags(clinic=clinic, log_ids=[log.pk]).get(log.pk, [])
    return dataclasses.replace(row, log=log, flags=flags, eligibility_warning=warning)


def floor_counts(*, clinic: Clinic, occurrence: Occurrence) -> dict:
    """Booked, checked in and on hold, for the sheet's summary (one query)."""
    open_hold = SafetyFlag.objects.filter(
        session_log__booking=OuterRef("pk"), status=SafetyFlag.Status.OPEN, severity=SafetyRule.Severity.HOLD
    )
    return Booking.objects.filter(clinic=clinic, occurrence=occurrence, status=Booking.Status.BOOKED).aggregate(
        booked=Count("pk"),
        checked_in=Count("pk", filter=Q(session_log__attendance__in=SessionLog.ATTENDED)),
        holds=Count("pk", filter=Exists(open_hold)),
    )


def session_logs_visible_to(membership: Membership) -> QuerySet[SessionLog]:
    """Session logs a member may read through the API: physicians only their own patients'."""
    logs = SessionLog.objects.filter(clinic_id=membership.clinic_id)
    from clinic.permissions import has_permission

    if not has_permission(membership, "patient.view_all"):
        logs = logs.filter(patient__in=patients_visible_to(membership))
    return logs.select_related("occurrence", "updated_by__user").order_by("-occurrence__starts_at", "pk")


# The chart's open flags with the columns it shows, compiled once (clinic.compiled; four tables' every column
# through the ORM cost more CPU than PostgreSQL took to answer; issue 11). Values: clinic, patient.
OPEN_FLAG_PARTS = [
    (SafetyFlag, "", ["id", "severity", "message"]),
    (SafetyRule, "rule__", ["id", "source"]),
    (SessionLog, "session_log__", ["id", "occurrence_id"]),
    (Occurrence, "session_log__occurrence__", ["id", "name", "starts_at"]),
]  # fmt: skip
OPEN_FLAGS_OF_PATIENT = CompiledQuery(
    lambda clinic_id, patient_id: SafetyFlag.objects.filter(
        clinic_id=clinic_id, patient_id=patient_id, status=SafetyFlag.Status.OPEN
    )
    .order_by("-created_at")
    .values_list(*paths_of(OPEN_FLAG_PARTS)),
    clinic_id=-1, patient_id=-2,
)  # fmt: skip


def open_flags_for_patient(*, clinic: Clinic, patient) -> list[SafetyFlag]:
    flags = []
    for row in OPEN_FLAGS_OF_PATIENT.rows(clinic_id=clinic.pk, patient_id=patient.pk):
        flag, rule, log, occurrence = loaded_row(row, OPEN_FLAG_PARTS)
        flag.rule, flag.session_log, log.occurrence = rule, log, occurrence
        flags.append(flag)
    return flags


# --- The "today" page ----------------------------------------------------------------------------

REASSESS_EVERY_SESSIONS = 12
REASSESS_AFTER_DAYS = 30


def today_occurrences(*, clinic: Clinic, membership: Membership, day: datetime.date, mine: bool):
    """The day's classes (the clinic's calendar day) with booked and checked-in counts."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), tz)
    occurrences = Occurrence.objects.filter(
        clinic=clinic, starts_at__gte=start, starts_at__lt=start + datetime.timedelta(days=1)
    )
    if mine:
        occurrences = occurrences.filter(
            Q(staff=membership) | Q(supervising_practitioner=membership) | Q(coach=membership)
        )
    return (
        occurrences.select_related("program", "staff__user")
        .annotate(
            booked=Count("bookings", filter=Q(bookings__status=Booking.Status.BOOKED), distinct=True),
            checked_in=Count("session_logs", filter=Q(session_logs__attendance__in=SessionLog.ATTENDED), distinct=True),
        )
        .order_by("starts_at", "pk")
    )


def patients_with_open_flags(*, clinic: Clinic, limit: int = 50) -> list[SafetyFlag]:
    return list(
        SafetyFlag.objects.filter(clinic=clinic, status=SafetyFlag.Status.OPEN)
        .select_related("patient", "rule", "session_log__occurrence")
        .order_by("-created_at", "-pk")[:limit]
    )


def enrollments_due_for_reassessment(*, clinic: Clinic, today: datetime.date, limit: int = 50) -> list[Enrollment]:
    """Attending enrollments due for a reassessment. The rule, kept simple on purpose:

    - every 12 attended sessions (12, 24, 36, …): due when no assessment observation was recorded
      since the session that reached the count; or
    - 30 days after the first session: due when no assessment observation was recorded at all.
    Each enrollment carries `due_reason` for the page.
    """
    assessments = Observation.objects.filter(
        clinic=clinic, enrollment=OuterRef("pk"), source=Observation.Source.ASSESSMENT
    )
    enrollments = (
        Enrollment.objects.filter(clinic=clinic, status=Enrollment.Status.ACTIVE)
        .select_related("patient", "program")
        .annotate(
            attended=Count("session_logs", filter=Q(session_logs__attendance__in=SessionLog.ATTENDED)),
            last_assessment_at=Subquery(
                assessments.values("enrollment").annotate(last=Max("observed_at")).values("last")[:1]
            ),
            has_assessment=Exists(assessments),
        )
        .filter(
            Q(attended__gte=REASSESS_EVERY_SESSIONS)
            | Q(first_session_at__date__lte=today - datetime.timedelta(REASSESS_AFTER_DAYS), has_assessment=False)
        )
        .order_by("patient__last_name", "patient__first_name", "pk")
    )
    candidates = list(enrollments[: limit * 4])
    milestones = {
        (e.pk, (e.attended // REASSESS_EVERY_SESSIONS) * REASSESS_EVERY_SESSIONS)
        for e in candidates
        if e.attended >= REASSESS_EVERY_SESSIONS
    }
    reached_at = {}
    if milestones:
        query = Q()
        for enrollment_id, number in milestones:
            query |= Q(enrollment_id=enrollment_id, session_number=number)
        for log in SessionLog.objects.filter(query, clinic=clinic).select_related("occurrence"):
            reached_at[log.enrollment_id] = log.started_at or log.occurrence.starts_at
    due = []
    for enrollment in candidates:
        reached = reached_at.get(enrollment.pk)
        if reached and (enrollment.last_assessment_at is None or enrollment.last_assessment_at < reached):
            enrollment.due_reason = f"{(enrollment.attended // 12) * 12} sessions attended"
        elif (
            not enrollment.has_assessment
            and enrollment.first_session_at
            and timezone.localdate(enrollment.first_session_at) <= today - datetime.timedelta(REASSESS_AFTER_DAYS)
        ):
            enrollment.due_reason = f"{REASSESS_AFTER_DAYS}+ days since the first session, no assessment yet"
        else:
            continue
        due.append(enrollment)
        if len(due) >= limit:
            break
    return due


# --- The safety rules ----------------------------------------------------------------------------


def effective_hr_ceiling(enrollment: Enrollment, aerobic: PrescriptionComponent | None) -> int | None:
    ceilings = [enrollment.hr_ceiling, aerobic.target_hr_high if aerobic else None]
    ceilings = [c for c in ceilings if c is not None]
    return min(ceilings) if ceilings else None


def rules_effective_on(day: datetime.date) -> list[SafetyRule]:
    """The rule in force on `day` for each code: the latest `effective_from` not after it."""
    rules = SafetyRule.objects.filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day), effective_from__lte=day)
    latest: dict[str, SafetyRule] = {}
    for rule in rules.order_by("code", "-effective_from"):
        latest.setdefault(rule.code, rule)
    return list(latest.values())


def rule_value(field: str, values: dict, enrollment: Enrollment, aerobic) -> Decimal | None:
    """The value a rule compares: a session log field, or one of the two derived values."""
    if field == "sbp_drop_with_load":
        if values.get("pre_sbp") is None or values.get("peak_sbp") is None:
            return None
        if not any(values.get(name) not in (None, 0) for name in WORKLOAD_FIELDS):
            return None
        return Decimal(values["pre_sbp"] - values["peak_sbp"])
    if field == "hr_over_ceiling":
        ceiling = effective_hr_ceiling(enrollment, aerobic)
        if ceiling is None or values.get("peak_hr") is None:
            return None
        return Decimal(values["peak_hr"] - ceiling)
    value = values.get(field)
    return None if value is None or value == "" else Decimal(value)


@dataclasses.dataclass
class Firing:
    rule: SafetyRule
    value: Decimal
    message: str


def evaluate_rules(
    *, values: dict, enrollment: Enrollment, aerobic, day: datetime.date, checked: set | None = None
) -> list[Firing]:
    """The rules that fire for these values (a pure function of its inputs and the rule table).
    `checked`, when given, receives the codes of the rules that had a value to judge."""
    fired = []
    for rule in rules_effective_on(day):
        if rule.applies_to == SafetyRule.AppliesTo.DIABETES and not enrollment.has_diabetes:
            continue
        value = rule_value(rule.field, values, enrollment, aerobic)
        if value is not None and checked is not None:
            checked.add(rule.code)
        if value is None or not COMPARE[rule.comparator](value, rule.threshold):
            continue
        fired.append(Firing(rule=rule, value=value, message=f"{rule.message} (recorded: {_value_text(rule, value)})"))
    return fired


def _value_text(rule: SafetyRule, value: Decimal) -> str:
    number = f"{value.normalize():f}"
    if rule.field == "sbp_drop_with_load":
        return f"fell {number} mmHg"
    if rule.field == "hr_over_ceiling":
        return f"{number} bpm over the ceiling"
    return number


# --- Validation ----------------------------------------------------------------------------------


def _number(value) -> str:
    return f"{Decimal(value).normalize():f}"


def floor_measures() -> dict[str, Measure]:
    """The shared measures the floor sheet records, by code (one query): their units, and their min and
    max, which are the physiologic ranges a row is checked against."""
    return {m.code: m for m in Measure.objects.filter(clinic=None, code__in=FLOOR_MEASURE_CODES)}


def _ranges(measures: dict[str, Measure]):
    """(field, low, high, label, unit) of every range-checked field; a measure without a min or max
    (or not loaded) checks nothing."""
    for field, (label, unit) in MEASURED_LABELS.items():
        measure = measures.get(OBSERVED[field][0])
        if measure is not None and measure.min_value is not None and measure.max_value is not None:
            yield field, measure.min_value, measure.max_value, label, unit
    for field, (low, high, label, unit) in UNMEASURED_RANGES.items():
        yield field, low, high, label, unit


def validate_values(
    *, values: dict, clinic: Clinic, enrollment: Enrollment, occurrence: Occurrence, measures=None
) -> None:
    """Physiologic ranges, diastolic below systolic, end after start, no exercise for an absent patient.
    `measures`: floor_measures(), read here when not given."""
    errors: dict[str, list[str]] = {}
    measures = floor_measures() if measures is None else measures

    def add(field, message):
        errors.setdefault(field, []).append(message)

    for field, low, high, label, unit in _ranges(measures):
        value = values.get(field)
        if value is None:
            continue
        if field == "weight_kg" and clinic.weight_unit == Clinic.WeightUnit.LB:
            if not low <= value <= high:
                add(field, f"Weight must be between {weight_from_kg(low, 'lb')} and {weight_from_kg(high, 'lb')} lb.")
            continue
        if not low <= value <= high:
            add(field, f"{label} must be between {_number(low)} and {_number(high)} {unit}.")
    scale = values.get("rpe_scale") or SessionLog.RpeScale.BORG
    rpe_measure = measures.get(RPE_MEASURES.get(scale, ""))
    if values.get("rpe") is not None and rpe_measure is not None:
        low, high = _number(rpe_measure.min_value), _number(rpe_measure.max_value)
        if not rpe_measure.min_value <= values["rpe"] <= rpe_measure.max_value:
            add("rpe", f"RPE on the {SessionLog.RpeScale(scale).label} scale must be between {low} and {high}.")
    for sbp, dbp in BP_PAIRS:
        if values.get(sbp) is not None and values.get(dbp) is not None and values[dbp] >= values[sbp]:
            add(dbp, "Diastolic BP must be lower than systolic BP.")
    if values.get("started_at") and values.get("ended_at") and values["ended_at"] <= values["started_at"]:
        add("ended_at", "The end time must be after the start time.")
    attendance = values.get("attendance")
    absent = attendance in (SessionLog.Attendance.ABSENT, SessionLog.Attendance.CANCELLED)
    if absent and any(values.get(field) not in (None, "") for field in EXERCISE_FIELDS):
        add("attendance", "An absent or cancelled patient has no exercise to record; clear those values first.")
    if attendance in SessionLog.ATTENDED:
        day = timezone.localdate(occurrence.starts_at)
        if day < enrollment.start_date or (enrollment.ended_on and day > enrollment.ended_on):
            add("attendance", "This session is outside the patient's enrollment dates.")
    if errors:
        raise ValidationError(errors)


# --- Services ------------------------------------------------------------------------------------


def _clean_values(data: dict) -> dict:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    values = {}
    for field in FIELDS:
        value = data.get(field)
        model_field = SessionLog._meta.get_field(field)
        if value in (None, "") and model_field.get_internal_type() in ("CharField", "TextField"):
            value = "" if field != "rpe_scale" else SessionLog.RpeScale.BORG
        elif value is None and model_field.get_internal_type() == "BooleanField":
            value = False
        elif value == "":
            value = None
        values[field] = value
    return values


def _delivery_mode(value: str, *, enrollment: Enrollment, occurrence: Occurrence) -> str:
    """The class's mode unless a DPP/MDPP row records another (a participant joining by phone, say): the
    mode picks the MDPP code and the DPRP's DMODE, and means nothing to the other programs."""
    if not value:
        return occurrence.delivery_mode
    if value not in DeliveryMode.values:
        raise ValidationError({"delivery_mode": f"Unknown delivery mode “{value}”."})
    if value != occurrence.delivery_mode and enrollment.program.program_type not in DIABETES_PROGRAMS:
        raise ValidationError({"delivery_mode": "A delivery mode is recorded for DPP and Medicare DPP sessions only."})
    return value


@transaction.atomic
def session_log_save(*, clinic: Clinic, actor: Membership, booking: Booking, data: dict, version: int) -> SessionLog:
    """Save one floor-sheet row from a copy of it at `version` (0 when no log existed yet).

    `data` holds every field of the row (FIELDS) in SI units; a missing field is cleared. Raises
    ValidationError for bad values (nothing saved) and EditConflict when someone saved the row since.
    The returned log carries its session number, `updated_by` is `actor`, and `shown_flags` holds its
    open and overridden flags as the save left them (what the row shows).
    """
    if booking.clinic_id != clinic.pk or actor.clinic_id != clinic.pk:
        raise ValidationError("This booking belongs to another clinic.")
    if booking.status != Booking.Status.BOOKED:
        raise ValidationError("Only booked patients have a row on the floor sheet.")
    occurrence = booking.occurrence
    # One save per enrollment at a time: session numbers and the first session are the enrollment's.
    enrollment = Enrollment.objects.select_for_update().select_related("program").get(pk=booking.enrollment_id)
    values = _clean_values(data)
    values["delivery_mode"] = _delivery_mode(values["delivery_mode"], enrollment=enrollment, occurrence=occurrence)
    measures = floor_measures()  # one query: the ranges to check and the codes to observe
    validate_values(values=values, clinic=clinic, enrollment=enrollment, occurrence=occurrence, measures=measures)

    # The row's log as the caller read it with the booking (the floor sheet does) or read now. An earlier
    # read is as good as a fresh one: the write below is guarded by `version` (an UPDATE … WHERE version,
    # or the one-log-per-booking constraint), so a save made since is still a conflict. Saves a query.
    if Booking.session_log.is_cached(booking):
        existing = getattr(booking, "session_log", None)
    else:
        existing = SessionLog.objects.filter(clinic=clinic, booking=booking).first()
    if existing is None and version != 0 or existing is not None and existing.version != version:
        raise EditConflict(SessionLog.objects.filter(clinic=clinic, booking=booking).first())

    # The prescription matters only to the HR-ceiling rule, judged only with a peak HR: without one the
    # prescription is not read (one query less for most saves: check-in and resting vitals).
    aerobic = None
    if values.get("peak_hr") is not None:
        aerobic = current_aerobic_components(clinic=clinic, enrollment_ids=[enrollment.pk]).get(enrollment.pk)
    day = timezone.localdate(occurrence.starts_at)
    checked: set[str] = set()
    fired = evaluate_rules(values=values, enrollment=enrollment, aerobic=aerobic, day=day, checked=checked)
    flags = []
    if existing is not None:
        # With what the row shows of them, so the page need not read them again.
        flags = list(
            existing.flags.select_related("rule", "acknowledged_by__user", "overridden_by__user")
            .exclude(status=SafetyFlag.Status.RESOLVED)
            .order_by("created_at", "pk")
        )
    _refuse_exercise_on_hold(flags, values, fired, checked)

    now = timezone.now()
    stamp = {"version": version + 1, "updated_by": actor, "updated_at": now}
    if existing is None:
        log = SessionLog(
            clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient_id=booking.patient_id,
            **values, **stamp,
        )  # fmt: skip
        try:
            with transaction.atomic():
                log.save()
        except IntegrityError:
            raise EditConflict(SessionLog.objects.filter(clinic=clinic, booking=booking).first()) from None
    else:
        updated = SessionLog.objects.filter(pk=existing.pk, version=version).update(**values, **stamp)
        if updated == 0:
            raise EditConflict(SessionLog.objects.filter(pk=existing.pk).first())
        # The row as now stored, built from what was written rather than read back (saves a query).
        log = copy.copy(existing)
        for field, value in {**values, **stamp}.items():
            setattr(log, field, value)
        log.occurrence, log.patient = occurrence, booking.patient  # for the audit entry's text
        # Keep the auditlog diff: an UPDATE through the queryset does not send signals.
        _audit_change(log=log, before=existing, actor=actor)

    log.shown_flags = _sync_flags(clinic=clinic, log=log, flags=flags, fired=fired, checked=checked)
    _write_observations(clinic=clinic, actor=actor, log=log, before=existing, measures=measures)
    log.session_number = _number_sessions(clinic=clinic, enrollment=enrollment, log=log, before=existing)
    events.session_recorded.send(sender=SessionLog, instance=log)
    return log


def _refuse_exercise_on_hold(flags: list[SafetyFlag], values: dict, fired: list[Firing], checked: set) -> None:
    """Exercise values wait while a pre-exercise hold is open: one that fires now and was not overridden,
    or an open one whose value was cleared instead of corrected."""
    overridden = {flag.rule.code for flag in flags if flag.status == SafetyFlag.Status.OVERRIDDEN}
    holds = [
        f.message for f in fired
        if f.rule.severity == SafetyRule.Severity.HOLD and f.rule.field in PRE_FIELDS and f.rule.code not in overridden
    ]  # fmt: skip
    holds += [
        flag.message for flag in flags
        if flag.status == SafetyFlag.Status.OPEN and flag.severity == SafetyRule.Severity.HOLD
        and flag.rule.field in PRE_FIELDS and flag.rule.code not in checked
    ]  # fmt: skip
    if holds and any(values.get(field) not in (None, "") for field in EXERCISE_FIELDS):
        reasons = "; ".join(holds)
        raise ValidationError(
            {
                "exercise": (
                    f"On hold: {reasons}. Exercise can be recorded once the hold is overridden with a reason and the "
                    "supervising practitioner's acknowledgment, or the values are corrected."
                )
            }
        )


def _sync_flags(
    *, clinic: Clinic, log: SessionLog, flags: list[SafetyFlag], fired: list[Firing], checked: set
) -> list[SafetyFlag]:
    """Open a flag per rule that fires; resolve open flags whose rule was judged again and no longer fires
    (a value cleared rather than corrected leaves the flag open). A rule overridden for this session stays
    overridden (no new flag for the same rule). `flags`: the log's unresolved flags, oldest first.
    Returns the open and overridden flags after the change, oldest first."""
    by_code = {f.rule.code: f for f in flags}
    firing_codes = {f.rule.code for f in fired}
    for code, flag in by_code.items():
        if flag.status == SafetyFlag.Status.OPEN and code in checked and code not in firing_codes:
            flag.status = SafetyFlag.Status.RESOLVED
            flag.save(update_fields=["status"])
    shown = [flag for flag in flags if flag.status != SafetyFlag.Status.RESOLVED]
    for firing in fired:
        flag = by_code.get(firing.rule.code)
        if flag is None:
            shown.append(
                SafetyFlag.objects.create(
                    clinic=clinic,
                    session_log=log,
                    patient_id=log.patient_id,
                    rule=firing.rule,
                    severity=firing.rule.severity,
                    value=firing.value,
                    message=firing.message,
                )  # fmt: skip
            )
        elif flag.status == SafetyFlag.Status.OPEN and (flag.value != firing.value or flag.rule_id != firing.rule.pk):
            flag.value, flag.message, flag.rule = firing.value, firing.message, firing.rule
            flag.save(update_fields=["value", "message", "rule"])
    return shown


def _observed(log: SessionLog) -> list[tuple[str, object, str]]:
    """The log's measured numbers as (measure code, value, phase)."""
    wanted = [(code, getattr(log, field), phase) for field, (code, phase) in OBSERVED.items()]
    if log.rpe is not None:
        wanted.append((RPE_MEASURES[log.rpe_scale], log.rpe, "peak"))
    return [(code, value, phase) for code, value, phase in wanted if value is not None]


def _write_observations(
    *, clinic: Clinic, actor: Membership, log: SessionLog, before: SessionLog | None, measures: dict[str, Measure]
) -> None:
    """Every measured number as a coded observation; a re-save replaces the earlier save's.

    A save that changed no measured number and not the time (a note, a check-in time of a row without
    numbers, the modality) leaves the observations alone: two queries fewer for the commonest saves."""
    wanted = _observed(log)
    observed_at = log.started_at or log.occurrence.starts_at
    if before is not None and _observed(before) == wanted and before.started_at == log.started_at:
        return
    if before is not None:
        Observation.objects.filter(clinic=clinic, source=Observation.Source.SESSION, source_id=log.pk).delete()
    if not wanted:
        return
    Observation.objects.bulk_create(
        [
            Observation(
                clinic=clinic, patient_id=log.patient_id, enrollment_id=log.enrollment_id, measure=measures[code],
                value=value, unit=measures[code].unit, observed_at=observed_at, phase=phase,
                source=Observation.Source.SESSION, source_id=log.pk, recorded_by=actor,
            )
            for code, value, phase in wanted
            if code in measures
        ]
    )  # fmt: skip


def _number_sessions(*, clinic: Clinic, enrollment: Enrollment, log: SessionLog, before: SessionLog | None):
    """Number the enrollment's attended sessions 1, 2, 3 … in date order; the first sets first_session_at.
    Returns the number of `log`.

    Numbers change only when a row starts or stops counting as attended: a re-save that keeps it on
    the same side keeps every number, so the enrollment's logs are not read again (one query less)."""
    attended = log.attendance in SessionLog.ATTENDED
    if before is not None and (before.attendance in SessionLog.ATTENDED) == attended:
        number = before.session_number
    else:
        number = _renumber(clinic=clinic, enrollment=enrollment, log=log)
    if attended and enrollment.first_session_at is None:
        enrollment.first_session_at = log.started_at or log.occurrence.starts_at
        fields = ["first_session_at"]
        if enrollment.status == Enrollment.Status.ENROLLED:
            enrollment.status = Enrollment.Status.ACTIVE
            fields.append("status")
        enrollment.save(update_fields=fields)
    return number


def _renumber(*, clinic: Clinic, enrollment: Enrollment, log: SessionLog) -> int | None:
    logs = list(
        SessionLog.objects.filter(clinic=clinic, enrollment=enrollment)
        .select_related("occurrence")
        .order_by("occurrence__starts_at", "pk")
    )
    number = 0
    own = None
    for each in logs:
        wanted = None
        if each.attendance in SessionLog.ATTENDED:
            number += 1
            wanted = number
        if each.pk == log.pk:
            own = wanted
        if each.session_number != wanted:
            SessionLog.objects.filter(pk=each.pk).update(session_number=wanted)
    return own


def _audit_change(*, log: SessionLog, before: SessionLog, actor: Membership) -> None:
    changes = {}
    for field in FIELDS:
        old, new = getattr(before, field), getattr(log, field)
        if old != new:
            changes[field] = [str(old) if old is not None else "None", str(new) if new is not None else "None"]
    if changes:
        AuditEntry.objects.log_create(
            log,
            force_log=True,
            action=AuditEntry.Action.UPDATE,
            changes=changes,
            actor=actor.user,
            actor_email=actor.user.email,
        )


@transaction.atomic
def occurrence_set_staff(
    *, clinic: Clinic, actor: Membership, occurrence: Occurrence, supervising_practitioner, coach=None
) -> Occurrence:
    """Record the class's supervising practitioner (and its coach, for DPP/MDPP), members of the clinic."""
    for member, field in ((supervising_practitioner, "supervising_practitioner"), (coach, "coach")):
        if member is not None and (member.clinic_id != clinic.pk or not member.is_active):
            raise ValidationError({field: "Choose an active member of this clinic."})
    occurrence.supervising_practitioner = supervising_practitioner
    if occurrence.program.program_type in DIABETES_PROGRAMS:
        occurrence.coach = coach
    occurrence.save(update_fields=["supervising_practitioner", "coach"])
    return occurrence


@transaction.atomic
def safety_flag_override(
    *, clinic: Clinic, actor: Membership, flag: SafetyFlag, reason: str, request=None
) -> SafetyFlag:
    """Override an open flag (a hold, usually): needs a reason and the class's supervising practitioner,
    who is recorded as acknowledging it; the acting member is recorded as overriding. Audited."""
    flag = SafetyFlag.objects.select_for_update().select_related("rule").get(pk=flag.pk, clinic=clinic)
    occurrence = Occurrence.objects.select_related("supervising_practitioner__user").get(
        pk=flag.session_log.occurrence_id
    )
    reason = (reason or "").strip()
    errors = {}
    if flag.status != SafetyFlag.Status.OPEN:
        raise ValidationError("This flag is no longer open.")
    if not reason:
        errors["reason"] = "Say why the patient may exercise despite the hold."
    supervisor = occurrence.supervising_practitioner
    if supervisor is None or not supervisor.is_active or supervisor.clinic_id != clinic.pk:
        errors["supervising_practitioner"] = (
            "Choose the class's supervising practitioner first: they acknowledge every override."
        )
    if errors:
        raise ValidationError(errors)
    flag.status = SafetyFlag.Status.OVERRIDDEN
    flag.override_reason = reason
    flag.acknowledged_by = supervisor
    flag.overridden_by = actor
    flag.overridden_at = timezone.now()
    flag.save(update_fields=["status", "override_reason", "acknowledged_by", "overridden_by", "overridden_at"])
    from clinic.audit import client_address

    AuditEntry.objects.create(
        clinic=clinic,
        patient_id=flag.patient_id,
        content_type=ContentType.objects.get_for_model(SafetyFlag),
        object_pk=str(flag.pk),
        object_id=flag.pk,
        object_repr=str(flag)[:200],
        action=AuditEntry.Action.UPDATE,
        event=AuditEntry.Event.UPDATE,
        changes_text=(
            f"Safety {flag.get_severity_display().lower()} overridden: {flag.message}. Reason: {reason}. "
            f"Acknowledged by the supervising practitioner {supervisor.user.get_full_name() or supervisor.user.email}."
        ),
        remote_addr=client_address(request),
        actor=actor.user,
        actor_email=actor.user.email,
    )
    return flag


@transaction.atomic
def session_logs_record_class(*, clinic: Clinic, actor: Membership, occurrence: Occurrence, rows: list[dict]):
    """Record a whole class at once (the bulk API): every row or none.

    Each row is {"booking": id, "version": n, **fields}. Raises ValidationError with the errors by row
    index when any row fails; nothing is saved then.
    """
    bookings = {
        b.pk: b
        for b in Booking.objects.select_related("occurrence", "patient").filter(
            clinic=clinic, occurrence=occurrence, status=Booking.Status.BOOKED
        )
    }
    errors: dict[str, object] = {}
    saved = []
    seen = set()
    for index, row in enumerate(rows):
        row = dict(row)
        booking = bookings.get(row.pop("booking", None))
        version = row.pop("version", 0) or 0
        if booking is None:
            errors[str(index)] = {"booking": ["No booked patient of this class has this booking id."]}
            continue
        if booking.pk in seen:
            errors[str(index)] = {"booking": ["This booking appears twice."]}
            continue
        seen.add(booking.pk)
        try:
            with transaction.atomic():
                saved.append(session_log_save(clinic=clinic, actor=actor, booking=booking, data=row, version=version))
        except EditConflict as conflict:
            current = conflict.current.version if conflict.current else 0
            errors[str(index)] = {"version": [f"{conflict} The row is now at version {current}."]}
        except ValidationError as error:
            has_fields = hasattr(error, "error_dict")
            errors[str(index)] = error.message_dict if has_fields else {"non_field_errors": error.messages}
    if errors:
        raise BulkErrors(errors)
    return saved


class BulkErrors(Exception):
    """Errors of a bulk save, by row index; the transaction rolls back."""

    def __init__(self, errors: dict):
        super().__init__("Some rows have errors; nothing was saved.")
        self.errors = errors
