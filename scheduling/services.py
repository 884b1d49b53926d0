"""Every write of schedules, bookings and authorizations. Each validates first and runs in one transaction.

Capacity is the database's to enforce: a place is taken by one guarded UPDATE
(`booked_count = booked_count + 1 WHERE booked_count < capacity AND status = 'scheduled'`) in the same
transaction as the booking's insert, so any number of simultaneous requests for the last place give
exactly one booking. Times are stored in UTC and generated in the clinic's time zone, so a 9:00 class
stays at 9:00 on either side of a daylight-saving change.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from clinic import events, outbox
from clinic.models import Clinic, Enrollment, Membership, OutboundMessage
from scheduling import notices
from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, StandingBooking

HORIZON_WEEKS = 8
BOOKABLE_ENROLLMENT = (Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE)
CLASS_FULL = "This class is full."


def clinic_zone(clinic: Clinic) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(clinic.timezone)


def local_date(clinic: Clinic, moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(clinic_zone(clinic)).date()


def local_start(clinic: Clinic, day: datetime.date, at: datetime.time) -> datetime.datetime:
    """`day` at wall-clock time `at` in the clinic's zone (zoneinfo picks the right UTC offset for that day)."""
    return datetime.datetime.combine(day, at, tzinfo=clinic_zone(clinic))


# --- Class templates and occurrences ----------------------------------------------------------

TEMPLATE_FIELDS = ["program", "name", "weekday", "start_time", "duration_minutes", "room", "capacity", "staff",
                   "delivery_mode", "starts_on", "ends_on", "is_active"]  # fmt: skip
# Changing these moves the class: future occurrences without bookings are made again.
TIMING_FIELDS = ("weekday", "start_time", "duration_minutes")


def _check_template(clinic: Clinic, template: ClassTemplate) -> None:
    if template.program_id and template.program.clinic_id != clinic.pk:
        raise ValidationError({"program": "Choose one of this clinic's programs."})
    if template.staff_id and (template.staff.clinic_id != clinic.pk or not template.staff.is_active):
        raise ValidationError({"staff": "Choose an active member of this clinic's staff."})
    if template.ends_on and template.starts_on and template.ends_on < template.starts_on:
        raise ValidationError({"ends_on": "The last date must be on or after the first date."})


@transaction.atomic
def class_template_save(*, clinic: Clinic, actor: Membership, data: dict, template: ClassTemplate | None = None):
    """Create or change a recurring class, then generate its occurrences up to the horizon.

    A change of day, time or length replaces future occurrences that nobody is booked into; those with
    bookings keep their time (the patients were told it) but take the new name, room, staff and capacity
    (never below the places already taken; new places go to the waitlist).
    """
    is_new = template is None
    template = template or ClassTemplate(clinic=clinic)
    before = {name: getattr(template, name) for name in TIMING_FIELDS} if not is_new else {}
    for key in TEMPLATE_FIELDS:
        if key in data:
            setattr(template, key, data[key])
    _check_template(clinic, template)
    template.full_clean(exclude=["clinic"])
    template.save()
    if not is_new:
        _update_future_occurrences(clinic, template, timing_changed=any(
            before[name] != getattr(template, name) for name in TIMING_FIELDS
        ))  # fmt: skip
    occurrences_generate(clinic=clinic, template=template)
    return template


def _update_future_occurrences(clinic: Clinic, template: ClassTemplate, *, timing_changed: bool) -> None:
    future = Occurrence.objects.filter(
        clinic=clinic, template=template, starts_at__gt=timezone.now(), status=Occurrence.Status.SCHEDULED
    )
    unbooked = future.filter(bookings__isnull=True)
    if timing_changed or not template.is_active:
        unbooked.delete()
    outside = Q(starts_at__lt=local_start(clinic, template.starts_on, datetime.time.min))
    if template.ends_on:
        day_after = template.ends_on + datetime.timedelta(days=1)
        outside |= Q(starts_at__gte=local_start(clinic, day_after, datetime.time.min))
    unbooked.filter(outside).delete()
    for occurrence in future.select_for_update():
        occurrence.name, occurrence.room, occurrence.staff_id = template.name, template.room, template.staff_id
        occurrence.capacity = max(template.capacity, occurrence.booked_count)
        occurrence.delivery_mode = template.delivery_mode
        occurrence.save(update_fields=["name", "room", "staff", "capacity", "delivery_mode"])
        # A larger room: the waitlist moves up into the new places, first come first served.
        for _ in range(occurrence.capacity - occurrence.booked_count):
            if _promote_waitlisted(clinic, occurrence.pk) is None:
                break


def _dates_of(template: ClassTemplate, start: datetime.date, end: datetime.date):
    start = max(start, template.starts_on)
    if template.ends_on:
        end = min(end, template.ends_on)
    day = start + datetime.timedelta(days=(template.weekday - start.weekday()) % 7)
    while day <= end:
        yield day
        day += datetime.timedelta(days=7)


def occurrences_generate(
    *, clinic: Clinic, template: ClassTemplate, start: datetime.date | None = None, end: datetime.date | None = None
) -> int:
    """Make the dated occurrences of `template` from `start` (today) to `end` (the horizon: 8 weeks, so 8
    sessions of a weekly class), in the clinic's
    time zone. Idempotent: an occurrence is unique per template and start time, so running it again (or
    two at once) adds only what is missing. Standing bookings are carried into the new occurrences.
    Returns how many occurrences were made."""
    if not template.is_active:
        return 0
    today = timezone.now().astimezone(clinic_zone(clinic)).date()
    start = start or today
    end = end or today + datetime.timedelta(weeks=HORIZON_WEEKS, days=-1)
    duration = datetime.timedelta(minutes=template.duration_minutes)
    rows = []
    for day in _dates_of(template, start, end):
        starts_at = local_start(clinic, day, template.start_time)
        rows.append(
            Occurrence(
                clinic=clinic, template=template, program_id=template.program_id, name=template.name,
                starts_at=starts_at, ends_at=starts_at + duration, room=template.room, capacity=template.capacity,
                staff_id=template.staff_id, delivery_mode=template.delivery_mode,
            )
        )  # fmt: skip
    if not rows:
        return 0
    with transaction.atomic():
        existing = set(
            Occurrence.objects.filter(
                clinic=clinic, template=template, starts_at__in=[r.starts_at for r in rows]
            ).values_list("starts_at", flat=True)
        )
        Occurrence.objects.bulk_create(rows, ignore_conflicts=True)
        made = [r.starts_at for r in rows if r.starts_at not in existing]
        if made:
            for standing in StandingBooking.objects.filter(clinic=clinic, template=template, ended_at__isnull=True):
                _book_standing_into(clinic, standing, Occurrence.objects.filter(
                    clinic=clinic, template=template, starts_at__in=made
                ))  # fmt: skip
    return len(made)


def occurrences_extend(*, clinic: Clinic) -> int:
    """Generate every active class of the clinic up to the horizon (Celery beat, daily)."""
    made = 0
    for template in ClassTemplate.objects.filter(clinic=clinic, is_active=True).select_related("program"):
        made += occurrences_generate(clinic=clinic, template=template)
    return made


APPOINTMENT_FIELDS = ["program", "name", "starts_at", "duration_minutes", "room", "staff"]


@transaction.atomic
def appointment_create(*, clinic: Clinic, actor: Membership, enrollment: Enrollment, data: dict):
    """A one-off individual appointment: an occurrence of capacity 1 without a template, booked for the
    patient at once. Returns (occurrence, booking, warnings)."""
    starts_at = data["starts_at"]
    occurrence = Occurrence(
        clinic=clinic, template=None, program_id=enrollment.program_id,
        name=data.get("name") or f"Individual session: {enrollment.program.name}", starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=data.get("duration_minutes") or 60),
        room=data.get("room", ""), capacity=1, staff=data.get("staff"),
    )  # fmt: skip
    if occurrence.staff_id and (occurrence.staff.clinic_id != clinic.pk or not occurrence.staff.is_active):
        raise ValidationError({"staff": "Choose an active member of this clinic's staff."})
    occurrence.full_clean(exclude=["clinic"])
    _check_bookable(clinic, occurrence, enrollment, now=timezone.now())
    occurrence.save()
    booking, warnings = booking_create(clinic=clinic, actor=actor, occurrence=occurrence, enrollment=enrollment)
    occurrence.refresh_from_db(fields=["booked_count"])
    return occurrence, booking, warnings


def _cancel_notice(clinic: Clinic, occurrence: Occurrence) -> tuple[str, str]:
    """What a patient is told: the class's time and place and the clinic's phone, nothing clinical."""
    start = occurrence.starts_at.astimezone(clinic_zone(clinic))
    when, place = notices.when_and_where(clinic, occurrence)
    subject = f"{clinic.name}: your session on {start:%b} {start.day} is cancelled"
    body = (
        f"Hello,\n\nYour session at {clinic.name} on {when}{place} is cancelled. We are sorry for the change.\n\n"
        f"To book another time, please {notices.clinic_contact(clinic)}.\n\n{clinic.name}\n{clinic.address}"
    ).rstrip()
    return subject, body + "\n"


@transaction.atomic
def occurrence_cancel(*, clinic: Clinic, actor: Membership, occurrence: Occurrence, reason: str) -> int:
    """Cancel a class (a holiday, staff illness): its bookings become "class cancelled", the places are
    freed, and every booked or waitlisted patient gets one notice by email (with an email) and one by
    text (opted in; scheduling/notices.py). Returns how many patients are told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for cancelling the class."})
    occurrence = Occurrence.objects.select_for_update().get(clinic=clinic, pk=occurrence.pk)
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise ValidationError("This class is already cancelled.")
    if occurrence.ends_at <= timezone.now():
        raise ValidationError("This class has already taken place; it cannot be cancelled.")
    bookings = list(
        Booking.objects.select_for_update()
        .filter(clinic=clinic, occurrence=occurrence, status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED])
        .select_related("patient")
    )
    now = timezone.now()
    occurrence.status, occurrence.cancel_reason, occurrence.booked_count = Occurrence.Status.CANCELLED, reason[:200], 0
    occurrence.save(update_fields=["status", "cancel_reason", "booked_count"])
    subject, body = _cancel_notice(clinic, occurrence)
    told = 0
    for booking in bookings:
        booking.status, booking.cancelled_at, booking.cancel_reason = Booking.Status.CLASS_CANCELLED, now, reason[:200]
        booking.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        booking.occurrence = occurrence
        if booking.patient.email:
            outbox.message_queue(
                clinic=clinic, kind=OutboundMessage.Kind.CLASS_CANCELLED, key=f"class-cancelled:{booking.pk}",
                to_email=booking.patient.email, subject=subject, body=body,
            )  # fmt: skip
        texted = notices.class_cancelled_text(clinic=clinic, booking=booking)
        told += bool(booking.patient.email) or texted
    return told


# --- Bookings ---------------------------------------------------------------------------------


@dataclass
class BookingResult:
    booked: list = field(default_factory=list)
    waitlisted: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (occurrence, reason)
    warnings: list = field(default_factory=list)


def _check_bookable(clinic: Clinic, occurrence: Occurrence, enrollment: Enrollment, *, now) -> None:
    """The refusals, each with its own message. Checked before anything is written."""
    if enrollment.clinic_id != clinic.pk or occurrence.clinic_id != clinic.pk:
        raise ValidationError("Choose a patient and a class of this clinic.")
    if occurrence.status == Occurrence.Status.CANCELLED:
        raise ValidationError("This class is cancelled; choose another one.")
    if occurrence.starts_at <= now:
        raise ValidationError("This class has already started; only upcoming classes can be booked.")
    if occurrence.program_id != enrollment.program_id:
        raise ValidationError(
            f"This class is for {occurrence.program.name}; the patient is enrolled in {enrollment.program.name}."
        )
    if enrollment.status not in BOOKABLE_ENROLLMENT:
        raise ValidationError(
            f"The patient's enrollment is {enrollment.get_status_display().lower()}; "
            "only enrolled or attending patients can be booked."
        )
    day = local_date(clinic, occurrence.starts_at)
    if day < enrollment.start_date:
        raise ValidationError(
            f"The class on {day:%m/%d/%Y} is before the patient's enrollment starts ({enrollment.start_date:%m/%d/%Y})."
        )
    if enrollment.ended_on and day > enrollment.ended_on:
        raise ValidationError(
            f"The class on {day:%m/%d/%Y} is after the patient's enrollment ended ({enrollment.ended_on:%m/%d/%Y})."
        )


def _take_place(clinic: Clinic, occurrence_id: int) -> bool:
    """The one guarded UPDATE that holds capacity, however many requests arrive at once."""
    return bool(
        Occurrence.objects.filter(
            clinic=clinic, pk=occurrence_id, booked_count__lt=F("capacity"), status=Occurrence.Status.SCHEDULED
        ).update(booked_count=F("booked_count") + 1)
    )


def _insert_booking(**fields) -> Booking:
    try:
        with transaction.atomic():
            return Booking.objects.create(**fields)
    except IntegrityError as error:
        if "booking_once_per_occurrence" in str(error):
            raise ValidationError("The patient is already booked into this class.") from error
        raise


def _book_one(clinic, actor_id, occurrence, enrollment, *, waitlist, is_makeup=False, standing=None) -> Booking:
    """Validate-free core shared by single and standing bookings: a place if one is free, else the
    waitlist (when asked), else "This class is full."."""
    if Booking.objects.filter(
        clinic=clinic, occurrence=occurrence, enrollment=enrollment,
        status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED],
    ).exists():  # fmt: skip
        raise ValidationError("The patient is already booked into this class.")
    status = Booking.Status.BOOKED
    if not _take_place(clinic, occurrence.pk):
        if not waitlist:
            raise ValidationError(CLASS_FULL)
        status = Booking.Status.WAITLISTED
    return _insert_booking(
        clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient_id=enrollment.patient_id,
        standing_booking=standing, status=status, is_makeup=is_makeup, booked_by_id=actor_id,
    )  # fmt: skip


@transaction.atomic
def booking_create(
    *, clinic: Clinic, actor: Membership, occurrence: Occurrence, enrollment: Enrollment, waitlist: bool = False,
    is_makeup: bool = False, now: datetime.datetime | None = None,
) -> tuple[Booking, list[str]]:  # fmt: skip
    """Book a patient into one class. A full class refuses ("This class is full.") unless `waitlist`, which
    puts the patient on its waitlist. Returns the booking and the authorization warnings (the booking is
    made anyway: staff decide). `now` is for the demo data, which books classes in the past."""
    _check_bookable(clinic, occurrence, enrollment, now=now or timezone.now())
    booking = _book_one(clinic, actor.pk, occurrence, enrollment, waitlist=waitlist, is_makeup=is_makeup)
    warnings = authorization_warnings(clinic=clinic, enrollment=enrollment, occurrence=occurrence)
    return booking, warnings


def _promote_waitlisted(clinic: Clinic, occurrence_id: int) -> Booking | None:
    """Give a freed place to the first on the waitlist (by booking time), in the caller's transaction, and
    tell the patient (email, and text when opted in: scheduling/notices.py)."""
    first = (
        Booking.objects.select_for_update(of=("self",))
        .filter(clinic=clinic, occurrence_id=occurrence_id, status=Booking.Status.WAITLISTED)
        .select_related("patient", "occurrence")
        .order_by("booked_at", "id")
        .first()
    )
    if first is None or not _take_place(clinic, occurrence_id):
        return None
    first.status = Booking.Status.BOOKED
    first.save(update_fields=["status"])
    notices.place_offered_notify(clinic=clinic, booking=first)
    return first


@transaction.atomic
def booking_cancel(
    *, clinic: Clinic, actor: Membership, booking: Booking, reason: str = "", now: datetime.datetime | None = None
) -> Booking:
    """Cancel a booking (or take the patient off the waitlist). Inside the clinic's notice period
    (Clinic.late_cancel_hours before the start) it is recorded as a late cancellation. A freed place goes
    to the first patient on the waitlist, in the same transaction."""
    now = now or timezone.now()
    booking = Booking.objects.select_for_update().select_related("occurrence").get(clinic=clinic, pk=booking.pk)
    if booking.status not in (Booking.Status.BOOKED, Booking.Status.WAITLISTED):
        raise ValidationError(f"This booking is already {booking.get_status_display().lower()}.")
    occurrence = booking.occurrence
    if occurrence.starts_at <= now:
        raise ValidationError("This class has already started; record the absence on the floor sheet instead.")
    held_a_place = booking.status == Booking.Status.BOOKED
    late = held_a_place and occurrence.starts_at - now < datetime.timedelta(hours=clinic.late_cancel_hours)
    booking.status = Booking.Status.LATE_CANCELLED if late else Booking.Status.CANCELLED
    booking.cancelled_at, booking.cancel_reason = now, (reason or "").strip()[:200]
    booking.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    if held_a_place:
        Occurrence.objects.filter(clinic=clinic, pk=occurrence.pk, booked_count__gt=0).update(
            booked_count=F("booked_count") - 1
        )
        _promote_waitlisted(clinic, occurrence.pk)
    return booking


def _book_standing_into(clinic: Clinic, standing: StandingBooking, occurrences, now=None) -> BookingResult:
    """Book a standing booking into each of `occurrences` it covers; a full class puts the patient on
    its waitlist; a class outside the enrollment's dates is skipped with its reason."""
    result = BookingResult()
    enrollment = standing.enrollment
    now = now or timezone.now()
    already = Booking.objects.filter(
        occurrence=OuterRef("pk"), enrollment=enrollment, status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED]
    )
    candidates = (
        occurrences.filter(status=Occurrence.Status.SCHEDULED, starts_at__gt=now)
        .exclude(Exists(already))
        .select_related("program")
        .order_by("starts_at")
    )
    for occurrence in candidates:
        if local_date(clinic, occurrence.starts_at) < standing.starts_on:
            continue
        try:
            _check_bookable(clinic, occurrence, enrollment, now=now)
            with transaction.atomic():
                booking = _book_one(clinic, standing.created_by_id, occurrence, enrollment, waitlist=True,
                                    standing=standing)  # fmt: skip
        except ValidationError as error:
            result.skipped.append((occurrence, " ".join(error.messages)))
            continue
        (result.booked if booking.status == Booking.Status.BOOKED else result.waitlisted).append(booking)
    return result


@transaction.atomic
def standing_booking_create(
    *, clinic: Clinic, actor: Membership, template: ClassTemplate, enrollment: Enrollment,
    starts_on: datetime.date | None = None, now: datetime.datetime | None = None,
) -> tuple[StandingBooking, BookingResult]:  # fmt: skip
    """Book a patient into a recurring class: every future occurrence from `starts_on`, and every
    occurrence generated later. Full classes put the patient on the waitlist. `now` is for the demo data."""
    starts_on = starts_on or max(enrollment.start_date, timezone.now().astimezone(clinic_zone(clinic)).date())
    if template.clinic_id != clinic.pk or enrollment.clinic_id != clinic.pk:
        raise ValidationError("Choose a patient and a class of this clinic.")
    if template.program_id != enrollment.program_id:
        raise ValidationError(
            f"This class is for {template.program.name}; the patient is enrolled in {enrollment.program.name}."
        )
    if enrollment.status not in BOOKABLE_ENROLLMENT:
        raise ValidationError(
            f"The patient's enrollment is {enrollment.get_status_display().lower()}; "
            "only enrolled or attending patients can be booked."
        )
    if not template.is_active:
        raise ValidationError("This class is no longer running.")
    if StandingBooking.objects.filter(
        clinic=clinic, template=template, enrollment=enrollment, ended_at__isnull=True
    ).exists():
        raise ValidationError("The patient already has a standing booking in this class.")
    occurrences_generate(clinic=clinic, template=template)  # first: what it makes is booked below
    standing = StandingBooking.objects.create(
        clinic=clinic, template=template, enrollment=enrollment, starts_on=starts_on, created_by=actor
    )
    result = _book_standing_into(clinic, standing, Occurrence.objects.filter(clinic=clinic, template=template), now)
    dates = [b.occurrence for b in result.booked + result.waitlisted]
    if dates:
        result.warnings = authorization_warnings(clinic=clinic, enrollment=enrollment, occurrence=max(
            dates, key=lambda o: o.starts_at))  # fmt: skip
    return standing, result


@transaction.atomic
def standing_booking_end(*, clinic: Clinic, actor: Membership, standing: StandingBooking) -> int:
    """Stop a standing booking: its future bookings are cancelled (places freed, waitlists promoted).
    Returns how many future bookings were cancelled."""
    standing = StandingBooking.objects.select_for_update().get(clinic=clinic, pk=standing.pk)
    if standing.ended_at is not None:
        raise ValidationError("This standing booking has already ended.")
    now = timezone.now()
    standing.ended_at = now
    standing.save(update_fields=["ended_at"])
    cancelled = 0
    future = standing.bookings.filter(
        occurrence__starts_at__gt=now, status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED]
    )
    for booking in future:
        booking_cancel(clinic=clinic, actor=actor, booking=booking, reason="Standing booking ended.", now=now)
        cancelled += 1
    return cancelled


def bookings_release_ended(*, clinic: Clinic, enrollment: Enrollment | None = None) -> int:
    """Give back the places of patients whose enrollment ends: upcoming sessions after its end date (or, with
    no end date, every upcoming session of a completed or discharged enrollment) are cancelled and their
    waitlists move up; standing bookings of finished enrollments stop. Idempotent. Returns how many
    bookings were cancelled.

    With `enrollment`, only that one's: a discharge calls it at once, in its transaction, through the
    `enrollment_ended` event (referrals/ may not import scheduling/; clinic/events.py). Without, run daily
    with the schedule's extension, for enrollments whose end date passes or that ended another way."""
    now = timezone.now()
    today = local_date(clinic, now)
    finished = [Enrollment.Status.COMPLETED, Enrollment.Status.DISCHARGED]
    cancelled = 0
    standings = StandingBooking.objects.filter(clinic=clinic, ended_at__isnull=True).filter(
        Q(enrollment__status__in=finished) | Q(enrollment__ended_on__lt=today)
    )
    mine = {} if enrollment is None else {"enrollment": enrollment}
    with transaction.atomic():
        for standing in standings.filter(**mine):
            standing.ended_at = now
            standing.save(update_fields=["ended_at"])  # a save, not an UPDATE: the audit trail sees it
        upcoming = (
            Booking.objects.filter(
                clinic=clinic, occurrence__starts_at__gt=now,
                status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED],
            )
            .filter(Q(enrollment__status__in=finished) | Q(enrollment__ended_on__isnull=False), **mine)
            .select_related("enrollment", "occurrence", "booked_by")
            .order_by("occurrence__starts_at", "id")
        )  # fmt: skip
        for booking in upcoming:
            ended_on = booking.enrollment.ended_on
            if ended_on is not None and local_date(clinic, booking.occurrence.starts_at) <= ended_on:
                continue  # a session on or before the last day still counts
            booking_cancel(clinic=clinic, actor=booking.booked_by, booking=booking, reason="Enrollment ended.", now=now)
            cancelled += 1
    return cancelled


# --- Authorizations ---------------------------------------------------------------------------

AUTHORIZATION_FIELDS = ["payer", "number", "sessions_authorized", "starts_on", "ends_on"]


@transaction.atomic
def authorization_save(
    *, clinic: Clinic, actor, data: dict, enrollment: Enrollment | None = None,
    authorization: Authorization | None = None,
) -> Authorization:  # fmt: skip
    authorization = authorization or Authorization(clinic=clinic, enrollment=enrollment)
    if authorization.enrollment.clinic_id != clinic.pk:
        raise ValidationError({"enrollment": "Choose an enrollment of this clinic."})
    for key in AUTHORIZATION_FIELDS:
        if key in data:
            value = data[key]
            setattr(authorization, key, value.strip() if isinstance(value, str) else value)
    if authorization.starts_on and authorization.ends_on and authorization.ends_on < authorization.starts_on:
        raise ValidationError({"ends_on": "The last authorized date must be on or after the first."})
    authorization.full_clean(exclude=["clinic", "enrollment"])
    authorization.save()
    return authorization


def authorization_warnings(*, clinic: Clinic, enrollment: Enrollment, occurrence: Occurrence) -> list[str]:
    """Warnings for a booking in `occurrence`: outside every authorization's dates, or past the sessions
    one authorizes. None when the enrollment has no authorizations (self-pay, or not entered yet)."""
    from scheduling.selectors import sessions_used  # selectors read; this module writes

    authorizations = list(Authorization.objects.filter(clinic=clinic, enrollment=enrollment).order_by("starts_on"))
    if not authorizations:
        return []
    day = local_date(clinic, occurrence.starts_at)
    covering = [a for a in authorizations if a.starts_on <= day <= a.ends_on]
    if not covering:
        ranges = "; ".join(f"{a.payer} {a.number}: {a.starts_on:%m/%d/%Y}–{a.ends_on:%m/%d/%Y}" for a in authorizations)
        return [f"The session on {day:%m/%d/%Y} is outside the authorized dates ({ranges})."]
    warnings = []
    for authorization in covering:
        used = sessions_used(clinic=clinic, authorization=authorization)
        if used > authorization.sessions_authorized:
            warnings.append(
                f"{used} sessions are booked against {authorization.payer} authorization {authorization.number}, "
                f"which covers {authorization.sessions_authorized}."
            )
    return warnings


def _release_on_enrollment_end(sender, *, clinic: Clinic, enrollment: Enrollment, **kwargs) -> None:
    bookings_release_ended(clinic=clinic, enrollment=enrollment)


def connect_events() -> None:
    """Called by the app's ready(): act on other apps' events (clinic/events.py)."""
    events.enrollment_ended.connect(_release_on_enrollment_end, dispatch_uid="scheduling-release-ended")
