"""Progress of an enrollment: change from baseline per measure, classified by the measure's MCID and
direction, risk bands at baseline and now, attendance and safety events. The one place change from
baseline is computed: the chart's Progress section, the physician portal, the API, the PDF reports and
the KPI dashboards all read it from here.

Reads only, in a fixed number of queries whatever the number of measures or sessions; the bulk form
(`headline_progress`) serves list pages in a fixed number of queries whatever the number of rows.
"""

import datetime
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DateField, DateTimeField, F, Func, Max, Q
from django.db.models.functions import Cast
from django.utils import timezone

from clinic.compiled import SAMPLE_MOMENT, AnyOf, CompiledQuery, columns_of, loaded_row, paths_of
from clinic.models import Enrollment, ExercisePrescription, Measure, MeasureBand, Observation
from clinic.prescriptions import age_on, prescription_current
from scheduling.models import Booking, Occurrence, SafetyFlag, SessionLog

IMPROVED, NO_CHANGE, DECLINED = "improved", "no_change", "declined"
CLASSIFICATION_LABELS = {IMPROVED: "Improved", NO_CHANGE: "No meaningful change", DECLINED: "Declined"}

# Bookings that count as "booked" for attendance: a place was held for the patient. Cancellations in
# time and cancelled classes are not the patient's sessions; a late cancellation counts as missed.
BOOKED_STATUSES = (Booking.Status.BOOKED, Booking.Status.LATE_CANCELLED)


@dataclass
class MeasureChange:
    measure: Measure
    baseline: Decimal | None = None
    baseline_at: datetime.datetime | None = None
    latest: Decimal | None = None
    latest_at: datetime.datetime | None = None
    change: Decimal | None = None
    percent_change: Decimal | None = None
    classification: str = ""
    baseline_band: str = ""
    latest_band: str = ""
    risk_resolved: bool = False
    points: list[tuple[datetime.datetime, Decimal]] = field(default_factory=list)
    # Not in the shared interface's minimum, but what the pages need to say it: the risk flags of the bands.
    baseline_at_risk: bool = False
    latest_at_risk: bool = False

    @property
    def classification_label(self) -> str:
        return CLASSIFICATION_LABELS.get(self.classification, "")

    @property
    def has_change(self) -> bool:
        """More than one value: a baseline and a later one to compare it with."""
        return len(self.points) > 1

    @property
    def new_risk(self) -> bool:
        return self.latest_at_risk and not self.baseline_at_risk and bool(self.baseline_band or self.latest_band)

    @property
    def band_changed(self) -> bool:
        return self.has_change and self.baseline_band != self.latest_band

    @property
    def mcid_text(self) -> str:
        """The MCID as a sentence with its source, for the badge's tooltip."""
        measure = self.measure
        if measure.mcid is None or measure.direction == Measure.Direction.CONTEXT:
            return "No MCID in the catalog for this measure: change is shown, not classified."
        amount = format_value(measure.mcid, measure.decimal_places)
        if measure.mcid_kind == Measure.McidKind.PERCENT:
            text = f"MCID {amount} % of baseline"
        else:
            text = f"MCID {amount} {display_unit(measure.unit)}".rstrip()
        better = "higher" if measure.direction == Measure.Direction.HIGHER else "lower"
        text += f" ({better} is better)"
        return f"{text}. Source: {measure.mcid_source}" if measure.mcid_source else f"{text}."


@dataclass
class Attendance:
    attended: int = 0
    booked: int = 0
    percent: int | None = None
    sessions_remaining: int | None = None
    last_session_on: datetime.date | None = None


@dataclass
class EnrollmentProgress:
    enrollment: Enrollment
    period_start: datetime.date
    period_end: datetime.date
    measures: list[MeasureChange]
    headline: MeasureChange | None
    attendance: Attendance
    safety_events: list
    prescription: ExercisePrescription | None

    @property
    def has_assessments(self) -> bool:
        return bool(self.measures)

    @property
    def risk_changes(self) -> list[MeasureChange]:
        return [m for m in self.measures if m.risk_resolved or m.new_risk or (m.band_changed and m.latest_at_risk)]


# --- Pure rules -----------------------------------------------------------------------------------


def display_unit(unit: str) -> str:
    """UCUM annotations ({score}, {#}) are for machines; a page shows nothing for them."""
    return "" if unit.startswith("{") else unit.replace("mm[Hg]", "mmHg").replace("/min", "bpm")


def format_value(value: Decimal | None, places: int) -> str:
    if value is None:
        return ""
    return f"{value:.{places}f}"


def percent_change(*, baseline: Decimal | None, latest: Decimal | None) -> Decimal | None:
    if baseline is None or latest is None or baseline == 0:
        return None
    return ((latest - baseline) / abs(baseline) * 100).quantize(Decimal("0.1"))


def classify_change(*, measure: Measure, baseline: Decimal | None, latest: Decimal | None) -> str:
    """improved / no_change / declined by the measure's MCID (in its unit, or in % of baseline) and the
    direction that is better. A change of exactly the MCID is meaningful. "" when the measure has no MCID,
    no better direction, or there is nothing to compare."""
    if baseline is None or latest is None or measure.mcid is None or measure.direction == Measure.Direction.CONTEXT:
        return ""
    if measure.mcid_kind == Measure.McidKind.PERCENT:
        change = percent_change(baseline=baseline, latest=latest)
        if change is None:
            return ""
        # Compare the unrounded percentage so that 4.96 % is not taken for a 5 % MCID.
        change = (latest - baseline) / abs(baseline) * 100
    else:
        change = latest - baseline
    if abs(change) < measure.mcid:
        return NO_CHANGE
    better = change > 0 if measure.direction == Measure.Direction.HIGHER else change < 0
    return IMPROVED if better else DECLINED


def band_of(*, measure: Measure, value: Decimal | None, sex: str, age: int | None) -> MeasureBand | None:
    """The measure's norm or risk band holding the value for this sex and age; a risk band wins when a
    value is in both (e.g. LDL's goal band and its severe band). Reads `measure.bands.all()`, so callers
    that look at many values prefetch the bands."""
    if value is None:
        return None
    matches = [band for band in measure.bands.all() if band.contains(value, sex=sex, age=age)]
    matches.sort(key=lambda band: not band.is_risk)
    return matches[0] if matches else None


# An observation's phase: "" (an assessment, or a session's reading with no phase) or the floor sheet's "pre".
RESTING_PHASES = ("", "pre")


def measure_change(*, measure: Measure, observations: list, sex: str, date_of_birth) -> MeasureChange:
    """The change of one measure over the given observations (oldest first: Observations, or rows with
    their observed_at, value, source and phase: ObservationRow). Baseline: the earliest value
    from an assessment, or the earliest value at all when no assessment measured it (e.g. weight in DPP,
    weighed at sessions). Latest: the most recent value.

    Resting values only, as the KPIs count them: the floor sheet also records blood pressure at peak
    exercise and after it, which say nothing of the patient's resting pressure. A measure taken only at
    peak (METs, watts) keeps its values."""
    observations = [o for o in observations if o.phase in RESTING_PHASES] or observations
    points = [(o.observed_at, o.value) for o in observations]
    result = MeasureChange(measure=measure, points=points)
    if not observations:
        return result
    first = next((o for o in observations if o.source == Observation.Source.ASSESSMENT), observations[0])
    last = observations[-1]
    result.baseline, result.baseline_at = first.value, first.observed_at
    result.latest, result.latest_at = last.value, last.observed_at
    if last is not first and last.observed_at > first.observed_at:
        result.change = last.value - first.value
        result.percent_change = percent_change(baseline=first.value, latest=last.value)
        result.classification = classify_change(measure=measure, baseline=first.value, latest=last.value)
    baseline_band = _band_at(measure, first, sex, date_of_birth)
    latest_band = _band_at(measure, last, sex, date_of_birth)
    result.baseline_band = baseline_band.label if baseline_band else ""
    result.latest_band = latest_band.label if latest_band else ""
    result.baseline_at_risk = bool(baseline_band and baseline_band.is_risk)
    result.latest_at_risk = bool(latest_band and latest_band.is_risk)
    result.risk_resolved = result.baseline_at_risk and not result.latest_at_risk and last is not first
    return result


def _band_at(measure, observation, sex, date_of_birth) -> MeasureBand | None:
    age = age_on(date_of_birth, timezone.localdate(observation.observed_at)) if date_of_birth else None
    return band_of(measure=measure, value=observation.value, sex=sex, age=age)


def _headline(headline_measure_id: int | None, changes: list[MeasureChange]) -> MeasureChange | None:
    """The program's headline measure (clinic.Program.headline_measure, set per program by its admins), or
    the first classified change for a program without one."""
    if headline_measure_id:
        return next((change for change in changes if change.measure.pk == headline_measure_id), None)
    return next((change for change in changes if change.classification), None)


# --- Reads -----------------------------------------------------------------------------------------


def _period(enrollment, period_start, period_end) -> tuple[datetime.date, datetime.date]:
    start = period_start or enrollment.start_date
    end = period_end or enrollment.ended_on or timezone.localdate()
    return start, end


def end_of(day: datetime.date) -> datetime.datetime:
    """The first moment after `day`, in the active (clinic's) time zone."""
    return timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()))


def start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


# An observation as the progress reads it: a row, not an Observation instance (an enrollment with a history
# has hundreds; a model instance per row was most of the Progress page's CPU, issue 11).
ObservationRow = namedtuple("ObservationRow", "enrollment_id measure_id observed_at value source phase")


def _enrollment_observations(*, clinic_id, enrollment_id, until, headline_measure_id):
    """The enrollment's observations before `until` of the measures an assessment took and of the
    program's headline measure, oldest first: the floor sheet's heart rates, RPE and METs are about half of
    a history's observations, and no assessment measures them."""
    observations = Observation.objects.filter(clinic_id=clinic_id, enrollment_id=enrollment_id, observed_at__lt=until)
    assessed = observations.filter(source=Observation.Source.ASSESSMENT).values("measure_id")
    return (
        observations.filter(Q(measure_id__in=assessed) | Q(measure_id=headline_measure_id))
        .order_by("observed_at", "id")
        .values_list(*ObservationRow._fields)
    )


def _headline_observations(*, clinic_ids, enrollment_ids, measure_ids):
    """The enrollments' observations of the given measures, oldest first."""
    return (
        Observation.objects.filter(
            AnyOf("clinic_id", clinic_ids), AnyOf("enrollment_id", enrollment_ids), AnyOf("measure_id", measure_ids)
        )
        .order_by("enrollment_id", "observed_at", "id")
        .values_list(*ObservationRow._fields)
    )


# Both read on every request of the physician's pages: compiled once (clinic.compiled, issue 11). A program
# without a headline measure gives `measure_id = NULL`, true of no row, as the queryset's IS NULL would be.
ENROLLMENT_OBSERVATIONS = CompiledQuery(
    _enrollment_observations, clinic_id=-1, enrollment_id=-2, until=SAMPLE_MOMENT, headline_measure_id=-3
)
HEADLINE_OBSERVATIONS = CompiledQuery(_headline_observations, clinic_ids=[-1], enrollment_ids=[-2], measure_ids=[-3])


MEASURES = CompiledQuery(lambda ids: Measure.objects.filter(AnyOf("id", ids)), ids=[-1])
MEASURE_BANDS = CompiledQuery(
    lambda measure_ids: MeasureBand.objects.filter(AnyOf("measure_id", measure_ids)).order_by("id"), measure_ids=[-1]
)


def _measures_with_bands(ids) -> dict[int, Measure]:
    """The measures by id, with their bands (two queries, none for no ids): each measure read once, not
    joined to each of its observations. Compiled once, as the observations (Django's `prefetch_related`
    cost about as much CPU as the rest of reading the observations)."""
    if not ids:
        return {}
    measure_columns, band_columns = columns_of(Measure), columns_of(MeasureBand)
    measures = {row[0]: Measure.from_db("default", measure_columns, row) for row in MEASURES.rows(ids=list(ids))}
    bands = defaultdict(list)
    for row in MEASURE_BANDS.rows(measure_ids=list(measures)):
        band = MeasureBand.from_db("default", band_columns, row)
        bands[band.measure_id].append(band)
    for measure in measures.values():
        # Where prefetch_related("bands") leaves them: `measure.bands.all()` (band_of, the charts) reads them.
        measure._prefetched_objects_cache = {"bands": bands[measure.pk]}
    return measures


def _changes(
    observations, measures, *, headline_measure_id: int | None, sex: str, date_of_birth
) -> list[MeasureChange]:
    """One MeasureChange per measure an assessment took (plus the program's headline measure however it
    was recorded), in catalog order."""
    by_measure: dict[int, list] = defaultdict(list)
    assessed: set[int] = set()
    for observation in observations:
        by_measure[observation.measure_id].append(observation)
        if observation.source == Observation.Source.ASSESSMENT:
            assessed.add(observation.measure_id)
    wanted = [measures[pk] for pk in by_measure if pk in assessed or pk == headline_measure_id]
    # Catalog order: the order the reference migration loaded the measures in (then a clinic's own).
    wanted.sort(key=lambda m: (m.clinic_id is not None, m.pk))
    return [
        measure_change(measure=m, observations=by_measure[m.pk], sex=sex, date_of_birth=date_of_birth) for m in wanted
    ]


def _clinic_date(moment: str) -> Cast:
    """The date of a booking's `moment` in its clinic's time zone, computed by PostgreSQL: the physician
    portal lists several clinics' patients with no clinic's zone active, and a class at 10 pm in New York
    is still on that day there, not on the next one in UTC."""
    local = Func(F("clinic__timezone"), F(moment), function="timezone", output_field=DateTimeField())
    return Cast(local, DateField())


def _attendance_counts(*, clinic_ids, patient_ids, enrollment_ids, start, end, until):
    """Per enrollment: sessions booked and attended from `start` to `until` (the period's end, or now if
    sooner), attended up to `end`, the last attended one's date.

    The enrollments' patients are named too, though the enrollments alone pick the bookings (a booking is its
    enrollment's patient's: scheduling.services.booking_create): with them PostgreSQL reads the bookings through
    (clinic, patient) (booking_patient_idx) and nothing else. With the clinic and the enrollments only, it
    ANDed the enrollment index with the clinic's index, reading all of the clinic's 133,000 bookings' entries:
    1.7 of My patients' ?status=accepted 2.5 ms on bench-big, 0.1 with the patients (issue 11)."""
    in_period = Q(occurrence__starts_at__gte=start, occurrence__starts_at__lt=until)
    attended = Q(session_log__attendance__in=SessionLog.ATTENDED)
    to_end = Q(occurrence__starts_at__lt=end)
    return (
        Booking.objects.filter(
            AnyOf("clinic_id", clinic_ids), AnyOf("patient_id", patient_ids), AnyOf("enrollment_id", enrollment_ids)
        )
        .values("enrollment_id")
        .annotate(
            booked=Count(
                "id",
                filter=in_period
                & Q(status__in=BOOKED_STATUSES)
                & ~Q(session_log__attendance=SessionLog.Attendance.CANCELLED),
            ),
            attended=Count("id", filter=in_period & attended),
            attended_to_end=Count("id", filter=to_end & attended),
            last_session_on=Max(_clinic_date("occurrence__starts_at"), filter=to_end & attended),
        )
        .values_list("enrollment_id", "booked", "attended", "attended_to_end", "last_session_on")
    )


# Both pages of a physician read attendance on every request: Django compiling the four filtered counts
# cost more CPU than PostgreSQL counting (issue 11), so the SQL is compiled once per process.
ATTENDANCE_COUNTS = CompiledQuery(
    _attendance_counts, clinic_ids=[-1], patient_ids=[-3], enrollment_ids=[-2], start=SAMPLE_MOMENT,
    end=SAMPLE_MOMENT + datetime.timedelta(seconds=1), until=SAMPLE_MOMENT + datetime.timedelta(seconds=2),
)  # fmt: skip
# No period's start: every session up to the end counts.
BEGINNING = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def attendance_of(*, clinic_ids, enrollments, period_start=None, period_end=None) -> dict[int, Attendance]:
    """Attendance per enrollment in one query whatever their number: attended sessions over booked ones
    (a place held, the class started, not cancelled in time) in the period, sessions remaining of the
    program's default count (counting every attended session up to the period's end), last session."""
    now = timezone.now()
    end = end_of(period_end) if period_end else now
    rows = ATTENDANCE_COUNTS.rows(
        clinic_ids=list(clinic_ids), patient_ids=list({e.patient_id for e in enrollments}),
        enrollment_ids=[e.pk for e in enrollments],
        start=start_of(period_start) if period_start else BEGINNING, end=end, until=min(end, now),
    )  # fmt: skip
    by_enrollment = {row[0]: row for row in rows}
    result = {}
    for enrollment in enrollments:
        _, booked, attended_count, attended_to_end, last_session_on = by_enrollment.get(
            enrollment.pk, (None, 0, 0, 0, None)
        )
        # A make-up session may be attended without a regular booking: never over 100 %.
        booked = max(booked, attended_count)
        total = enrollment.program.default_session_count
        result[enrollment.pk] = Attendance(
            attended=attended_count,
            booked=booked,
            percent=round(100 * attended_count / booked) if booked else None,
            sessions_remaining=max(total - attended_to_end, 0) if total else None,
            last_session_on=last_session_on,
        )
    return result


# The columns of a safety event the page, the API and the PDF report show (a flag's rule and who overrode it
# are shown by none of them), with its session's class.
SAFETY_FLAG_PARTS = [
    (SafetyFlag, "", ["id", "session_log_id", "severity", "message", "status", "created_at"]),
    (SessionLog, "session_log__", ["id", "occurrence_id"]),
    (Occurrence, "session_log__occurrence__", ["id", "starts_at"]),
]


def _safety_flags(*, clinic_id, enrollment_id, start, end):
    return (
        SafetyFlag.objects.filter(
            clinic_id=clinic_id,
            session_log__enrollment_id=enrollment_id,
            session_log__occurrence__starts_at__gte=start,
            session_log__occurrence__starts_at__lt=end,
        )
        .order_by("created_at", "id")
        .values_list(*paths_of(SAFETY_FLAG_PARTS))
    )


SAFETY_FLAGS = CompiledQuery(
    _safety_flags, clinic_id=-1, enrollment_id=-2, start=SAMPLE_MOMENT,
    end=SAMPLE_MOMENT + datetime.timedelta(seconds=1),
)  # fmt: skip


def safety_events_of(*, clinic, enrollment, period_start, period_end) -> list[SafetyFlag]:
    """The safety flags raised at the enrollment's sessions in the period, oldest first (one query), each
    with its session log and that session's class (`flag.session_log.occurrence.starts_at`). Compiled once
    (issue 11); the flags are made from the rows as the ORM would make them, with the columns above."""
    flags = []
    rows = SAFETY_FLAGS.rows(
        clinic_id=clinic.pk, enrollment_id=enrollment.pk, start=start_of(period_start), end=end_of(period_end)
    )
    for row in rows:
        flag, log, occurrence = loaded_row(row, SAFETY_FLAG_PARTS)
        flag.session_log, log.occurrence = log, occurrence
        flags.append(flag)
    return flags


def enrollment_progress(
    *, clinic, enrollment, period_start=None, period_end=None, with_prescription: bool = True
) -> EnrollmentProgress:
    """Everything the Progress view, the API and the PDF report show for one enrollment, in a fixed number
    of queries. Values up to the period's end count (the baseline stays the enrollment's baseline, so a
    30-day report shows the change since entry); attendance and safety events are the period's.
    `with_prescription=False` leaves out the current exercise prescription (`prescription` is then None):
    the Progress page does not show it, and reading it with its components is two queries."""
    start, end = _period(enrollment, period_start, period_end)
    patient = enrollment.patient
    until = end_of(end)
    headline_measure_id = enrollment.program.headline_measure_id
    observations = [
        ObservationRow._make(row)
        for row in ENROLLMENT_OBSERVATIONS.rows(
            clinic_id=clinic.pk, enrollment_id=enrollment.pk, until=until, headline_measure_id=headline_measure_id
        )
    ]
    measures = _measures_with_bands({row.measure_id for row in observations})
    changes = _changes(
        observations,
        measures,
        headline_measure_id=headline_measure_id,
        sex=patient.sex,
        date_of_birth=patient.date_of_birth,
    )
    attendance = attendance_of(clinic_ids=[clinic.pk], enrollments=[enrollment], period_start=start, period_end=end)
    return EnrollmentProgress(
        enrollment=enrollment,
        period_start=start,
        period_end=end,
        measures=changes,
        headline=_headline(headline_measure_id, changes),
        attendance=attendance[enrollment.pk],
        safety_events=safety_events_of(clinic=clinic, enrollment=enrollment, period_start=start, period_end=end),
        prescription=prescription_current(enrollment=enrollment) if with_prescription else None,
    )


@dataclass
class HeadlineProgress:
    """A list row's progress: attendance and the headline outcome change."""

    attendance: Attendance
    headline: MeasureChange | None


def headline_progress(enrollments) -> dict[int, HeadlineProgress]:
    """Attendance and headline change for many enrollments (possibly of several clinics, as in the
    physician portal) in a fixed number of queries: the page's rows in bulk, never one by one. The
    enrollments need `program` and `patient` loaded."""
    enrollments = list(enrollments)
    if not enrollments:
        return {}
    clinic_ids = {e.clinic_id for e in enrollments}
    ids = [e.pk for e in enrollments]
    attendance = attendance_of(clinic_ids=clinic_ids, enrollments=enrollments)
    # Each program's own headline measure (a field of the program, already loaded): one query whatever mix of
    # programs and clinics the page lists.
    headline_ids = {e.program.headline_measure_id for e in enrollments} - {None}
    rows = (
        HEADLINE_OBSERVATIONS.rows(clinic_ids=list(clinic_ids), enrollment_ids=ids, measure_ids=list(headline_ids))
        if headline_ids
        else []  # no query, as the queryset's `measure_id__in=[]` ran none
    )
    observations = [ObservationRow._make(row) for row in rows]
    measures = _measures_with_bands({row.measure_id for row in observations})
    by_enrollment: dict[int, list] = defaultdict(list)
    for observation in observations:
        by_enrollment[observation.enrollment_id].append(observation)
    result = {}
    for enrollment in enrollments:
        headline_measure_id = enrollment.program.headline_measure_id
        own = [o for o in by_enrollment[enrollment.pk] if o.measure_id == headline_measure_id]
        headline = None
        if own:
            patient = enrollment.patient
            headline = measure_change(
                measure=measures[headline_measure_id],
                observations=own,
                sex=patient.sex,
                date_of_birth=patient.date_of_birth,
            )
        result[enrollment.pk] = HeadlineProgress(attendance=attendance[enrollment.pk], headline=headline)
    return result
