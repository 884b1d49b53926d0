"""Exercise prescriptions (FITT-VP): the heart-rate calculations, the reads and the one write.

The calculations are small pure functions (domain.md §5.2): HRmax measured or estimated (220 − age,
Tanaka 208 − 0.7 × age, Gellish 207 − 0.7 × age), and the target range by Karvonen
((HRmax − HRrest) × % + HRrest) or as a percentage of HRmax. The enrollment's heart-rate ceiling caps
what they compute, and a patient on a beta-blocker gets no heart-rate-based aerobic intensity at all.

Saving never edits a prescription: it writes version n + 1 and marks version n superseded, in one
transaction, with the enrollment's row locked so that two people saving at once take turns. The
second of them, who started from version n, is told that someone else just saved version n + 1.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from clinic.compiled import CompiledQuery, columns_of, loaded_row, paths_of
from clinic.models import (
    Clinic,
    Enrollment,
    ExercisePrescription,
    HrMaxMethod,
    Membership,
    Patient,
    PrescriptionComponent,
    Program,
)
from clinic.selectors import SEES_ALL, SEES_LINKED, patient_visibility, patients_seen, patients_visible_to

Kind = PrescriptionComponent.Kind
Intensity = PrescriptionComponent.Intensity

HR_METHODS = {Intensity.HRR, Intensity.HRMAX, Intensity.TARGET_HR}
PERCENT_HR_METHODS = {Intensity.HRR, Intensity.HRMAX}

# Which intensity expressions suit which kind of work, and the values each may take (low, high).
METHODS_BY_KIND = {
    Kind.AEROBIC: {Intensity.HRR, Intensity.HRMAX, Intensity.TARGET_HR, Intensity.RPE, Intensity.CR10,
                   Intensity.METS, Intensity.WATTS, Intensity.SPEED_GRADE},
    Kind.RESISTANCE: {Intensity.RPE, Intensity.CR10, Intensity.PCT_1RM, Intensity.LOAD},
    Kind.FLEXIBILITY: {Intensity.RPE, Intensity.CR10},
    Kind.NEUROMOTOR: {Intensity.RPE, Intensity.CR10},
}  # fmt: skip
RANGES = {
    Intensity.HRR: (Decimal(20), Decimal(100), "% of heart-rate reserve"),
    Intensity.HRMAX: (Decimal(30), Decimal(100), "% of HRmax"),
    Intensity.TARGET_HR: (Decimal(40), Decimal(250), "bpm"),
    Intensity.RPE: (Decimal(6), Decimal(20), "on the 6–20 scale"),
    Intensity.CR10: (Decimal(0), Decimal(10), "on the 0–10 scale"),
    Intensity.METS: (Decimal(1), Decimal(20), "METs"),
    Intensity.WATTS: (Decimal(5), Decimal(1000), "watts"),
    Intensity.PCT_1RM: (Decimal(10), Decimal(100), "% of 1RM"),
    Intensity.LOAD: (Decimal("0.5"), Decimal(500), "kg"),
}
SPEED_RANGE = (Decimal("0.5"), Decimal("12.0"))  # mph
GRADE_RANGE = (Decimal(0), Decimal(25))  # %

COMPONENT_FIELDS = [
    "frequency_per_week", "intensity_method", "intensity_low", "intensity_high", "speed_mph", "grade_percent",
    "minutes", "sets", "reps", "modality", "volume", "progression",
]  # fmt: skip
PRESCRIPTION_FIELDS = ["resting_hr", "hr_max_method", "hr_max_measured", "notes"]

CONFLICT_MESSAGE = (
    "Someone else just saved version {version} of this prescription. Reload to see it, then make your change again."
)


# --- The calculations ---------------------------------------------------------------------------


def _round(value: Decimal) -> int:
    """Half up (a target of 123.5 bpm is 124), not Python's round-half-to-even."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def age_on(date_of_birth: datetime.date, day: datetime.date) -> int:
    """Age in whole years on `day`."""
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def hr_max_220_minus_age(age: int) -> int:
    return 220 - age


def hr_max_tanaka(age: int) -> int:
    """Tanaka, Monahan & Seals 2001: 208 − 0.7 × age."""
    return _round(Decimal(208) - Decimal("0.7") * age)


def hr_max_gellish(age: int) -> int:
    """Gellish et al. 2007: 207 − 0.7 × age."""
    return _round(Decimal(207) - Decimal("0.7") * age)


def hr_max_for(method: str, *, age: int, measured: int | None = None) -> int | None:
    """HRmax by the recorded method; None when the method is "measured" and nothing was measured."""
    if method == HrMaxMethod.MEASURED:
        return measured
    return {
        HrMaxMethod.AGE: hr_max_220_minus_age,
        HrMaxMethod.TANAKA: hr_max_tanaka,
        HrMaxMethod.GELLISH: hr_max_gellish,
    }[method](age)


def karvonen(*, resting_hr: int, hr_max: int, percent) -> int:
    """Target heart rate at `percent` of the heart-rate reserve: (HRmax − HRrest) × % + HRrest."""
    return _round((hr_max - resting_hr) * Decimal(percent) / 100 + resting_hr)


def percent_of_hr_max(*, hr_max: int, percent) -> int:
    return _round(hr_max * Decimal(percent) / 100)


@dataclass(frozen=True)
class TargetRange:
    """A target heart-rate range: as computed, and as prescribed after the ceiling."""

    low: int
    high: int
    computed_low: int
    computed_high: int
    ceiling: int | None

    @property
    def capped(self) -> bool:
        return self.high < self.computed_high


def target_range(
    *, method: str, low, high, resting_hr: int | None, hr_max: int | None, ceiling: int | None
) -> TargetRange | None:
    """The target range of an HR-based intensity, capped at `ceiling`; None for other methods or
    when an input is missing (validation says which)."""
    if method == Intensity.HRR:
        if resting_hr is None or hr_max is None:
            return None
        computed = (karvonen(resting_hr=resting_hr, hr_max=hr_max, percent=p) for p in (low, high))
    elif method == Intensity.HRMAX:
        if hr_max is None:
            return None
        computed = (percent_of_hr_max(hr_max=hr_max, percent=p) for p in (low, high))
    elif method == Intensity.TARGET_HR:
        computed = (_round(low), _round(high))
    else:
        return None
    computed_low, computed_high = computed
    capped_low, capped_high = computed_low, computed_high
    if ceiling is not None:
        capped_low, capped_high = min(computed_low, ceiling), min(computed_high, ceiling)
    return TargetRange(capped_low, capped_high, computed_low, computed_high, ceiling)


# --- Reading a saved prescription ---------------------------------------------------------------


def prescription_age(prescription: ExercisePrescription, enrollment: Enrollment) -> int:
    """The patient's age on the day the prescription was written (in the clinic's time zone)."""
    return age_on(enrollment.patient.date_of_birth, timezone.localdate(prescription.created_at))


def prescription_hr_max(prescription: ExercisePrescription, enrollment: Enrollment) -> int | None:
    return hr_max_for(
        prescription.hr_max_method,
        age=prescription_age(prescription, enrollment),
        measured=prescription.hr_max_measured,
    )


def component_target(component: PrescriptionComponent, prescription, enrollment) -> TargetRange | None:
    """The component's saved target range, with what it was computed as before the ceiling (so a page can
    say it was capped). Recomputed from the saved inputs, which the saved range came from."""
    if component.target_hr_low is None or component.intensity_method not in HR_METHODS:
        return None
    computed = target_range(
        method=component.intensity_method, low=component.intensity_low, high=component.intensity_high,
        resting_hr=prescription.resting_hr, hr_max=prescription_hr_max(prescription, enrollment), ceiling=None,
    )  # fmt: skip
    computed_low = computed.computed_low if computed else component.target_hr_low
    computed_high = computed.computed_high if computed else component.target_hr_high
    capped = component.target_hr_high < computed_high
    # When capped, the saved high end is the ceiling that was in force on the day.
    ceiling = component.target_hr_high if capped else enrollment.hr_ceiling
    return TargetRange(component.target_hr_low, component.target_hr_high, computed_low, computed_high, ceiling)


# --- Selectors ----------------------------------------------------------------------------------


# The enrollment with its patient and program, every column of each as select_related reads them, compiled once
# per kind of visibility (clinic.compiled): through the ORM, compiling the query with patients_visible_to's
# subquery was about 3 ms of CPU of the Progress page (issue 11), ten times its running.
_ENROLLMENT_PARTS = [
    (Enrollment, "", columns_of(Enrollment)), (Patient, "patient__", columns_of(Patient)),
    (Program, "program__", columns_of(Program)),
]  # fmt: skip


def _enrollment_query(visibility: str) -> CompiledQuery:
    def build(clinic_id, patient_id, enrollment_id, membership_id=None):
        visible = patients_seen(visibility=visibility, clinic_id=clinic_id, membership_id=membership_id)
        return Enrollment.objects.filter(
            clinic_id=clinic_id, pk=enrollment_id, patient_id=patient_id, patient__in=visible
        ).values_list(*paths_of(_ENROLLMENT_PARTS))

    samples = {"clinic_id": -1, "patient_id": -2, "enrollment_id": -3}
    if visibility == SEES_LINKED:  # a physician's own patients: the member is in the query
        samples["membership_id"] = -4
    return CompiledQuery(build, **samples)


ENROLLMENT_SEEN = {visibility: _enrollment_query(visibility) for visibility in (SEES_ALL, SEES_LINKED)}


def enrollment_get(*, membership: Membership, patient_id: int, enrollment_id: int) -> Enrollment:
    """The enrollment of a patient this member may see; otherwise 404."""
    visibility = patient_visibility(membership)
    if visibility not in ENROLLMENT_SEEN:
        raise Http404
    values = {"clinic_id": membership.clinic_id, "patient_id": patient_id, "enrollment_id": enrollment_id}
    if visibility == SEES_LINKED:
        values["membership_id"] = membership.pk
    rows = ENROLLMENT_SEEN[visibility].rows(**values)
    if not rows:
        raise Http404
    # The instances as the ORM makes them (Model.from_db), the patient and program where select_related puts them.
    enrollment, patient, program = loaded_row(rows[0], _ENROLLMENT_PARTS)
    enrollment.patient, enrollment.program = patient, program
    return enrollment


def enrollment_get_by_id(*, membership: Membership, enrollment_id: int) -> Enrollment:
    """As enrollment_get, for the API's paths, which name the enrollment alone."""
    enrollment = (
        Enrollment.objects.select_related("patient", "program")
        .filter(clinic_id=membership.clinic_id, pk=enrollment_id, patient__in=patients_visible_to(membership))
        .first()
    )
    if enrollment is None:
        raise Http404
    return enrollment


def prescriptions_of(*, enrollment: Enrollment) -> QuerySet[ExercisePrescription]:
    """Every version, newest first, with its components and author in a bounded number of queries.

    Each row carries `patient_id`, so an access entry for it names the patient."""
    return (
        ExercisePrescription.objects.filter(clinic_id=enrollment.clinic_id, enrollment=enrollment)
        .select_related("created_by__user")
        .prefetch_related(
            Prefetch("components", queryset=PrescriptionComponent.objects.filter(clinic_id=enrollment.clinic_id))
        )
        .annotate(patient_id=F("enrollment__patient_id"))
        .order_by("-version")
    )


def prescription_current(*, enrollment: Enrollment) -> ExercisePrescription | None:
    return prescriptions_of(enrollment=enrollment).filter(superseded_at__isnull=True).first()


def prescription_get(*, enrollment: Enrollment, version: int) -> ExercisePrescription:
    prescription = prescriptions_of(enrollment=enrollment).filter(version=version).first()
    if prescription is None:
        raise Http404
    return prescription


def current_prescriptions(*, clinic: Clinic, enrollment_ids) -> dict[int, ExercisePrescription]:
    """The current version of each enrollment's prescription, with its components, in two queries
    whatever the number of enrollments (for a class's floor sheet). Enrollments without one are absent."""
    prescriptions = (
        ExercisePrescription.objects.filter(
            clinic=clinic, enrollment_id__in=list(enrollment_ids), superseded_at__isnull=True
        )
        .prefetch_related(Prefetch("components", queryset=PrescriptionComponent.objects.filter(clinic=clinic)))
        .annotate(patient_id=F("enrollment__patient_id"))
    )
    return {prescription.enrollment_id: prescription for prescription in prescriptions}


# --- The write ----------------------------------------------------------------------------------


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _is_empty(data: dict) -> bool:
    return all(data.get(name) in (None, "") for name in COMPONENT_FIELDS)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _check_intensity(kind: str, data: dict, enrollment: Enrollment, errors: dict) -> None:
    method = data.get("intensity_method") or ""
    low, high = _decimal(data.get("intensity_low")), _decimal(data.get("intensity_high"))
    key = f"{kind}.%s"
    label = Kind(kind).label.lower()
    if not method:
        if low is not None or high is not None or data.get("speed_mph") not in (None, ""):
            errors[key % "intensity_method"] = "Choose how the intensity is expressed."
        return
    if method not in Intensity.values:
        errors[key % "intensity_method"] = f"Unknown intensity method {method!r}."
        return
    if method not in METHODS_BY_KIND[kind]:
        allowed = ", ".join(Intensity(m).label for m in Intensity if m in METHODS_BY_KIND[kind])
        errors[key % "intensity_method"] = f"{Intensity(method).label} does not suit {label} work; use {allowed}."
        return
    if kind == Kind.AEROBIC and method in HR_METHODS and enrollment.beta_blocker:
        errors[key % "intensity_method"] = (
            "This patient takes a beta-blocker, so heart-rate targets are unreliable: prescribe aerobic intensity "
            "by RPE (6–20 or CR10) or the talk test instead."
        )
        return
    if method == Intensity.SPEED_GRADE:
        speed, grade = _decimal(data.get("speed_mph")), _decimal(data.get("grade_percent"))
        if speed is None:
            errors[key % "speed_mph"] = "Enter the treadmill speed."
        elif not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
            errors[key % "speed_mph"] = "Treadmill speed must be between 0.5 and 12 mph."
        if grade is not None and not GRADE_RANGE[0] <= grade <= GRADE_RANGE[1]:
            errors[key % "grade_percent"] = "Grade must be between 0 and 25 %."
        return
    if low is None:
        errors[key % "intensity_low"] = "Enter the intensity (the low end of the range)."
        return
    minimum, maximum, unit = RANGES[method]
    for name, value in (("intensity_low", low), ("intensity_high", high)):
        if value is not None and not minimum <= value <= maximum:
            errors[key % name] = f"{Intensity(method).label}: enter {_fmt(minimum)}–{_fmt(maximum)} {unit}."
    if high is not None and high < low:
        errors[key % "intensity_high"] = "The high end of the range is below the low end."


def _check_time(kind: str, data: dict, errors: dict) -> None:
    sets, reps = data.get("sets"), data.get("reps")
    if (sets in (None, "")) != (reps in (None, "")):
        errors[f"{kind}.{'reps' if reps in (None, '') else 'sets'}"] = "Enter both sets and repetitions, or neither."


def _validate(*, enrollment: Enrollment, data: dict, components: dict[str, dict], today: datetime.date) -> dict:
    """Every problem at once, keyed by field ("aerobic.intensity_low" for a component's field)."""
    errors: dict[str, str] = {}
    if enrollment.status in (Enrollment.Status.COMPLETED, Enrollment.Status.DISCHARGED):
        errors["__all__"] = (
            f"This enrollment is {enrollment.get_status_display().lower()}; its prescriptions can be read, not changed."
        )
        return errors
    method = data.get("hr_max_method") or HrMaxMethod.AGE
    if method not in HrMaxMethod.values:
        errors["hr_max_method"] = "Choose how HRmax was found."
        return errors
    measured, resting = data.get("hr_max_measured"), data.get("resting_hr")
    if method == HrMaxMethod.MEASURED and measured in (None, ""):
        errors["hr_max_measured"] = "Enter the peak heart rate measured in the exercise test, or estimate HRmax."
    age = age_on(enrollment.patient.date_of_birth, today)
    # A peak typed in before switching to an estimate is not saved (prescription_save) and not used.
    measured = measured if method == HrMaxMethod.MEASURED and measured not in (None, "") else None
    hr_max = hr_max_for(method, age=age, measured=measured)
    if resting not in (None, "") and hr_max is not None and int(resting) >= hr_max:
        errors["resting_hr"] = f"Resting heart rate must be below HRmax ({hr_max} bpm)."

    present = {kind: values for kind, values in components.items() if not _is_empty(values)}
    if not present:
        errors["__all__"] = "Prescribe at least one component: aerobic, resistance, flexibility or neuromotor."
    for kind, values in present.items():
        _check_intensity(kind, values, enrollment, errors)
        _check_time(kind, values, errors)
        if values.get("intensity_method") == Intensity.HRR and resting in (None, ""):
            errors.setdefault("resting_hr", "Enter the resting heart rate: the Karvonen formula needs it.")
        if values.get("intensity_method") in PERCENT_HR_METHODS and hr_max is None:
            errors.setdefault("hr_max_measured", "Enter the measured peak heart rate: the target range needs HRmax.")
    if errors:
        return errors
    for kind, values in present.items():
        method = values.get("intensity_method")
        if method in HR_METHODS:
            low = _decimal(values["intensity_low"])
            high = _decimal(values.get("intensity_high")) or low
            target = target_range(
                method=method, low=low, high=high, resting_hr=resting, hr_max=hr_max, ceiling=enrollment.hr_ceiling
            )
            if target is not None and enrollment.hr_ceiling is not None and target.computed_low > target.low:
                errors[f"{kind}.intensity_low"] = (
                    f"The whole target range ({target.computed_low}–{target.computed_high} bpm) is above this "
                    f"patient's heart-rate ceiling of {enrollment.hr_ceiling} bpm: lower the intensity."
                )
    return errors


@transaction.atomic
def prescription_save(
    *,
    clinic: Clinic,
    actor: Membership,
    enrollment: Enrollment,
    data: dict,
    components: dict[str, dict],
    based_on_version: int | None = None,
    written_at: datetime.datetime | None = None,
) -> ExercisePrescription:
    """Write a new version of the enrollment's prescription and supersede the current one.

    `components` maps a kind (aerobic, …) to its fields; a kind left empty is not prescribed.
    `based_on_version` is the version the author started from (0 for "there was none"): when another
    version was saved meanwhile, nothing is written and the author is told to reload. None skips the check.
    `written_at` (default now) is for imports and demo data of prescriptions written on paper earlier.
    """
    if enrollment.clinic_id != clinic.pk or actor.clinic_id != clinic.pk:
        raise ValidationError("This enrollment belongs to another clinic.")
    unknown = set(components) - set(Kind.values)
    if unknown:
        raise ValidationError({"components": f"Unknown component: {', '.join(sorted(unknown))}."})
    # Saves of one enrollment's prescription take turns from here; the precautions are read under the lock.
    enrollments = Enrollment.objects.select_for_update(of=("self",)).select_related("patient")
    locked = enrollments.get(clinic=clinic, pk=enrollment.pk)
    now = written_at or timezone.now()
    errors = _validate(enrollment=locked, data=data, components=components, today=timezone.localdate(now))
    if errors:
        raise ValidationError(errors)
    prescriptions = ExercisePrescription.objects.filter(clinic=clinic, enrollment=locked)
    current = prescriptions.filter(superseded_at__isnull=True).first()
    if based_on_version is not None and (current.version if current else 0) != based_on_version:
        raise ValidationError(CONFLICT_MESSAGE.format(version=current.version if current else "?"))
    version = (prescriptions.aggregate(latest=Max("version"))["latest"] or 0) + 1

    method = data.get("hr_max_method") or HrMaxMethod.AGE
    prescription = ExercisePrescription(
        clinic=clinic, enrollment=locked, version=version, created_by=actor, created_at=now,
        resting_hr=data.get("resting_hr"), hr_max_method=method,
        hr_max_measured=data.get("hr_max_measured") if method == HrMaxMethod.MEASURED else None,
        notes=(data.get("notes") or "").strip(),
    )  # fmt: skip
    prescription.patient_id = locked.patient_id  # names the patient in the audit trail's entry
    hr_max = prescription_hr_max(prescription, locked)
    try:
        with transaction.atomic():
            if current is not None:
                current.superseded_at = now
                current.patient_id = locked.patient_id
                current.save(update_fields=["superseded_at"])
            prescription.full_clean(exclude=["clinic", "enrollment", "created_by"], validate_constraints=False)
            prescription.save()
            for kind in Kind.values:
                values = components.get(kind) or {}
                if _is_empty(values):
                    continue
                _component_save(prescription, kind, values, hr_max=hr_max, ceiling=locked.hr_ceiling)
    except IntegrityError as error:  # a save that did not take the lock (or a version written by hand)
        raise ValidationError(CONFLICT_MESSAGE.format(version=version)) from error
    return prescription


def _component_save(prescription, kind, values, *, hr_max, ceiling) -> PrescriptionComponent:
    method = values.get("intensity_method") or ""
    low = _decimal(values.get("intensity_low"))
    high = _decimal(values.get("intensity_high"))
    if method and method != Intensity.SPEED_GRADE and high is None:
        high = low  # a single value is a range of one
    component = PrescriptionComponent(
        clinic_id=prescription.clinic_id, prescription=prescription, kind=kind,
        frequency_per_week=values.get("frequency_per_week"), intensity_method=method,
        intensity_low=low if method != Intensity.SPEED_GRADE else None,
        intensity_high=high if method != Intensity.SPEED_GRADE else None,
        speed_mph=_decimal(values.get("speed_mph")) if method == Intensity.SPEED_GRADE else None,
        grade_percent=_decimal(values.get("grade_percent")) if method == Intensity.SPEED_GRADE else None,
        minutes=values.get("minutes"), sets=values.get("sets"), reps=values.get("reps"),
        modality=(values.get("modality") or "").strip(), volume=(values.get("volume") or "").strip(),
        progression=(values.get("progression") or "").strip(),
    )  # fmt: skip
    target = target_range(
        method=method, low=low, high=high, resting_hr=prescription.resting_hr, hr_max=hr_max, ceiling=ceiling
    )
    if target is not None:
        component.target_hr_low, component.target_hr_high = target.low, target.high
    component.patient_id = prescription.patient_id
    try:
        component.full_clean(exclude=["clinic", "prescription"], validate_constraints=False)
    except ValidationError as error:
        errors = {f"{kind}.{field}": messages for field, messages in error.message_dict.items()}
        raise ValidationError(errors) from error
    component.save()
    return component


def prescription_initial(prescription: ExercisePrescription | None) -> tuple[dict, dict[str, dict]]:
    """The fields of a saved version, as the starting point of the next one."""
    if prescription is None:
        return {"hr_max_method": HrMaxMethod.AGE}, {}
    data = {name: getattr(prescription, name) for name in PRESCRIPTION_FIELDS}
    components = {c.kind: {name: getattr(c, name) for name in COMPONENT_FIELDS} for c in prescription.components.all()}
    return data, components


# --- Plain language, for the pages and the patient's copy ----------------------------------------

INTENSITY_WORDS = {
    Intensity.HRR: "{range} % of heart-rate reserve",
    Intensity.HRMAX: "{range} % of maximum heart rate",
    Intensity.TARGET_HR: "heart rate {range} beats per minute",
    Intensity.RPE: "effort {range} on the 6–20 scale",
    Intensity.CR10: "effort {range} on the 0–10 scale",
    Intensity.METS: "{range} METs",
    Intensity.WATTS: "{range} watts",
    Intensity.PCT_1RM: "{range} % of your one-repetition maximum",
    Intensity.LOAD: "{range} kg",
}


def _range_text(low, high) -> str:
    if low is None:
        return ""
    if high is None or high == low:
        return _fmt(low)
    return f"{_fmt(low)}–{_fmt(high)}"


@dataclass(frozen=True)
class ComponentText:
    component: PrescriptionComponent
    kind: str
    frequency: str
    intensity: str
    target: TargetRange | None
    time: str


def describe(prescription: ExercisePrescription, enrollment: Enrollment) -> list[ComponentText]:
    """Each component of a version in words: "3 days a week", "effort 12–13 on the 6–20 scale", …"""
    described = []
    for component in prescription.components.all():
        method = component.intensity_method
        if method == Intensity.SPEED_GRADE:
            intensity = f"{_fmt(component.speed_mph)} mph at {_fmt(component.grade_percent or Decimal(0))} % grade"
        elif method:
            range_text = _range_text(component.intensity_low, component.intensity_high)
            intensity = INTENSITY_WORDS[method].format(range=range_text)
        else:
            intensity = ""
        times = []
        if component.minutes:
            times.append(f"{component.minutes} minutes")
        if component.sets and component.reps:
            times.append(f"{component.sets} sets of {component.reps} repetitions")
        frequency = ""
        if component.frequency_per_week:
            frequency = f"{component.frequency_per_week} day{'s' if component.frequency_per_week > 1 else ''} a week"
        described.append(
            ComponentText(
                component=component,
                kind=component.get_kind_display(),
                frequency=frequency,
                intensity=intensity,
                target=component_target(component, prescription, enrollment),
                time=", ".join(times),
            )  # fmt: skip
        )
    return described


# --- A preview while the form is filled in ------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    hr_max: int | None
    age: int
    targets: dict[str, TargetRange]
    errors: dict[str, str]


def prescription_preview(*, enrollment: Enrollment, data: dict, components: dict[str, dict]) -> Preview:
    """What saving these values would compute and refuse, without writing anything."""
    today = timezone.localdate()
    present = {kind: values for kind, values in components.items() if kind in Kind.values and not _is_empty(values)}
    errors = _validate(enrollment=enrollment, data=data, components=present, today=today) if present else {}
    method = data.get("hr_max_method") or HrMaxMethod.AGE
    if method not in HrMaxMethod.values:
        method = HrMaxMethod.AGE
    age = age_on(enrollment.patient.date_of_birth, today)
    measured = data.get("hr_max_measured") if method == HrMaxMethod.MEASURED else None
    hr_max = hr_max_for(method, age=age, measured=measured or None)
    targets = {}
    for kind, values in present.items():
        low = _decimal(values.get("intensity_low"))
        if values.get("intensity_method") not in HR_METHODS or low is None or any(k.startswith(kind) for k in errors):
            continue
        target = target_range(
            method=values["intensity_method"], low=low, high=_decimal(values.get("intensity_high")) or low,
            resting_hr=data.get("resting_hr"), hr_max=hr_max, ceiling=enrollment.hr_ceiling,
        )  # fmt: skip
        if target is not None:
            targets[Kind(kind).label] = target
    return Preview(hr_max=hr_max, age=age, targets=targets, errors=errors)
