"""Builders for progress report tests: a CR patient referred by the clinic's physician member, with a
baseline and a later 6-minute walk, four past sessions (three attended) and a prescription."""

import datetime
import importlib
import time
from decimal import Decimal

from django.apps import apps
from django.utils import timezone

from clinic.models import Enrollment, Measure, Observation
from outcomes.reports.models import ReportRequest
from scheduling.models import SessionLog
from tests.conftest import link_physician, make_patient, make_program, make_provider, make_referral
from tests.scheduling.factories import ensure_reference_data, make_booking, make_occurrence, make_prescription

SIX_MINUTE_WALK = "64098-7"


def ensure_measures() -> None:
    """The measure catalog is loaded by migrations; a transactional test's flush empties it."""
    ensure_reference_data()
    if not Measure.objects.filter(code=SIX_MINUTE_WALK, clinic=None).exists():
        importlib.import_module("clinic.migrations.0014_outcome_measures").load(apps, None)


def observe(enrollment, code, value, days_ago, recorded_by, source="assessment"):
    measure = Measure.objects.get(code=code, clinic=None)
    return Observation.objects.create(
        clinic=enrollment.clinic, patient=enrollment.patient, enrollment=enrollment, measure=measure,
        value=Decimal(value), unit=measure.unit, observed_at=timezone.now() - datetime.timedelta(days=days_ago),
        source=source, source_id=1, recorded_by=recorded_by,
    )  # fmt: skip


def cr_patient(team, mrn="R-100", *, physician=None, start_days_ago=40, **patient_fields):
    """(patient, enrollment) in cardiac rehab, referred by `physician` (default: the team's)."""
    ensure_measures()
    clinic = team["admin"].clinic
    physician = physician or team["physician"].membership
    staff = team["physiologist"].membership
    patient = make_patient(clinic, mrn, first_name="Rita", last_name="Report", **patient_fields)
    program = clinic.programs.filter(program_type="cr").first() or make_program(clinic, "cr", "Phase II Cardiac Rehab")
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient=patient, program=program, status=Enrollment.Status.ACTIVE,
        start_date=timezone.localdate() - datetime.timedelta(days=start_days_ago),
    )  # fmt: skip
    provider = getattr(physician, "referring_provider", None) or make_provider(clinic, membership=physician)
    make_referral(clinic, patient=patient, provider=provider, program=program, enrollment=enrollment)
    link_physician(patient, physician)
    observe(enrollment, SIX_MINUTE_WALK, "350", start_days_ago - 1, staff)
    observe(enrollment, SIX_MINUTE_WALK, "410", 2, staff)
    for number, attendance in enumerate(["present", "present", "absent", "late"]):
        starts_at = timezone.now() - datetime.timedelta(days=20 - number * 3)
        occurrence = make_occurrence(clinic, program, starts_at=starts_at)
        booking = make_booking(occurrence, enrollment, staff)
        SessionLog.objects.create(
            clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=patient,
            attendance=attendance, pre_hr=72 + number, peak_hr=110 + number, pre_sbp=128, peak_sbp=150,
        )  # fmt: skip
    make_prescription(enrollment, staff)
    return patient, enrollment


def wait_until_finished(report: ReportRequest, timeout: float = 60) -> ReportRequest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.is_finished:
            return report
        time.sleep(0.2)
    raise AssertionError(f"report {report.pk} still {report.status} after {timeout} s")
