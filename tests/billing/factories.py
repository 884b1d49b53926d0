"""Builders for billing tests: sessions made through the ORM (the floor sheet is not the subject here)."""

import datetime
import importlib
import zoneinfo
from decimal import Decimal

from billing.models import BillingRule, Coverage, Payer
from clinic.models import Enrollment
from scheduling.models import Booking, Occurrence, SessionLog
from tests.conftest import make_member, make_patient, make_program

START = datetime.date(2026, 3, 2)  # a Monday


def ensure_rules() -> None:
    """The rules are loaded by a migration; a transactional test's flush empties them."""
    if not BillingRule.objects.exists():
        rules = importlib.import_module("billing.migrations.0002_billing_rules")
        for program_type, key, value, start, end, source, uncertain in rules.RULES:
            BillingRule.objects.create(
                program_type=program_type, key=key, value=value, effective_from=start, effective_to=end,
                source=source, uncertain=uncertain,
            )  # fmt: skip


def covered_enrollment(
    clinic, program_type="cr", *, mrn="B-001", payer=None, plans=True, **program_fields
) -> Enrollment:
    """A patient in a program with Medicare coverage from 2020 on and, for CR, ICR and PR, treatment plans
    signed every 30 days from the day before START (covering four months of sessions)."""
    ensure_rules()
    program = make_program(clinic, program_type, name=f"{program_type} {mrn}")
    for field, value in program_fields.items():
        setattr(program, field, value)
    program.save()
    patient = make_patient(clinic, mrn)
    payer = payer or Payer.objects.get_or_create(clinic=clinic, name="Medicare", defaults={"kind": "medicare"})[0]
    Coverage.objects.create(
        clinic=clinic, patient=patient, payer=payer, member_id="1EG4TE5MK73", starts_on=datetime.date(2020, 1, 1)
    )
    enrollment = Enrollment.objects.create(clinic=clinic, patient=patient, program=program, start_date=START)
    if plans and program_type in ("cr", "icr", "pr"):
        for months in range(4):
            sign_plan(enrollment, START - datetime.timedelta(days=1) + datetime.timedelta(days=30 * months))
    return enrollment


def sign_plan(enrollment, signed_on: datetime.date):
    """A treatment plan signed at noon (clinic time) on `signed_on`."""
    from tests.clinic.treatment_plan_factories import make_signed_plan

    clinic = enrollment.clinic
    signed_at = datetime.datetime.combine(signed_on, datetime.time(12), tzinfo=zoneinfo.ZoneInfo(clinic.timezone))
    return make_signed_plan(enrollment, staff(clinic), staff(clinic, "physician"), signed_at)


def staff(clinic, role="physiologist", npi="1234567893"):
    member = clinic.memberships.filter(roles__contains=[role]).first() or make_member(clinic, role)
    if member.npi != npi:
        member.npi = npi
        member.save(update_fields=["npi"])
    return member


def add_session(
    enrollment, day: datetime.date, *, hour=9, minutes=60, attendance="present", supervisor="default", coach=None,
    **log_fields,
) -> SessionLog:  # fmt: skip
    clinic = enrollment.clinic
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    starts_at = datetime.datetime.combine(day, datetime.time(hour), tzinfo=tz)
    member = staff(clinic)
    occurrence = Occurrence.objects.create(
        clinic=clinic, program=enrollment.program, name="Class", starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=1), capacity=30, staff=member,
        supervising_practitioner=member if supervisor == "default" else supervisor, coach=coach,
    )  # fmt: skip
    booking = Booking.objects.create(
        clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient, booked_by=member
    )
    ended = starts_at + datetime.timedelta(minutes=minutes) if minutes is not None else None
    return SessionLog.objects.create(
        clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
        attendance=attendance, started_at=starts_at if minutes is not None else None, ended_at=ended,
        **{"ecg_monitored": True, **log_fields},
    )  # fmt: skip


def add_sessions(enrollment, count: int, *, start=START, per_day=1, **fields) -> list[SessionLog]:
    """`count` sessions, `per_day` a day on consecutive days from `start`."""
    logs = []
    for number in range(count):
        day = start + datetime.timedelta(days=number // per_day)
        logs.append(add_session(enrollment, day, hour=8 + 2 * (number % per_day), **fields))
    return logs


def kg(value) -> Decimal:
    return Decimal(str(value))


def billing_objects(clinic, patient, actor) -> dict:
    """One object of every billing kind an URL names, in this clinic: payer, coverage, fee, claim line, batch."""
    from billing import services
    from billing.claims import claim_lines_derive
    from billing.models import ClaimLine, FeeScheduleEntry

    ensure_rules()
    payer = Payer.objects.create(clinic=clinic, name=f"Medicare {clinic.slug}", kind="medicare")
    coverage = Coverage.objects.create(
        clinic=clinic, patient=patient, payer=payer, member_id="1EG4TE5MK73", starts_on=datetime.date(2020, 1, 1)
    )
    fee = FeeScheduleEntry.objects.create(clinic=clinic, code="93798", amount="120.00", effective_from=START)
    program = make_program(clinic, "cr", name=f"Billing CR {clinic.slug}")
    enrollment = Enrollment.objects.create(clinic=clinic, patient=patient, program=program, start_date=START)
    sign_plan(enrollment, START - datetime.timedelta(days=1))
    add_session(enrollment, START)
    add_session(enrollment, START + datetime.timedelta(days=1))
    claim_lines_derive(clinic=clinic, enrollment_ids=[enrollment.pk])
    first, second = ClaimLine.objects.filter(enrollment=enrollment).order_by("date_of_service")
    batch = services.batch_export(clinic=clinic, actor=actor, line_ids=[first.pk])
    return {
        "dprp_export_id": ready_dprp_export(clinic, actor).pk,
        "packet_id": ready_packet(enrollment, actor).pk,
        "payer_id": payer.pk,
        "coverage_id": coverage.pk,
        "fee_id": fee.pk,
        "line_id": second.pk,
        "batch_id": batch.pk,
    }


def ready_dprp_export(clinic, actor):
    """A written DPRP export with no issues (billing/dprp.py), so its download answers 200."""
    from django.core.files.base import ContentFile

    from billing.models import DprpExport

    export = DprpExport(
        clinic=clinic, program=make_program(clinic, "dpp", name=f"DPP {clinic.slug}"), org_code="ORG1",
        period_start=START, period_end=START, status="ready", requested_by=actor,
    )  # fmt: skip
    export.file.save("dprp.csv", ContentFile(b"ORGCODE\r\n"), save=True)
    return export


def add_necessity_note(enrollment, first=37, last=72, written_on=START):
    from billing.models import MedicalNecessityNote

    return MedicalNecessityNote.objects.create(
        clinic=enrollment.clinic, enrollment=enrollment, first_session=first, last_session=last,
        text="Ischemic threshold still below 5 METs; continued monitored exercise is needed.", written_on=written_on,
        author=staff(enrollment.clinic),
    )  # fmt: skip


def ready_packet(enrollment, actor):
    """A ready documentation packet of the enrollment, its PDF and CSV stored (billing/packets/)."""
    from django.core.files.base import ContentFile

    from billing.packets.models import PacketRequest

    packet = PacketRequest(
        clinic=enrollment.clinic, kind="rehab", program=enrollment.program, enrollment=enrollment,
        patient=enrollment.patient, period_start=START, period_end=START, status="ready", requested_by=actor,
        enrollment_ids=[enrollment.pk],
    )  # fmt: skip
    packet.file.save("packet.pdf", ContentFile(b"%PDF-1.7 test"), save=False)
    packet.csv_file.save("packet.csv", ContentFile(b"mrn\r\n"), save=True)
    return packet
