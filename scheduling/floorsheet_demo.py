"""Demo floor sheets (called by `manage.py seed_demo` after the schedules' seeder): session logs with
realistic vitals for the bookings of past classes, a few safety flags, and one hold overridden with
the supervising practitioner's acknowledgment. Saved through the floor sheet's service, so flags,
observations, session numbers and first sessions are exactly what the page would have produced.

When the schedules' seeder made no classes (or none in the past), a few classes are made here so the
floor sheet and the "today" page have something to show.
"""

import datetime
import random
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.models import Enrollment, Membership, ProgramType
from scheduling import floorsheet
from scheduling.models import Booking, Occurrence, SafetyFlag, SessionLog

MAX_LOGS = 900
CR_LIKE = {ProgramType.CR, ProgramType.ICR}
DPP_LIKE = {ProgramType.DPP, ProgramType.MDPP}


def seed(clinic) -> None:
    if SessionLog.objects.filter(clinic=clinic).exists():
        return
    physiologist = _member(clinic, "physiologist")
    supervisor = _member(clinic, "physician") or _member(clinic, "admin")
    if physiologist is None:
        return
    now = timezone.now()
    bookings = _past_bookings(clinic, now)
    if not bookings:
        _fallback_classes(clinic, physiologist, now)
        bookings = _past_bookings(clinic, now)
    for occurrence in Occurrence.objects.filter(clinic=clinic, supervising_practitioner__isnull=True):
        occurrence.supervising_practitioner = supervisor
        if occurrence.program.program_type in DPP_LIKE:
            occurrence.coach = physiologist
        occurrence.save(update_fields=["supervising_practitioner", "coach"])
    rng = random.Random(f"floor-{clinic.slug}")
    plan = _flag_plan(bookings)
    for booking in bookings[:MAX_LOGS]:
        _log(clinic, physiologist, booking, rng, plan.get(booking.pk))


def _member(clinic, role: str) -> Membership | None:
    members = Membership.objects.filter(clinic=clinic, is_active=True, roles__contains=[role]).select_related("user")
    return members.filter(user__email=f"{role}@{clinic.slug}.example").first() or members.order_by("pk").first()


def _past_bookings(clinic, now) -> list[Booking]:
    return list(
        Booking.objects.filter(
            clinic=clinic, status=Booking.Status.BOOKED, occurrence__status=Occurrence.Status.SCHEDULED,
            occurrence__starts_at__lt=now,
        )
        .select_related("occurrence__program", "enrollment__program", "patient")
        .order_by("occurrence__starts_at", "pk")
    )  # fmt: skip


def _fallback_classes(clinic, physiologist, now) -> None:
    """Two weeks of a class for each program with enrollments: past ones to log, today's to run."""
    enrollments = list(
        Enrollment.objects.filter(clinic=clinic, status__in=[Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE])
        .select_related("program")
        .order_by("program_id", "pk")
    )
    by_program: dict = {}
    for enrollment in enrollments:
        by_program.setdefault(enrollment.program, []).append(enrollment)
    local_now = timezone.localtime(now)
    for program, members in by_program.items():
        members = members[:10]
        first_day = local_now.date() - datetime.timedelta(days=14)
        Enrollment.objects.filter(pk__in=[e.pk for e in members], start_date__gt=first_day).update(start_date=first_day)
        for days_ago in (14, 12, 9, 7, 5, 2, 0):
            day = local_now.date() - datetime.timedelta(days=days_ago)
            starts_at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9, 0)))
            if days_ago == 0:
                starts_at = local_now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
            occurrence = Occurrence.objects.create(
                clinic=clinic, program=program, name=f"{program.name} class", starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(hours=1), room="Gym A", capacity=12, staff=physiologist,
                booked_count=len(members),
            )  # fmt: skip
            for enrollment in members:
                Booking.objects.create(
                    clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient_id=enrollment.patient_id,
                    booked_by=physiologist,
                )  # fmt: skip


def _flag_plan(bookings: list[Booking]) -> dict[int, str]:
    """Which bookings get a flag: one hold overridden, one hold left open (the latest session), a few warnings."""
    plan: dict[int, str] = {}
    if not bookings:
        return plan
    plan[bookings[len(bookings) // 3].pk] = "hold_overridden"
    plan[bookings[-1].pk] = "hold_open"
    for booking in bookings[len(bookings) // 2 :: max(1, len(bookings) // 5)]:
        plan.setdefault(booking.pk, "warn")
    return plan


def _log(clinic, actor, booking: Booking, rng: random.Random, flag: str | None) -> None:
    program_type = booking.enrollment.program.program_type
    enrollment = booking.enrollment
    start = booking.occurrence.starts_at + datetime.timedelta(minutes=rng.randint(0, 6))
    roll = rng.random()
    attendance = "present" if roll < 0.86 else "late" if roll < 0.91 else "absent"
    if flag:
        attendance = "present"
    data: dict = {"attendance": attendance}
    if attendance == "absent":
        _save(clinic, actor, booking, data)
        return
    pre_hr, pre_sbp = rng.randint(58, 86), rng.randint(108, 146)
    data.update(
        pre_hr=pre_hr, pre_sbp=pre_sbp, pre_dbp=rng.randint(62, 88), pre_spo2=rng.randint(94, 99),
        started_at=start, ended_at=start + datetime.timedelta(minutes=rng.randint(46, 58)),
    )  # fmt: skip
    if program_type == ProgramType.PR:
        data.update(pre_spo2=rng.randint(89, 96), continuous_oximetry=True)
        if enrollment.supplemental_oxygen:
            data["o2_flow_lpm"] = Decimal(rng.choice([1, 2, 2, 3]))
    if program_type in CR_LIKE:
        data.update(ecg_monitored=True, rhythm_note=rng.choice(["SR", "SR", "SR", "SR with occasional PVCs", "SB"]))
    if enrollment.has_diabetes or program_type in DPP_LIKE:
        data["pre_glucose"] = rng.randint(92, 178) if enrollment.has_diabetes else None
    if program_type in DPP_LIKE:
        data.update(weight_kg=Decimal(rng.randint(780, 1150)) / 10, activity_minutes=rng.randint(60, 220))
    if flag in ("hold_overridden", "hold_open"):
        data["pre_sbp"], data["pre_dbp"] = 206, 94
        log = _save(clinic, actor, booking, data)
        if log is None or flag == "hold_open":
            return
        hold = log.flags.filter(status=SafetyFlag.Status.OPEN, severity="hold").first()
        if hold is None:
            return
        try:
            floorsheet.safety_flag_override(
                clinic=clinic, actor=actor, flag=hold,
                reason="Rechecked after 10 minutes seated: 184/88, asymptomatic; cleared for light exercise.",
            )  # fmt: skip
        except ValidationError:
            return
    _exercise(data, program_type, enrollment, rng, pre_hr, flag)
    _save(clinic, actor, booking, data)


def _exercise(data, program_type, enrollment, rng, pre_hr, flag) -> None:
    modality = rng.choice(["Treadmill", "Recumbent bike", "NuStep", "Arm ergometer"])
    data.update(modality=modality, exercise_minutes=rng.randint(28, 45), rpe=Decimal(rng.randint(11, 14)))
    if modality == "Treadmill":
        data.update(speed_mph=Decimal(rng.randint(20, 35)) / 10, grade_percent=Decimal(rng.randint(0, 4)))
    elif modality == "NuStep":
        data["mets"] = Decimal(rng.randint(25, 45)) / 10
    else:
        data["workload_watts"] = rng.randint(25, 90)
    peak_sbp = data["pre_sbp"] + rng.randint(8, 34)
    data.update(
        peak_hr=pre_hr + rng.randint(22, 42), peak_sbp=peak_sbp, peak_dbp=min(data["pre_dbp"] + 4, peak_sbp - 30),
        post_hr=pre_hr + rng.randint(4, 12), post_sbp=data["pre_sbp"] + rng.randint(-6, 8),
        post_dbp=data["pre_dbp"] + rng.randint(-4, 4), post_spo2=rng.randint(93, 99),
    )  # fmt: skip
    if program_type == ProgramType.PR:
        data["post_spo2"] = rng.randint(89, 96)
    if flag == "warn":
        if enrollment.hr_ceiling:
            data["peak_hr"] = enrollment.hr_ceiling + rng.randint(3, 8)
        elif program_type == ProgramType.PR:
            data["post_spo2"] = 86
        else:
            data["peak_sbp"], data["peak_dbp"] = data["pre_sbp"] - 14, min(data["pre_dbp"], data["pre_sbp"] - 40)
            data["workload_watts"] = data.get("workload_watts") or 60


def _save(clinic, actor, booking, data) -> SessionLog | None:
    log = SessionLog.objects.filter(booking=booking).first()
    try:
        return floorsheet.session_log_save(
            clinic=clinic, actor=actor, booking=booking, data=data, version=log.version if log else 0
        )
    except (ValidationError, floorsheet.EditConflict):
        return None
