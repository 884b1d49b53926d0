"""Reads of measures, batteries, assessments and observations, each scoped to the clinic and the acting
membership (physicians see only their own patients' assessments; billing none: the permission table)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from clinic.models import Clinic, Enrollment, Measure, MeasureBand, Membership, Observation, Patient
from clinic.prescriptions import age_on
from clinic.selectors import measures_for, patients_visible_to
from outcomes import computed
from outcomes.models import Assessment, Battery, BatteryItem

# --- Measures ----------------------------------------------------------------------------------


def measure_get(*, clinic: Clinic, measure_id: int) -> Measure:
    measure = measures_for(clinic=clinic).filter(pk=measure_id).first()
    if measure is None:
        raise Http404
    return measure


def band_of(*, measure: Measure, value: Decimal, sex: str, age: int | None) -> MeasureBand | None:
    """The first band of the measure that holds the value for this sex and age (bands prefetched)."""
    for band in measure.bands.all():
        if band.contains(value, sex=sex, age=age):
            return band
    return None


# --- Batteries ---------------------------------------------------------------------------------


def _items():
    return Prefetch("items", queryset=BatteryItem.objects.select_related("measure").order_by("order", "pk"))


def batteries_for(*, clinic: Clinic, program_type: str | None = None, active_only: bool = False) -> list[Battery]:
    """The clinic's batteries and the shared defaults it has not replaced by a copy of its own."""
    batteries = Battery.objects.filter(Q(clinic__isnull=True) | Q(clinic=clinic))
    if program_type:
        batteries = batteries.filter(program_type=program_type)
    if active_only:
        batteries = batteries.filter(is_active=True)
    rows = list(batteries.prefetch_related(_items()).order_by("program_type", "name", "pk"))
    replaced = {b.based_on_id for b in rows if b.clinic_id is not None and b.based_on_id}
    return [b for b in rows if b.pk not in replaced]


def battery_get(*, clinic: Clinic, battery_id: int) -> Battery:
    battery = (
        Battery.objects.filter(Q(clinic__isnull=True) | Q(clinic=clinic), pk=battery_id)
        .prefetch_related(_items())
        .first()
    )
    if battery is None:
        raise Http404
    return battery


# --- Assessments -------------------------------------------------------------------------------


def assessments_visible_to(membership: Membership) -> QuerySet[Assessment]:
    return (
        Assessment.objects.filter(clinic_id=membership.clinic_id, patient__in=patients_visible_to(membership))
        .select_related("battery", "enrollment__program", "patient", "performed_by__user")
        .order_by("-assessed_on", "-pk")
    )


def assessment_get(*, membership: Membership, assessment_id: int, enrollment: Enrollment | None = None) -> Assessment:
    assessments = assessments_visible_to(membership).filter(pk=assessment_id)
    if enrollment is not None:
        assessments = assessments.filter(enrollment=enrollment)
    assessment = assessments.first()
    if assessment is None:
        raise Http404
    return assessment


def assessments_of(*, clinic: Clinic, enrollment: Enrollment) -> list[Assessment]:
    return list(
        Assessment.objects.filter(clinic=clinic, enrollment=enrollment)
        .select_related("battery", "performed_by__user")
        .prefetch_related("battery__items")
        .order_by("-assessed_on", "-pk")
    )


def assessments_of_patient(*, clinic: Clinic, patient: Patient) -> list[Assessment]:
    return list(
        Assessment.objects.filter(clinic=clinic, patient=patient)
        .select_related("battery", "enrollment__program")
        .order_by("-assessed_on", "-pk")
    )


def observations_of(*, clinic: Clinic, assessment_ids) -> dict[int, list[Observation]]:
    """The observations of each assessment, in catalog order; measures and their bands prefetched."""
    rows = (
        Observation.objects.filter(
            clinic=clinic, source=Observation.Source.ASSESSMENT, source_id__in=list(assessment_ids)
        )
        .select_related("measure")
        .prefetch_related("measure__bands")
        .order_by("source_id", "pk")
    )
    by_assessment: dict[int, list[Observation]] = {}
    for row in rows:
        by_assessment.setdefault(row.source_id, []).append(row)
    return by_assessment


@dataclass
class Result:
    measure: Measure
    value: Decimal
    unit: str
    computed: bool
    band: MeasureBand | None
    shown_unit: str  # the clinic's unit for body measures (lb, in), else the measure's

    @property
    def shown(self) -> str:
        value = computed.from_measure_unit(self.value, self.unit, self.shown_unit, self.measure.decimal_places)
        return f"{value:.{self.measure.decimal_places}f}"

    @property
    def unit_label(self) -> str:
        return computed.unit_label(self.shown_unit)


def assessment_results(*, clinic: Clinic, assessment: Assessment, observations: list[Observation]) -> list[Result]:
    """The assessment's values in battery order (computed ones last), each with its norm or risk band and
    in the clinic's units."""
    patient = assessment.patient
    age = age_on(patient.date_of_birth, assessment.assessed_on)
    order = {item.measure_id: item.order for item in assessment.battery.items.all()}
    rows = sorted(observations, key=lambda o: (o.measure.code in computed.COMPUTED, order.get(o.measure_id, 999)))
    return [
        Result(
            measure=o.measure,
            value=o.value,
            unit=o.unit,
            computed=o.measure.code in computed.COMPUTED,
            band=band_of(measure=o.measure, value=o.value, sex=patient.sex, age=age),
            shown_unit=computed.clinic_unit(o.unit, clinic),
        )  # fmt: skip
        for o in rows
    ]


def latest_value_before(
    *, clinic: Clinic, patient_id: int, code: str, day: datetime.date, exclude_source_id: int | None = None
) -> Decimal | None:
    """The patient's latest value of a shared measure observed on or before `day` (for a height taken at an
    earlier assessment)."""
    rows = Observation.objects.filter(
        clinic=clinic, patient_id=patient_id, measure__clinic__isnull=True, measure__code=code,
        observed_at__date__lte=day,
    )  # fmt: skip
    if exclude_source_id is not None:
        rows = rows.exclude(source=Observation.Source.ASSESSMENT, source_id=exclude_source_id)
    row = rows.order_by("-observed_at", "-pk").values_list("value", flat=True).first()
    return row


# --- Observations (API) ------------------------------------------------------------------------


def observations_visible_to(membership: Membership) -> QuerySet[Observation]:
    return (
        Observation.objects.filter(clinic_id=membership.clinic_id, patient__in=patients_visible_to(membership))
        .select_related("measure")
        .order_by("-observed_at", "-pk")
    )
