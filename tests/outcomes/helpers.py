"""Builders for the outcomes tests: observations as an assessment (or the floor sheet) records them,
sessions with their attendance, and assessments through the service."""

import datetime
from decimal import Decimal

from django.utils import timezone

from clinic.models import Enrollment, Measure, Observation, Program
from outcomes import services
from outcomes.models import Battery
from scheduling.models import SessionLog
from tests.conftest import make_program
from tests.scheduling.factories import make_booking, make_occurrence


def measure(code) -> Measure:
    return Measure.objects.get(clinic=None, code=code)


def observe(enrollment, code, value, *, days_ago, by, source="assessment", phase=""):
    """A value of a shared catalog measure, `days_ago` days ago."""
    m = measure(code)
    return Observation.objects.create(
        clinic=enrollment.clinic, patient=enrollment.patient, enrollment=enrollment, measure=m,
        value=Decimal(str(value)), unit=m.unit, observed_at=timezone.now() - datetime.timedelta(days=days_ago),
        phase=phase, source=source, source_id=1, recorded_by=by,
    )  # fmt: skip


def session(enrollment, by, *, days_ago, attendance="present", status="booked", **vitals):
    """A class `days_ago` days ago (on the hour) with the patient's booking and, if `attendance`, its log."""
    starts_at = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(days=days_ago)
    occurrence = make_occurrence(enrollment.clinic, enrollment.program, starts_at=starts_at)
    booking = make_booking(occurrence, enrollment, by, status=status)
    if attendance:
        return SessionLog.objects.create(
            clinic=enrollment.clinic, booking=booking, occurrence=occurrence, enrollment=enrollment,
            patient=enrollment.patient, attendance=attendance, **vitals,
        )  # fmt: skip
    return booking


def cr_enrollment(patient, *, days_ago: int = 40) -> Enrollment:
    patient.refresh_from_db()  # dates as the database gives them (make_patient keeps the strings it was given)
    program = Program.objects.filter(clinic=patient.clinic, program_type="cr").first() or make_program(patient.clinic)
    return Enrollment.objects.create(
        clinic=patient.clinic, patient=patient, program=program,
        start_date=timezone.localdate() - datetime.timedelta(days=days_ago), status=Enrollment.Status.ACTIVE,
    )  # fmt: skip


def shared_battery(program_type: str = "cr") -> Battery:
    return Battery.objects.get(clinic=None, program_type=program_type)


def baseline_values(**overrides) -> dict:
    values = {
        "64098-7": "400", "40443-4": "72", "8480-6": "128", "8462-4": "78", "29463-7": "80.0", "8302-2": "175.0",
        "8280-0": "98.0", "44261-6": "6", "phq9-item9": "0", "dasi": "30.0",
    }  # fmt: skip
    values.update(overrides)
    return {code: services.Entry(Decimal(value)) for code, value in values.items() if value is not None}


def record(enrollment, actor, *, timepoint="baseline", days_ago=30, values=None, battery=None):
    return services.assessment_record(
        clinic=enrollment.clinic, actor=actor, enrollment=enrollment, battery=battery or shared_battery(),
        timepoint=timepoint, assessed_on=timezone.localdate() - datetime.timedelta(days=days_ago),
        values=values if values is not None else baseline_values(),
    )  # fmt: skip
