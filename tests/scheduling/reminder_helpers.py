"""Rows the reminder tests need, saved directly (reminders depend on no booking service)."""

import datetime

from django.db.models import F
from django.utils import timezone

from clinic.models import Enrollment, Membership, Patient, Program
from scheduling.models import Booking, Occurrence
from tests.conftest import make_member, make_patient, make_program


def make_occurrence(clinic, *, starts_in=datetime.timedelta(hours=20), program=None, **fields) -> Occurrence:
    program = program or Program.objects.filter(clinic=clinic).first() or make_program(clinic, "cr", "Cardiac rehab")
    starts_at = fields.pop("starts_at", None) or timezone.now() + starts_in
    defaults = {"name": "Cardiac rehab Tue 9:00", "room": "Gym A", "capacity": 12}
    return Occurrence.objects.create(
        clinic=clinic, program=program, starts_at=starts_at, ends_at=starts_at + datetime.timedelta(hours=1),
        **{**defaults, **fields},
    )  # fmt: skip


def make_booking(occurrence, patient: Patient | None = None, **fields) -> Booking:
    clinic = occurrence.clinic
    if patient is None:
        mrn = f"R-{Patient.objects.filter(clinic=clinic).count() + 1:05d}"
        patient = make_patient(
            clinic, mrn, email=f"{mrn.lower()}@example.test", phone="555-0199", email_opt_in=True, sms_opt_in=True
        )
    enrollment = Enrollment.objects.filter(clinic=clinic, patient=patient, program=occurrence.program).first()
    enrollment = enrollment or Enrollment.objects.create(
        clinic=clinic, patient=patient, program=occurrence.program, start_date=timezone.localdate()
    )
    staff = Membership.objects.filter(clinic=clinic).first() or make_member(clinic, "physiologist")
    Occurrence.objects.filter(pk=occurrence.pk).update(booked_count=F("booked_count") + 1)
    return Booking.objects.create(
        clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient=patient, booked_by=staff, **fields
    )


class SlowFileSmsBackend:
    """A provider that marks that sending began, takes a while, then writes the message to a file: a
    sender killed in between has sent nothing (for tests that kill the process)."""

    def send(self, message):
        import os
        import time
        import uuid
        from pathlib import Path

        folder = Path(os.environ["MEDFIT_TEST_SMS_DIR"])
        (folder / f"started-{uuid.uuid4().hex}").touch()
        time.sleep(float(os.environ.get("MEDFIT_TEST_SMS_SECONDS", "3")))
        (folder / f"sent-{uuid.uuid4().hex}.txt").write_text(message.body)


class DownSmsBackend:
    """A provider that is down; its error names the number, as real ones do."""

    def send(self, message):
        raise ConnectionError(f"could not deliver to {message.to}")
