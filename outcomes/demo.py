"""Demo assessments (called by `manage.py seed_demo` after the schedules' and floor sheet's seeders): a
baseline for every open enrollment, and an interim for those more than 30 days in, with realistic values
that improve for most patients (about one in five stays flat or slips). One patient per clinic answers
PHQ-9 item 9 above 0, so the chart's urgent banner and the "today" page have an alert to show. Saved
through the assessment service, so observations, computed values and alerts are what the form makes."""

import datetime
import random
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.models import Enrollment, Membership
from outcomes import computed, services
from outcomes import selectors as sel
from outcomes.models import Assessment, Timepoint

# code: (baseline low, high, places, improvement low, high). Improvement is in the better direction's sign.
RANGES = {
    "64098-7": (250, 480, 0, 30, 90),
    "40443-4": (62, 88, 0, -8, -2),
    "8480-6": (118, 152, 0, -12, -4),
    "8462-4": (68, 90, 0, -6, -2),
    "29463-7": (62, 118, 1, -4.5, -1.0),
    "8280-0": (84, 118, 1, -5, -1),
    "44261-6": (2, 14, 0, -6, -2),
    "dasi": (18, 42, 1, 4, 10),
    "59408-5": (89, 95, 0, 0, 2),
    "4548-4": (5.7, 6.4, 1, -0.4, -0.1),
    "activity-minutes": (40, 120, 0, 40, 100),
    "tug": (9, 16, 1, -3, -1),
    "chair-stand-30s": (7, 13, 0, 2, 4),
    "gait-speed": (0.6, 1.1, 2, 0.05, 0.15),
    "berg": (38, 52, 0, 3, 6),
    "sit-and-reach": (-10, 5, 1, 1, 4),
    "41982-0": (24, 40, 1, -3, -1),
}
HEIGHT = {"M": (165, 188), "F": (152, 172)}
GRIP = {"M": (24, 40), "F": (14, 26)}


def seed(clinic) -> None:
    if Assessment.objects.filter(clinic=clinic).exists():
        return
    physiologist = _member(clinic)
    if physiologist is None:
        return
    today = timezone.localdate()
    enrollments = (
        Enrollment.objects.filter(clinic=clinic, status__in=[Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE])
        .select_related("patient", "program")
        .order_by("pk")
    )
    batteries: dict = {}
    alert_raised = False
    interims = 0
    for enrollment in enrollments:
        program_type = enrollment.program.program_type
        if program_type not in batteries:
            found = sel.batteries_for(clinic=clinic, program_type=program_type, active_only=True)
            batteries[program_type] = found[0] if found else None
        battery = batteries[program_type]
        if battery is None or enrollment.start_date > today:
            continue
        # Seeded by what the demo names the same on every machine (not database ids), so its story is stable.
        rng = random.Random(f"assess-{clinic.slug}-{enrollment.patient.mrn}-{program_type}")
        baseline = _baseline(battery, enrollment.patient.sex, rng)
        if not alert_raised and computed.PHQ9_ITEM9 in baseline:
            baseline[computed.PHQ9_ITEM9] = Decimal(1)
            baseline[computed.PHQ9] = max(baseline.get(computed.PHQ9, Decimal(0)), Decimal(11))
            alert_raised = True
        on = min(today, enrollment.start_date + datetime.timedelta(days=rng.randint(0, 2)))
        if not _record(clinic, physiologist, enrollment, battery, Timepoint.BASELINE, on, baseline):
            continue
        interim_on = enrollment.start_date + datetime.timedelta(days=30 + rng.randint(0, 4))
        if interim_on <= today and Timepoint.INTERIM in battery.timepoints:
            interims += 1
            improves = interims % 5 != 0  # one in five stays flat or slips
            _record(clinic, physiologist, enrollment, battery, Timepoint.INTERIM, interim_on,
                    _later(baseline, rng, improves))  # fmt: skip


def _member(clinic) -> Membership | None:
    members = Membership.objects.filter(clinic=clinic, is_active=True, roles__contains=["physiologist"])
    return members.filter(user__email=f"physiologist@{clinic.slug}.example").first() or members.order_by("pk").first()


def _value(rng, low, high, places) -> Decimal:
    step = Decimal(1).scaleb(-places)
    return (Decimal(str(rng.uniform(low, high)))).quantize(step)


def _baseline(battery, sex: str, rng: random.Random) -> dict[str, Decimal]:
    values = {}
    for item in battery.items.all():
        code = item.measure.code
        if code in computed.COMPUTED:
            continue
        if code == computed.HEIGHT:
            low, high = HEIGHT.get(sex, (160, 180))
            values[code] = _value(rng, low, high, 1)
        elif code == "grip-strength":
            low, high = GRIP.get(sex, (18, 32))
            values[code] = _value(rng, low, high, 1)
        elif code == computed.PHQ9_ITEM9:
            values[code] = Decimal(0)
        elif code in RANGES:
            low, high, places, *_ = RANGES[code]
            values[code] = _value(rng, low, high, places)
    return values


def _later(baseline: dict[str, Decimal], rng: random.Random, improves: bool) -> dict[str, Decimal]:
    """An interim: better by a realistic amount, or (for some) about the same or a little worse."""
    values = {}
    for code, value in baseline.items():
        if code == computed.HEIGHT:
            continue  # measured once; BMI takes the baseline's height
        if code not in RANGES:
            values[code] = value
            continue
        _, _, places, better_low, better_high = RANGES[code]
        change = rng.uniform(better_low, better_high) if improves else -rng.uniform(0, better_high * 0.3)
        if code == "29463-7":
            change = float(value) * change / 100  # a percentage of the weight
        values[code] = (value + Decimal(str(change))).quantize(Decimal(1).scaleb(-places))
    return values


def _record(clinic, actor, enrollment, battery, timepoint, on, values) -> bool:
    measures = {item.measure.code: item.measure for item in battery.items.all()}
    for code, value in list(values.items()):
        measure = measures[code]
        low, high = measure.min_value, measure.max_value
        if low is not None and value < low:
            values[code] = low
        if high is not None and value > high:
            values[code] = high
    try:
        services.assessment_record(
            clinic=clinic, actor=actor, enrollment=enrollment, battery=battery, timepoint=timepoint, assessed_on=on,
            values={code: services.Entry(value) for code, value in values.items()},
        )  # fmt: skip
    except ValidationError:
        return False
    return True
