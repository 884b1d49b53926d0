"""Demo schedules (called by `manage.py seed_demo` after the referrals' demo): recurring classes per
program from three months ago, standing bookings of the enrolled patients, a cancelled class, a few
cancelled bookings and insurance authorizations."""

import datetime
import random

from django.db.models import Q
from django.utils import timezone

from clinic.models import Enrollment, Membership, ProgramType, Role
from scheduling import services
from scheduling.models import Booking, ClassTemplate, Occurrence

WEEKS_BACK = 13

# (name, weekdays, start, minutes, room, places) per program type
CLASSES = {
    ProgramType.CR: [("Cardiac rehab 9:00", (0, 2, 4), "09:00", 60, "Cardiac Gym", 12),
                     ("Cardiac rehab 10:30", (0, 2, 4), "10:30", 60, "Cardiac Gym", 12)],
    ProgramType.ICR: [("Intensive cardiac rehab", (1, 3), "13:00", 60, "Cardiac Gym", 10)],
    ProgramType.PR: [("Pulmonary rehab", (1, 3), "10:00", 60, "Pulmonary Suite", 8)],
    ProgramType.POST_REHAB: [("Medical fitness", (0, 2), "16:00", 60, "Fitness Floor", 15)],
    ProgramType.DPP: [("Lifestyle change group", (1,), "18:00", 60, "Classroom 1", 16)],
    ProgramType.MDPP: [("Medicare DPP group", (3,), "18:00", 60, "Classroom 1", 16)],
}  # fmt: skip
OTHER = [("Small-group exercise", (2,), "14:00", 60, "Fitness Floor", 12)]


def seed(clinic) -> None:
    if ClassTemplate.objects.filter(clinic=clinic).exists():
        return
    staff = (
        Membership.objects.filter(clinic=clinic, is_active=True)
        .filter(Q(roles__contains=[Role.PHYSIOLOGIST]) | Q(roles__contains=[Role.ADMIN]))
        .order_by("id")
        .first()
    )
    if staff is None:
        return
    rng = random.Random(f"schedule-{clinic.slug}")
    today = services.local_date(clinic, timezone.now())
    first_day = today - datetime.timedelta(weeks=WEEKS_BACK)
    templates = _seed_classes(clinic, staff, first_day, today)
    _seed_standing_bookings(clinic, staff, templates, rng, today)
    _seed_cancellations(clinic, staff, rng)


def _seed_classes(clinic, staff, first_day, today) -> dict:
    """Every program's classes, generated from three months back to the horizon."""
    from clinic.models import Program

    templates = {}
    for program in Program.objects.filter(clinic=clinic, is_active=True).order_by("id"):
        for name, weekdays, start, minutes, room, places in CLASSES.get(program.program_type, OTHER):
            for weekday in weekdays:
                day_name = ClassTemplate.Weekday(weekday).label[:3]
                template = services.class_template_save(
                    clinic=clinic, actor=staff,
                    data={"program": program, "name": f"{name} ({day_name})", "weekday": weekday,
                          "start_time": datetime.time.fromisoformat(start), "duration_minutes": minutes, "room": room,
                          "capacity": places, "staff": staff, "starts_on": first_day},
                )  # fmt: skip
                services.occurrences_generate(clinic=clinic, template=template, start=first_day, end=today)
                templates.setdefault(program.pk, []).append(template)
    return templates


def _seed_standing_bookings(clinic, staff, templates, rng, today) -> None:
    """Enrolled patients attend one class series of their program: their enrollment is moved back (demo
    only) so that they have weeks of past sessions, then booked into every session from their start."""
    enrollments = Enrollment.objects.filter(clinic=clinic, status__in=services.BOOKABLE_ENROLLMENT).select_related(
        "program", "patient"
    )
    for enrollment in enrollments.order_by("id"):
        program_templates = templates.get(enrollment.program_id)
        if not program_templates:
            continue
        start = today - datetime.timedelta(weeks=rng.randint(2, WEEKS_BACK - 1))
        Enrollment.objects.filter(pk=enrollment.pk).update(start_date=start, status=Enrollment.Status.ACTIVE)
        enrollment.refresh_from_db()
        # One time of day, every weekday it runs (CR: Monday, Wednesday and Friday at 9:00 or 10:30).
        series = rng.choice(sorted({t.name.rsplit(" (", 1)[0] for t in program_templates}))
        the_start = services.local_start(clinic, start, datetime.time.min)
        for template in program_templates:
            if template.name.startswith(series):
                services.standing_booking_create(
                    clinic=clinic, actor=staff, template=template, enrollment=enrollment, starts_on=start,
                    now=the_start,
                )  # fmt: skip
        if rng.random() < 0.6:
            services.authorization_save(
                clinic=clinic, actor=None, enrollment=enrollment,
                data={"payer": enrollment.patient.primary_payer or "Medicare Part B",
                      "number": f"AUTH-{enrollment.pk:05d}", "sessions_authorized": rng.choice([12, 18, 24, 36]),
                      "starts_on": start, "ends_on": start + datetime.timedelta(weeks=rng.choice([6, 12, 16]))},
            )  # fmt: skip


def _seed_cancellations(clinic, staff, rng) -> None:
    """A class cancelled for a holiday next week, and a few patients who cancelled (one of them late)."""
    now = timezone.now()
    upcoming = Occurrence.objects.filter(
        clinic=clinic, starts_at__gt=now + datetime.timedelta(days=5), booked_count__gt=0
    ).order_by("starts_at")
    holiday = upcoming.first()
    if holiday is not None:
        services.occurrence_cancel(clinic=clinic, actor=staff, occurrence=holiday, reason="Clinic closed (holiday).")
    bookings = list(
        Booking.objects.filter(
            clinic=clinic, status=Booking.Status.BOOKED, occurrence__starts_at__gt=now + datetime.timedelta(hours=2)
        ).order_by("occurrence__starts_at", "id")[:40]
    )
    for booking in rng.sample(bookings, min(3, len(bookings))):
        services.booking_cancel(clinic=clinic, actor=staff, booking=booking, reason="Family commitment.")
