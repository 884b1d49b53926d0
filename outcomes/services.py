"""Writes of outcomes: recording an assessment (its values and computed values as observations, and any
clinical alert, in one transaction), clinics' own measures, and editing batteries."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic import alerts
from clinic.models import AuditEntry, Clinic, ClinicalAlert, Enrollment, Measure, Membership, Observation
from clinic.prescriptions import age_on
from outcomes import computed
from outcomes import selectors as sel
from outcomes.models import Assessment, Battery, BatteryItem, Timepoint

ITEM9_MESSAGE = "Depression screen needs same-day follow-up (PHQ-9 item 9). See the latest assessment."
NOTES_MAX = 4000


@dataclass(frozen=True)
class Entry:
    """One typed value, in `unit` (the measure's unit when empty)."""

    value: Decimal
    unit: str = ""


def _number(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def _check_entry(measure: Measure, entry: Entry) -> tuple[Decimal | None, str | None]:
    """The value in the measure's unit, or the reason it is refused."""
    unit = entry.unit or measure.unit
    accepted = computed.units_accepted(measure.unit)
    if unit not in accepted:
        names = " or ".join(accepted)
        return None, f"{measure.name} is measured in {names}, not {unit}."
    places = measure.decimal_places
    if computed.decimal_places_of(entry.value) > places:
        return None, f"Give {measure.name} to {places} decimal places at most." if places else (
            f"Give {measure.name} as a whole number."
        )
    value = computed.to_measure_unit(entry.value, unit, measure.unit)
    low, high = measure.min_value, measure.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        shown_low = _number(low, places) if low is not None else "…"
        shown_high = _number(high, places) if high is not None else "…"
        return None, f"{measure.name} must be between {shown_low} and {shown_high} {computed.unit_label(measure.unit)}."
    return value, None


def _validate(
    *, clinic, enrollment, battery, timepoint, assessed_on, values: dict[str, Entry], notes, assessment
) -> dict[str, Decimal]:
    errors: dict[str, list[str]] = {}

    def add(key, message):
        errors.setdefault(key, []).append(message)

    today = timezone.localdate()
    if timepoint not in Timepoint.values:
        add("timepoint", "Choose baseline, interim or discharge.")
    elif timepoint not in battery.timepoints:
        add("timepoint", f"{battery.name} is not taken at {Timepoint(timepoint).label.lower()}.")
    if not battery.is_active and assessment is None:
        add("battery", f"{battery.name} is no longer in use.")
    if assessed_on < enrollment.start_date:
        add(
            "assessed_on", f"The assessment cannot be before the enrollment started ({enrollment.start_date:%m/%d/%Y})."
        )
    elif assessed_on > today:
        add("assessed_on", "The assessment cannot be in the future.")
    elif enrollment.ended_on and assessed_on > enrollment.ended_on:
        add("assessed_on", f"The enrollment ended on {enrollment.ended_on:%m/%d/%Y}.")
    if len(notes or "") > NOTES_MAX:
        add("notes", f"Keep the notes under {NOTES_MAX} characters.")
    items = {item.measure.code: item for item in battery.items.all()}
    cleaned: dict[str, Decimal] = {}
    for code, entry in values.items():
        item = items.get(code)
        if item is None:
            add(code, f"{code} is not a measure of {battery.name}.")
            continue
        if code in computed.COMPUTED:
            add(code, f"{item.measure.name} is computed from the other values; leave it out.")
            continue
        value, problem = _check_entry(item.measure, entry)
        if problem:
            add(code, problem)
        else:
            cleaned[code] = value
    for code, item in items.items():
        if item.required and code not in values and code not in computed.COMPUTED:
            add(code, f"{item.measure.name} is required in this battery.")
    if not values and not errors:
        add("__all__", "Enter at least one value.")
    total, item9 = cleaned.get(computed.PHQ9), cleaned.get(computed.PHQ9_ITEM9)
    if total is not None and item9 is not None and item9 > total:
        add(computed.PHQ9_ITEM9, "Item 9 cannot be more than the PHQ-9 total.")
    if timepoint in (Timepoint.BASELINE, Timepoint.DISCHARGE):
        existing = Assessment.objects.filter(
            clinic=clinic, enrollment=enrollment, battery=battery, timepoint=timepoint
        ).exclude(pk=assessment.pk if assessment else None)
        first = existing.first()
        if first is not None:
            add("timepoint", f"A {Timepoint(timepoint).label.lower()} of {battery.name} was recorded on "
                f"{first.assessed_on:%m/%d/%Y}: correct that one instead.")  # fmt: skip
    if errors:
        raise ValidationError(errors)
    return cleaned


def _computed_values(*, clinic, enrollment, assessed_on, cleaned, assessment_id) -> dict[str, Decimal]:
    """BMI, DASI METs and 6MWD % of predicted, from this assessment's values (height, and weight for the
    prediction, may come from the patient's latest earlier observation)."""
    measures = {m.code: m for m in Measure.objects.filter(clinic=None, code__in=computed.COMPUTED)}
    patient = enrollment.patient

    def latest(code):
        if code in cleaned:
            return cleaned[code]
        return sel.latest_value_before(
            clinic=clinic, patient_id=patient.pk, code=code, day=assessed_on, exclude_source_id=assessment_id
        )

    results: dict[str, Decimal | None] = {}
    height = latest(computed.HEIGHT)
    if computed.WEIGHT in cleaned and height:
        results[computed.BMI] = computed.bmi(weight_kg=cleaned[computed.WEIGHT], height_cm=height)
    if computed.DASI in cleaned:
        results[computed.DASI_METS] = computed.dasi_mets(cleaned[computed.DASI])
    weight = latest(computed.WEIGHT)
    if computed.SIX_MWD in cleaned and height and weight:
        results[computed.SIX_MWD_PCT] = computed.six_mwd_percent_predicted(
            distance_m=cleaned[computed.SIX_MWD], sex=patient.sex, age=age_on(patient.date_of_birth, assessed_on),
            height_cm=height, weight_kg=weight,
        )  # fmt: skip
    kept = {}
    for code, value in results.items():
        measure = measures.get(code)
        # A value outside the measure's range (a prediction for someone far outside the equation's population)
        # is left out rather than stored.
        if value is None or measure is None:
            continue
        if (measure.min_value is not None and value < measure.min_value) or (
            measure.max_value is not None and value > measure.max_value
        ):
            continue
        kept[code] = value
    return kept


def _observed_at(clinic: Clinic, day: datetime.date) -> datetime.datetime:
    """Noon of the assessment's day in the clinic's time zone: the same calendar day in any zone a reader
    converts to within eleven hours."""
    import zoneinfo

    return datetime.datetime.combine(day, datetime.time(12), tzinfo=zoneinfo.ZoneInfo(clinic.timezone))


@transaction.atomic
def assessment_record(
    *,
    clinic: Clinic,
    actor: Membership,
    enrollment: Enrollment,
    battery: Battery,
    timepoint: str,
    assessed_on: datetime.date,
    values: dict[str, Entry],
    notes: str = "",
    performed_by: Membership | None = None,
    assessment: Assessment | None = None,
) -> Assessment:
    """Record (or, given `assessment`, correct) one battery for one enrollment: the assessment row, one
    observation per value and per computed value (replacing a corrected assessment's), and an urgent
    clinical alert when PHQ-9 item 9 is above 0. Validates everything first; saves all or nothing."""
    if enrollment.clinic_id != clinic.pk or (battery.clinic_id not in (None, clinic.pk)):
        raise ValidationError("The enrollment or battery is not of this clinic.")
    if assessment is not None:
        assessment = Assessment.objects.select_for_update().get(pk=assessment.pk, clinic=clinic)
        if assessment.enrollment_id != enrollment.pk or assessment.battery_id != battery.pk:
            raise ValidationError("An assessment keeps its enrollment and battery.")
    cleaned = _validate(
        clinic=clinic, enrollment=enrollment, battery=battery, timepoint=timepoint, assessed_on=assessed_on,
        values=values, notes=notes, assessment=assessment,
    )  # fmt: skip
    if assessment is None:
        assessment = Assessment(clinic=clinic, patient_id=enrollment.patient_id, enrollment=enrollment, battery=battery)
    assessment.timepoint, assessment.assessed_on, assessment.notes = timepoint, assessed_on, (notes or "").strip()
    if performed_by is not None:
        assessment.performed_by = performed_by
    elif assessment.pk is None:
        assessment.performed_by = actor
    try:
        with transaction.atomic():
            assessment.save()
    except IntegrityError as error:  # another baseline saved meanwhile
        raise ValidationError(
            {"timepoint": "This timepoint was recorded meanwhile: correct that one instead."}
        ) from error
    derived = _computed_values(
        clinic=clinic, enrollment=enrollment, assessed_on=assessed_on, cleaned=cleaned, assessment_id=assessment.pk,
    )  # fmt: skip
    _write_observations(clinic=clinic, actor=actor, assessment=assessment, values={**cleaned, **derived})
    item9 = cleaned.get(computed.PHQ9_ITEM9)
    if item9 is not None and item9 > 0:
        alerts.alert_raise(
            clinic=clinic, patient_id=assessment.patient_id, enrollment_id=enrollment.pk,
            kind=ClinicalAlert.Kind.PHQ9_ITEM9, message=ITEM9_MESSAGE, source="assessment", source_id=assessment.pk,
        )  # fmt: skip
    return assessment


def _write_observations(*, clinic: Clinic, actor: Membership, assessment: Assessment, values: dict) -> None:
    """Replace the assessment's observations; a correction's changed values go to the audit trail (the
    assessment's own fields are logged by django-auditlog)."""
    earlier = Observation.objects.filter(clinic=clinic, source=Observation.Source.ASSESSMENT, source_id=assessment.pk)
    before = {code: str(value) for code, value in earlier.values_list("measure__code", "value")}
    earlier.delete()
    after = {code: str(Decimal(value).quantize(Decimal("0.001"))) for code, value in values.items()}
    changes = {code: [before.get(code, "None"), after.get(code, "None")]
               for code in sorted(set(before) | set(after)) if before.get(code) != after.get(code)}  # fmt: skip
    if before and changes:
        AuditEntry.objects.log_create(
            assessment, force_log=True, action=AuditEntry.Action.UPDATE, changes=changes, actor=actor.user,
            actor_email=actor.user.email,
        )  # fmt: skip
    measures = {m.code: m for m in Measure.objects.filter(clinic=None, code__in=list(values))}
    own = {m.code: m for m in Measure.objects.filter(clinic=clinic, code__in=list(values))}
    observed_at = _observed_at(clinic, assessment.assessed_on)
    Observation.objects.bulk_create(
        Observation(
            clinic=clinic,
            patient_id=assessment.patient_id,
            enrollment_id=assessment.enrollment_id,
            measure=measure,
            value=value,
            unit=measure.unit,
            observed_at=observed_at,
            source=Observation.Source.ASSESSMENT,
            source_id=assessment.pk,
            recorded_by=actor,
        )  # fmt: skip
        for code, value in values.items()
        if (measure := own.get(code) or measures.get(code)) is not None
    )


# --- Clinics' own measures --------------------------------------------------------------------

LOCAL_CODE_SYSTEM = "urn:medfit:clinic-measure"  # a clinic's own codes: unique within the clinic only
MEASURE_FIELDS = ["code", "name", "unit", "category", "min_value", "max_value", "decimal_places", "direction", "mcid",
                  "mcid_kind", "mcid_source", "is_active"]  # fmt: skip


@transaction.atomic
def measure_save(*, clinic: Clinic, actor: Membership, data: dict, measure: Measure | None = None) -> Measure:
    """A clinic's own measure (local code system). Shared measures are read-only."""
    if measure is not None and measure.clinic_id != clinic.pk:
        raise ValidationError("Shared measures cannot be changed; add your own instead.")
    code = (data.get("code") or "").strip()
    errors = {}
    if not code:
        errors["code"] = "Give the measure a code."
    elif Measure.objects.filter(clinic__isnull=True, code__iexact=code).exists():
        errors["code"] = f"{code} is a shared measure's code: choose another."
    elif Measure.objects.filter(clinic=clinic, code__iexact=code).exclude(pk=measure.pk if measure else None).exists():
        errors["code"] = f"This clinic already has a measure {code}."
    low, high = data.get("min_value"), data.get("max_value")
    if low is not None and high is not None and low >= high:
        errors["max_value"] = "The highest valid value must be above the lowest."
    if data.get("mcid") is not None and data["mcid"] <= 0:
        errors["mcid"] = "The MCID is a positive difference."
    if data.get("mcid") is not None and not (data.get("mcid_source") or "").strip():
        errors["mcid_source"] = "Say where the MCID comes from."
    if errors:
        raise ValidationError(errors)
    measure = measure or Measure(clinic=clinic, code_system=LOCAL_CODE_SYSTEM)
    for name in MEASURE_FIELDS:
        if name in data:
            setattr(measure, name, data[name])
    measure.code = code
    measure.full_clean(exclude=["clinic"])
    measure.save()
    return measure


# --- Batteries ---------------------------------------------------------------------------------


@transaction.atomic
def battery_copy(*, clinic: Clinic, actor: Membership, battery: Battery) -> Battery:
    """The clinic's own editable copy of a shared default, standing in for it from now on."""
    if battery.clinic_id is not None:
        raise ValidationError("Only shared batteries are copied; edit this one directly.")
    existing = Battery.objects.filter(clinic=clinic, based_on=battery).first()
    if existing is not None:
        return existing
    copy = Battery.objects.create(
        clinic=clinic, program_type=battery.program_type, name=battery.name, timepoints=list(battery.timepoints),
        is_active=battery.is_active, based_on=battery, source=battery.source,
    )  # fmt: skip
    BatteryItem.objects.bulk_create(
        BatteryItem(clinic=clinic, battery=copy, measure_id=item.measure_id, order=item.order, required=item.required)
        for item in battery.items.all()
    )
    return copy


@transaction.atomic
def battery_save(
    *, clinic: Clinic, actor: Membership, battery: Battery, data: dict, items: list[tuple[int, bool]]
) -> Battery:
    """Rename, retime or (de)activate a clinic's battery and set its measures: `items` is (measure id,
    required) in order. Past assessments keep their observations whatever the battery becomes."""
    if battery.clinic_id != clinic.pk:
        raise ValidationError("Shared batteries are read-only: make your clinic's copy first.")
    errors = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = "Give the battery a name."
    elif (
        Battery.objects.filter(clinic=clinic, program_type=battery.program_type, name=name)
        .exclude(pk=battery.pk)
        .exists()
    ):
        errors["name"] = "Another battery of this program type has that name."
    timepoints = [t for t in Timepoint.values if t in (data.get("timepoints") or [])]
    if not timepoints:
        errors["timepoints"] = "Choose at least one timepoint."
    allowed = {m.pk for m in sel.measures_for(clinic=clinic).filter(is_active=True)}
    ids = [measure_id for measure_id, _ in items]
    if len(ids) != len(set(ids)):
        errors["items"] = "Each measure appears once."
    elif not ids:
        errors["items"] = "A battery needs at least one measure."
    elif any(measure_id not in allowed for measure_id in ids):
        errors["items"] = "Choose measures of the catalog."
    if errors:
        raise ValidationError(errors)
    battery.name, battery.timepoints = name, timepoints
    battery.is_active = data.get("is_active", battery.is_active)
    battery.save(update_fields=["name", "timepoints", "is_active"])
    BatteryItem.objects.filter(battery=battery).delete()
    BatteryItem.objects.bulk_create(
        BatteryItem(clinic=clinic, battery=battery, measure_id=measure_id, order=order, required=required)
        for order, (measure_id, required) in enumerate(items, start=1)
    )
    return battery
