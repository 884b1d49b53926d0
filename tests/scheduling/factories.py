"""Small builders for scheduling tests: rows made through the ORM, as the schedules helper's services
are not the subject here."""

import datetime
import importlib

from django.utils import timezone

from clinic.models import Enrollment, ExercisePrescription, Measure, PrescriptionComponent, Program
from scheduling.models import Booking, Occurrence, SafetyRule
from tests.conftest import make_patient, make_program


def ensure_reference_data() -> None:
    """Safety rules and measures are loaded by migrations; a transactional test's flush empties them."""
    if not SafetyRule.objects.exists():
        rules = importlib.import_module("scheduling.migrations.0002_safety_rules")
        for code, field, comparator, threshold, applies_to, severity, message, source in rules.RULES:
            SafetyRule.objects.create(
                code=code, field=field, comparator=comparator, threshold=threshold, applies_to=applies_to,
                severity=severity, message=message, source=source, effective_from=rules.START,
            )  # fmt: skip
    if not Measure.objects.filter(code="8867-4").exists():
        measures = importlib.import_module("clinic.migrations.0011_floor_sheet_measures")
        for code, system, name, unit, low, high in measures.MEASURES:
            Measure.objects.update_or_create(
                code=code, defaults={"code_system": system, "name": name, "unit": unit, "min_value": low,
                                     "max_value": high},
            )  # fmt: skip


def make_enrollment(clinic, patient=None, program=None, **fields) -> Enrollment:
    patient = patient or make_patient(clinic, f"P-{Enrollment.objects.count() + 1:04d}")
    program = program or Program.objects.filter(clinic=clinic).first() or make_program(clinic)
    defaults = {"start_date": timezone.localdate() - datetime.timedelta(days=60)}
    return Enrollment.objects.create(clinic=clinic, patient=patient, program=program, **{**defaults, **fields})


def make_occurrence(clinic, program, starts_at=None, capacity=30, **fields) -> Occurrence:
    starts_at = starts_at or timezone.now().replace(minute=0, second=0, microsecond=0)
    return Occurrence.objects.create(
        clinic=clinic, program=program, name=fields.pop("name", f"{program.name} class"), starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=1), capacity=capacity, **fields,
    )  # fmt: skip


def make_booking(occurrence, enrollment, booked_by, **fields) -> Booking:
    booking = Booking.objects.create(
        clinic=occurrence.clinic, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
        booked_by=booked_by, **fields,
    )  # fmt: skip
    Occurrence.objects.filter(pk=occurrence.pk).update(booked_count=occurrence.bookings.filter(status="booked").count())
    return booking


def make_prescription(enrollment, created_by, **aerobic) -> ExercisePrescription:
    version = enrollment.prescriptions.count() + 1
    enrollment.prescriptions.filter(superseded_at__isnull=True).update(superseded_at=timezone.now())
    prescription = ExercisePrescription.objects.create(
        clinic=enrollment.clinic, enrollment=enrollment, version=version, created_by=created_by, resting_hr=70
    )
    defaults = {"kind": "aerobic", "intensity_method": "pct_hrr", "intensity_low": 40, "intensity_high": 60,
                "target_hr_low": 100, "target_hr_high": 120, "minutes": 30, "modality": "Treadmill"}  # fmt: skip
    PrescriptionComponent.objects.create(clinic=enrollment.clinic, prescription=prescription, **{**defaults, **aerobic})
    return prescription


def class_of(clinic, booked_by, size: int, program=None, staff=None, **enrollment_fields):
    """An occurrence with `size` booked patients; returns (occurrence, bookings)."""
    program = program or Program.objects.filter(clinic=clinic).first() or make_program(clinic)
    occurrence = make_occurrence(clinic, program, staff=staff)
    bookings = []
    for number in range(size):
        patient = make_patient(clinic, f"C-{occurrence.pk}-{number:03d}", last_name=f"Patient{number:03d}")
        enrollment = make_enrollment(clinic, patient=patient, program=program, **enrollment_fields)
        bookings.append(make_booking(occurrence, enrollment, booked_by))
    return occurrence, bookings
