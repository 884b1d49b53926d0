"""Builders for progress tests: observations as an assessment (or the floor sheet) records them, and
sessions with their attendance. Made through the ORM: the assessment form is not the subject here."""

import datetime
from decimal import Decimal

from django.utils import timezone

from clinic.models import Measure, Observation
from scheduling.models import SessionLog
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
