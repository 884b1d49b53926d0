"""Reads of schedules, bookings and authorizations, scoped by clinic and by what the acting membership
may see. An id from a request that is not visible gives Http404."""

import datetime

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.http import Http404

from clinic.compiled import SAMPLE_MOMENT, CompiledQuery, loaded_row, paths_of
from clinic.models import Clinic, Enrollment, Membership, Role
from clinic.permissions import has_permission
from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, SessionLog, StandingBooking
from scheduling.services import BOOKABLE_ENROLLMENT, clinic_zone, local_start

ATTENTION_SHARE = (4, 5)  # 80 %: an authorization this used up needs a renewal
ATTENTION_DAYS = 14  # ... as does one that ends this soon
# Sessions that do not use up an authorization: the patient did not come.
NOT_USED = (SessionLog.Attendance.ABSENT, SessionLog.Attendance.CANCELLED)


# --- Templates and occurrences ------------------------------------------------------------------


def templates_of_clinic(*, clinic: Clinic) -> QuerySet[ClassTemplate]:
    active_standing = StandingBooking.objects.filter(template=OuterRef("pk"), ended_at__isnull=True)
    return (
        ClassTemplate.objects.filter(clinic=clinic)
        .select_related("program", "staff__user")
        .annotate(standing_count=Coalesce(Subquery(
            active_standing.values("template").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
        ), Value(0)))
        .order_by("-is_active", "weekday", "start_time", "name", "id")
    )  # fmt: skip


def template_get(*, clinic: Clinic, template_id: int) -> ClassTemplate:
    template = ClassTemplate.objects.select_related("program", "staff__user").filter(clinic=clinic, pk=template_id)
    template = template.first()
    if template is None:
        raise Http404
    return template


def standing_bookings_of(*, clinic: Clinic, template: ClassTemplate) -> QuerySet[StandingBooking]:
    return (
        StandingBooking.objects.filter(clinic=clinic, template=template, ended_at__isnull=True)
        .select_related("enrollment__patient", "created_by__user")
        .order_by("enrollment__patient__last_name", "enrollment__patient__first_name", "id")
    )


def standing_booking_get(*, clinic: Clinic, template: ClassTemplate, standing_id: int) -> StandingBooking:
    standing = StandingBooking.objects.filter(clinic=clinic, template=template, pk=standing_id).first()
    if standing is None:
        raise Http404
    return standing


def occurrences_between(
    *, clinic: Clinic, start: datetime.date, end: datetime.date, room: str = "", staff_id: int | None = None,
    include_cancelled: bool = True,
) -> QuerySet[Occurrence]:  # fmt: skip
    """Occurrences whose local date is in [start, end], with what the calendar shows, in one query."""
    occurrences = Occurrence.objects.filter(
        clinic=clinic,
        starts_at__gte=local_start(clinic, start, datetime.time.min),
        starts_at__lt=local_start(clinic, end + datetime.timedelta(days=1), datetime.time.min),
    ).select_related("program", "staff__user")
    if room:
        occurrences = occurrences.filter(room=room)
    if staff_id:
        occurrences = occurrences.filter(staff_id=staff_id)
    if not include_cancelled:
        occurrences = occurrences.filter(status=Occurrence.Status.SCHEDULED)
    waitlisted = Booking.objects.filter(occurrence=OuterRef("pk"), status=Booking.Status.WAITLISTED)
    return occurrences.annotate(
        waitlist_count=Coalesce(Subquery(
            waitlisted.values("occurrence").annotate(n=Count("pk")).values("n"), output_field=IntegerField()
        ), Value(0))
    ).order_by("starts_at", "room", "id")  # fmt: skip


def occurrence_get(*, clinic: Clinic, occurrence_id: int) -> Occurrence:
    occurrence = (
        Occurrence.objects.select_related("program", "template", "staff__user")
        .filter(clinic=clinic, pk=occurrence_id)
        .first()
    )
    if occurrence is None:
        raise Http404
    return occurrence


def rooms_of_clinic(*, clinic: Clinic) -> list[str]:
    rooms = ClassTemplate.objects.filter(clinic=clinic).exclude(room="").values_list("room", flat=True)
    return sorted(set(rooms))


def schedule_staff(*, clinic: Clinic) -> QuerySet[Membership]:
    """Who can lead a class: active admins and physiologists."""
    return (
        Membership.objects.filter(clinic=clinic, is_active=True)
        .filter(Q(roles__contains=[Role.PHYSIOLOGIST]) | Q(roles__contains=[Role.ADMIN]))
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "id")
    )


# --- Bookings ---------------------------------------------------------------------------------


def bookings_visible_to(membership: Membership) -> QuerySet[Booking]:
    bookings = Booking.objects.filter(clinic_id=membership.clinic_id)
    if has_permission(membership, "booking.view_all"):
        return bookings
    if has_permission(membership, "booking.view"):
        # Physicians: the bookings of patients they referred or whose plan they sign.
        return bookings.filter(patient__physician_links__physician=membership).distinct()
    return bookings.none()


def booking_get(*, membership: Membership, booking_id: int) -> Booking:
    booking = (
        bookings_visible_to(membership)
        .select_related("occurrence__program", "patient", "enrollment__program")
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        raise Http404
    return booking


def occurrence_roster(*, clinic: Clinic, occurrence: Occurrence) -> QuerySet[Booking]:
    """Everyone booked, waitlisted or cancelled for a class: places first, then the waitlist in order."""
    return (
        Booking.objects.filter(clinic=clinic, occurrence=occurrence)
        .select_related("patient", "enrollment", "booked_by__user")
        .order_by("booked_at", "id")
    )


def bookable_enrollments(*, clinic: Clinic, occurrence: Occurrence) -> QuerySet[Enrollment]:
    """Enrollments that could be booked into `occurrence`: its program, enrolled or attending, the class
    inside their dates, not booked into it already."""
    day = occurrence.starts_at.astimezone(clinic_zone(clinic)).date()
    booked = Booking.objects.filter(
        occurrence=occurrence, enrollment=OuterRef("pk"), status__in=[Booking.Status.BOOKED, Booking.Status.WAITLISTED]
    )
    return (
        Enrollment.objects.filter(
            clinic=clinic, program_id=occurrence.program_id, status__in=BOOKABLE_ENROLLMENT, start_date__lte=day
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=day))
        .exclude(Exists(booked))
        .select_related("patient", "program")
        .order_by("patient__last_name", "patient__first_name", "id")
    )


def enrollments_for_booking(*, clinic: Clinic, program_id: int | None = None) -> QuerySet[Enrollment]:
    enrollments = Enrollment.objects.filter(clinic=clinic, status__in=BOOKABLE_ENROLLMENT).select_related(
        "patient", "program"
    )
    if program_id:
        enrollments = enrollments.filter(program_id=program_id)
    return enrollments.order_by("patient__last_name", "patient__first_name", "program__name", "id")


CHART_SESSIONS = 10  # upcoming, and past, on the chart


CHART_BOOKING_PARTS = [
    (Booking, "", ["id", "status", "occurrence_id"]),
    (Occurrence, "occurrence__", ["id", "starts_at", "name", "room"]),
]


def _chart_bookings(*, upcoming: bool) -> CompiledQuery:
    """A patient's next or last sessions, with the columns the chart shows, compiled once (clinic.compiled:
    the two queries cost about 3 ms of CPU a chart through the ORM; issue 11). Values: clinic, patient, now."""
    if upcoming:
        when, order = "occurrence__starts_at__gte", ("occurrence__starts_at", "id")
    else:
        when, order = "occurrence__starts_at__lt", ("-occurrence__starts_at", "-id")
    return CompiledQuery(
        lambda clinic_id, patient_id, now: Booking.objects.filter(clinic_id=clinic_id).filter(patient_id=patient_id)
        .filter(**{when: now}).order_by(*order)
        .values_list(*paths_of(CHART_BOOKING_PARTS))[:CHART_SESSIONS],
        clinic_id=-1, patient_id=-2, now=SAMPLE_MOMENT,
    )  # fmt: skip


UPCOMING_SESSIONS, PAST_SESSIONS = _chart_bookings(upcoming=True), _chart_bookings(upcoming=False)


def patient_sessions(*, clinic: Clinic, patient_id: int, now: datetime.datetime):
    """A patient's upcoming and past sessions for the chart: (upcoming, past), each at most CHART_SESSIONS
    bookings with their classes."""
    values = {"clinic_id": clinic.pk, "patient_id": patient_id, "now": now}
    upcoming = [_booking_with_class(row) for row in UPCOMING_SESSIONS.rows(**values)]
    past = [_booking_with_class(row) for row in PAST_SESSIONS.rows(**values)]
    return upcoming, past


def _booking_with_class(row) -> Booking:
    booking, occurrence = loaded_row(row, CHART_BOOKING_PARTS)
    booking.occurrence = occurrence
    return booking


# --- Authorizations ---------------------------------------------------------------------------


def _used_subquery(clinic: Clinic):
    """Sessions booked against an authorization: bookings holding a place whose class falls inside its
    dates, less the ones the floor sheet recorded as absent or cancelled."""
    bookings = (
        Booking.objects.filter(enrollment=OuterRef("enrollment"), status=Booking.Status.BOOKED)
        .annotate(day=TruncDate("occurrence__starts_at", tzinfo=clinic_zone(clinic)))
        .filter(day__gte=OuterRef("starts_on"), day__lte=OuterRef("ends_on"))
        .exclude(session_log__attendance__in=NOT_USED)
    )
    return Coalesce(
        Subquery(bookings.values("enrollment").annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
        Value(0),
    )


def sessions_used(*, clinic: Clinic, authorization: Authorization) -> int:
    return Authorization.objects.filter(pk=authorization.pk).annotate(used=_used_subquery(clinic)).get().used


def authorizations_of_clinic(*, clinic: Clinic, enrollment_id: int | None = None) -> QuerySet[Authorization]:
    share, whole = ATTENTION_SHARE
    authorizations = (
        Authorization.objects.filter(clinic=clinic)
        .select_related("enrollment__patient", "enrollment__program")
        .annotate(used=_used_subquery(clinic))
        .annotate(used_scaled=F("used") * whole, authorized_scaled=F("sessions_authorized") * share)
        .annotate(nearly_used=Case(When(used_scaled__gte=F("authorized_scaled"), then=True), default=False))
    )
    if enrollment_id:
        authorizations = authorizations.filter(enrollment_id=enrollment_id)
    return authorizations.order_by("ends_on", "id")


def authorizations_needing_attention(*, clinic: Clinic, today: datetime.date) -> QuerySet[Authorization]:
    """Current authorizations of enrolled patients at 80 % use or more, or ending within 14 days."""
    return (
        authorizations_of_clinic(clinic=clinic)
        .filter(ends_on__gte=today, enrollment__status__in=BOOKABLE_ENROLLMENT)
        .filter(Q(ends_on__lte=today + datetime.timedelta(days=ATTENTION_DAYS)) | Q(nearly_used=True))
    )


def authorization_get(*, clinic: Clinic, authorization_id: int) -> Authorization:
    authorization = authorizations_of_clinic(clinic=clinic).filter(pk=authorization_id).first()
    if authorization is None:
        raise Http404
    return authorization
