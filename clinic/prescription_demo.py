"""Demo exercise prescriptions (called by `manage.py seed_demo` after the referrals' enrollments exist).

Every open enrollment gets a current prescription suited to its program and precautions; every third
one also has an older version that the current one superseded, as after a reassessment.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic import prescriptions as rx
from clinic.models import Enrollment, ExercisePrescription, HrMaxMethod, Membership, ProgramType

Intensity = rx.Intensity

FLEXIBILITY = {"frequency_per_week": 3, "intensity_method": Intensity.CR10, "intensity_low": Decimal(2),
               "intensity_high": Decimal(3), "minutes": 10, "modality": "Static stretches, major muscle groups",
               "volume": "Hold 30–60 s, 2–4 times each", "progression": "Hold longer as comfortable."}  # fmt: skip
RESISTANCE = {"frequency_per_week": 2, "intensity_method": Intensity.RPE, "intensity_low": Decimal(11),
              "intensity_high": Decimal(13), "sets": 1, "reps": 12, "modality": "Machines and bands",
              "volume": "8 exercises", "progression": "A second set after two weeks, then 5 % more load."}  # fmt: skip
BALANCE = {"frequency_per_week": 3, "intensity_method": Intensity.RPE, "intensity_low": Decimal(9),
           "intensity_high": Decimal(11), "minutes": 15, "modality": "Tandem stance, step-ups, sit-to-stand",
           "progression": "Reduce hand support, then add head turns."}  # fmt: skip


def _aerobic(enrollment: Enrollment, *, low: int, high: int, minutes: int) -> dict:
    base = {"frequency_per_week": 3, "minutes": minutes, "modality": "Treadmill, recumbent bike, arm ergometer",
            "volume": f"{3 * minutes} min/week", "progression": "Add 5 minutes every 1–2 weeks up to 45 minutes, "
            "then raise the intensity."}  # fmt: skip
    program_type = enrollment.program.program_type
    if program_type == ProgramType.PR:
        return {**base, "intensity_method": Intensity.CR10, "intensity_low": Decimal(3), "intensity_high": Decimal(4),
                "modality": "Treadmill and NuStep, on prescribed oxygen"}  # fmt: skip
    if program_type in (ProgramType.DPP, ProgramType.MDPP, ProgramType.WEIGHT_MANAGEMENT):
        return {**base, "frequency_per_week": 5, "intensity_method": Intensity.METS, "intensity_low": Decimal(3),
                "intensity_high": Decimal("5.5"), "volume": "150 min/week", "modality": "Brisk walking"}  # fmt: skip
    if enrollment.beta_blocker:
        return {**base, "intensity_method": Intensity.RPE, "intensity_low": Decimal(11), "intensity_high": Decimal(13)}
    return {**base, "intensity_method": Intensity.HRR, "intensity_low": Decimal(low), "intensity_high": Decimal(high)}


def _components(enrollment: Enrollment, *, low: int, high: int, minutes: int) -> dict:
    components = {"aerobic": _aerobic(enrollment, low=low, high=high, minutes=minutes), "flexibility": FLEXIBILITY}
    if enrollment.program.program_type == ProgramType.FALLS_PREVENTION:
        components["neuromotor"] = BALANCE
    else:
        components["resistance"] = RESISTANCE
    return components


def _save(enrollment, actor, *, written_at, resting_hr, low, high, minutes, method=HrMaxMethod.AGE):
    data = {"resting_hr": resting_hr, "hr_max_method": method, "notes": ""}
    try:
        return rx.prescription_save(
            clinic=enrollment.clinic, actor=actor, enrollment=enrollment, data=data, written_at=written_at,
            components=_components(enrollment, low=low, high=high, minutes=minutes),
        )  # fmt: skip
    except ValidationError:  # e.g. a range wholly above a low HR ceiling: prescribe by RPE instead
        components = _components(enrollment, low=low, high=high, minutes=minutes)
        components["aerobic"] = {**components["aerobic"], "intensity_method": Intensity.RPE,
                                 "intensity_low": Decimal(11), "intensity_high": Decimal(13)}  # fmt: skip
        return rx.prescription_save(
            clinic=enrollment.clinic,
            actor=actor,
            enrollment=enrollment,
            data=data,
            components=components,
            written_at=written_at,
        )


def seed(clinic) -> None:
    if ExercisePrescription.objects.filter(clinic=clinic).exists():
        return
    actor = Membership.objects.filter(clinic=clinic, user__email=f"physiologist@{clinic.slug}.example").first()
    if actor is None:
        return
    enrollments = (
        Enrollment.objects.filter(clinic=clinic, status__in=[Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE])
        .select_related("patient", "program")
        .order_by("id")
    )
    now = timezone.now()
    for number, enrollment in enumerate(enrollments):
        resting = 62 + (number * 7) % 24
        # Written on the program's first day (or today, for a program that has not started yet) ...
        start = min(now, timezone.make_aware(datetime.datetime.combine(enrollment.start_date, datetime.time(10))))
        if number % 3 == 0:
            # ... and, for every third patient, revised at the three-week reassessment (or yesterday's visit).
            start = min(start, now - datetime.timedelta(days=2))
            revised = min(start + datetime.timedelta(days=21), now - datetime.timedelta(days=1))
            _save(enrollment, actor, written_at=start, resting_hr=resting + 4, low=40, high=50, minutes=20)
            _save(
                enrollment, actor, written_at=revised, resting_hr=resting, low=50, high=65, minutes=30,
                method=HrMaxMethod.TANAKA,
            )  # fmt: skip
        else:
            _save(enrollment, actor, written_at=start, resting_hr=resting, low=40, high=60, minutes=30)
