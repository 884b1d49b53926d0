"""Fixtures for schedules and bookings: a program, enrolled patients, classes in the future."""

import datetime
import itertools

import pytest
from django.utils import timezone

from clinic.models import Enrollment
from scheduling.models import ClassTemplate, Occurrence
from tests.conftest import make_patient, make_program

_mrns = itertools.count(1)


def make_enrollment(clinic, program, patient=None, **fields) -> Enrollment:
    patient = patient or make_patient(clinic, f"S-{next(_mrns):04d}", email=f"p{next(_mrns)}@example.test")
    defaults = {"start_date": timezone.localdate() - datetime.timedelta(days=30), "status": Enrollment.Status.ACTIVE}
    return Enrollment.objects.create(clinic=clinic, patient=patient, program=program, **{**defaults, **fields})


def make_occurrence(clinic, program, *, starts_in=datetime.timedelta(days=3), capacity=12, template=None, **fields):
    starts_at = fields.pop("starts_at", None) or timezone.now() + starts_in
    defaults = {"name": "Cardiac rehab", "room": "Gym A"}
    return Occurrence.objects.create(
        clinic=clinic, program=program, template=template, starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=1), capacity=capacity, **{**defaults, **fields},
    )  # fmt: skip


def make_template(clinic, program, **fields) -> ClassTemplate:
    defaults = {
        "name": "CR Monday 9:00", "weekday": 0, "start_time": datetime.time(9, 0), "duration_minutes": 60,
        "room": "Gym A", "capacity": 12, "starts_on": timezone.localdate() - datetime.timedelta(days=7),
    }  # fmt: skip
    return ClassTemplate.objects.create(clinic=clinic, program=program, **{**defaults, **fields})


@pytest.fixture
def program(clinic_a):
    return make_program(clinic_a, "cr", name="Cardiac Rehab")


@pytest.fixture
def other_program(clinic_a):
    return make_program(clinic_a, "pr", name="Pulmonary Rehab")


@pytest.fixture
def staff(team_a):
    """The physiologist who books: their membership is the actor of the services."""
    return team_a["physiologist"].membership


@pytest.fixture
def enrollment(clinic_a, program, patient_a):
    patient_a.email = "alice@example.test"
    patient_a.save()
    return make_enrollment(clinic_a, program, patient_a)


@pytest.fixture
def occurrence(clinic_a, program):
    return make_occurrence(clinic_a, program)


@pytest.fixture
def sms_outbox(settings):
    """Text messages go to scheduling.sms.outbox (the in-memory backend), emptied before and after."""
    from scheduling import sms

    settings.SMS_BACKEND = "scheduling.sms.LocMemBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()
