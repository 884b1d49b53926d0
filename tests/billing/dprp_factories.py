"""A small DPP cohort for the DPRP export tests: three participants, seven sessions in the period, one missing
weight and one A1C. Fixed ids (participant ids, the class template, the coach) so the file is known byte for
byte (tests/billing/data/dprp_small_cohort.csv, written by hand from the domain reference)."""

import datetime
import zoneinfo
from decimal import Decimal

from billing.models import Coverage, DprpParticipant, Payer
from clinic.models import Enrollment, Membership, User
from scheduling.floorsheet import weight_to_kg
from scheduling.models import Booking, ClassTemplate, Occurrence, SessionLog
from tests.conftest import make_patient, make_program, make_referral

PERIOD = (datetime.date(2026, 1, 1), datetime.date(2026, 7, 31))


def _coach(clinic) -> Membership:
    user = User.objects.create_user("coach@dprp.test", "x", first_name="Casey", last_name="Coach")
    return Membership.objects.create(pk=9001, clinic=clinic, user=user, roles=["physiologist"])


def _participant(clinic, program, mrn, pid, *, referral, coverage_kind=None, **patient):
    patient = make_patient(clinic, mrn, **patient)
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient=patient, program=program, start_date=datetime.date(2026, 1, 5)
    )
    make_referral(clinic, patient=patient, program=program, enrollment=enrollment, **referral)
    if coverage_kind:
        payer = Payer.objects.get_or_create(clinic=clinic, name=coverage_kind, defaults={"kind": coverage_kind})[0]
        Coverage.objects.create(clinic=clinic, patient=patient, payer=payer, starts_on=datetime.date(2025, 1, 1))
    DprpParticipant.objects.create(clinic=clinic, enrollment=enrollment, participant_id=pid)
    return enrollment


def _occurrence(clinic, program, coach, day, hour, template=None):
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    starts_at = datetime.datetime.combine(day, datetime.time(hour), tzinfo=tz)
    return Occurrence.objects.get_or_create(
        clinic=clinic, template=template, starts_at=starts_at,
        defaults={"program": program, "name": "DPP", "ends_at": starts_at + datetime.timedelta(hours=1),
                  "capacity": 20, "coach": coach},
    )[0]  # fmt: skip


def _session(enrollment, occurrence, number, pounds, minutes, mode="in_person", attendance="present"):
    clinic = enrollment.clinic
    booking = Booking.objects.create(
        clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
        booked_by=occurrence.coach,
    )  # fmt: skip
    weight = weight_to_kg(Decimal(pounds), "lb") if pounds is not None else None
    return SessionLog.objects.create(
        clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
        attendance=attendance, session_number=number, weight_kg=weight, activity_minutes=minutes,
        delivery_mode=mode,
    )  # fmt: skip


def small_cohort(clinic):
    """Returns the program. Sessions outside the period and an absent one are there to be left out."""
    program = make_program(clinic, "dpp", name="Prevent T2")
    coach = _coach(clinic)
    group = ClassTemplate.objects.create(
        pk=7001, clinic=clinic, program=program, name="DPP Monday", weekday=0, start_time=datetime.time(9),
        starts_on=datetime.date(2026, 1, 12),
    )  # fmt: skip
    first = _participant(
        clinic, program, "D-001", "A1B2C3D4E5F6", coverage_kind="commercial", sex="F", state="GA",
        date_of_birth=datetime.date(1970, 5, 15),
        referral={"height_cm": Decimal("172.7"), "a1c_percent": Decimal("6.1"),
                  "lab_test_date": datetime.date(2025, 12, 1), "gestational_diabetes_history": False,
                  "risk_test_score": 6},
    )  # fmt: skip
    second = _participant(
        clinic, program, "D-002", "0F0F0F0F0F0F", coverage_kind="medicare", sex="M", state="ny",
        date_of_birth=datetime.date(1961, 11, 30),
        referral={"height_cm": Decimal("180.3"), "fasting_glucose": 110, "lab_test_date": datetime.date(2025, 12, 1),
                  "risk_test_score": 3},
    )  # fmt: skip
    third = _participant(
        clinic, program, "D-003", "9D8C7B6A5F4E", sex="U", state="TX", date_of_birth=datetime.date(1980, 2, 29),
        referral={"height_cm": Decimal("160.0"), "gestational_diabetes_history": True, "risk_test_score": 5},
    )  # fmt: skip

    def group_class(day):
        return _occurrence(clinic, program, coach, day, 9, template=group)

    def alone(day):
        return _occurrence(clinic, program, coach, day, 10)

    _session(first, group_class(datetime.date(2026, 1, 12)), 1, "210.4", 60)
    _session(first, group_class(datetime.date(2026, 1, 19)), 2, "208.9", 120, mode="online")
    _session(first, group_class(datetime.date(2026, 1, 26)), 3, "207.0", 0)
    _session(first, group_class(datetime.date(2026, 8, 3)), 4, "205.0", 60)  # after the period
    _session(second, group_class(datetime.date(2026, 1, 12)), 1, "185.2", 30)
    _session(second, group_class(datetime.date(2026, 1, 19)), 2, None, 45, mode="distance")
    _session(third, alone(datetime.date(2026, 1, 13)), 1, "165.5", 90)
    _session(third, alone(datetime.date(2026, 1, 20)), None, None, None, attendance="absent")
    _session(third, alone(datetime.date(2026, 7, 21)), 2, "160.1", 150, attendance="makeup")
    return program
