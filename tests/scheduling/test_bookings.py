"""Bookings: capacity held by the database, the waitlist, late cancellations, refusals, standing bookings,
cancelled classes and their notices, and the bookings API."""

import datetime
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic import services as clinic_services
from clinic.models import AuditEntry, Enrollment, OutboundMessage
from scheduling import services
from scheduling.models import Booking, Occurrence, StandingBooking
from tests.conftest import link_physician, make_member, run_at_once
from tests.scheduling.conftest import make_enrollment, make_occurrence, make_template


def book(staff, occurrence, enrollment, **kwargs):
    return services.booking_create(
        clinic=occurrence.clinic, actor=staff, occurrence=occurrence, enrollment=enrollment, **kwargs
    )


def refused(staff, occurrence, enrollment, **kwargs) -> str:
    with pytest.raises(ValidationError) as error:
        book(staff, occurrence, enrollment, **kwargs)
    return " ".join(error.value.messages)


# --- Capacity -------------------------------------------------------------------------------------


def test_a_booking_takes_a_place(staff, occurrence, enrollment):
    booking, warnings = book(staff, occurrence, enrollment)
    occurrence.refresh_from_db()
    assert booking.status == Booking.Status.BOOKED and occurrence.booked_count == 1 and warnings == []


def test_a_full_class_refuses_with_class_is_full_and_saves_nothing(clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    book(staff, occurrence, make_enrollment(clinic_a, program))
    assert refused(staff, occurrence, enrollment) == "This class is full."
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 1 and not Booking.objects.filter(enrollment=enrollment).exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_requests_for_the_last_place_give_one_booking_and_nineteen_class_is_full(
    clinic_a, program, staff
):
    occurrence = make_occurrence(clinic_a, program, capacity=3)
    for _ in range(2):
        book(staff, occurrence, make_enrollment(clinic_a, program))
    enrollments = [make_enrollment(clinic_a, program) for _ in range(20)]
    queue, lock, answers = list(enrollments), threading.Lock(), []

    def request():
        with lock:
            enrollment = queue.pop()
        try:
            book(staff, Occurrence.objects.get(pk=occurrence.pk), Enrollment.objects.get(pk=enrollment.pk))
        except ValidationError as error:
            answer = " ".join(error.messages)
        else:
            answer = "booked"
        with lock:
            answers.append(answer)

    run_at_once(request, 20)
    occurrence.refresh_from_db()
    assert sorted(answers) == ["This class is full."] * 19 + ["booked"]
    assert occurrence.booked_count == 3
    assert Booking.objects.filter(occurrence=occurrence, status=Booking.Status.BOOKED).count() == 3


# --- Waitlist -------------------------------------------------------------------------------------


def test_a_full_class_puts_the_patient_on_the_waitlist_when_asked(clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    book(staff, occurrence, make_enrollment(clinic_a, program))
    booking, _ = book(staff, occurrence, enrollment, waitlist=True)
    occurrence.refresh_from_db()
    assert booking.status == Booking.Status.WAITLISTED and occurrence.booked_count == 1


def test_cancelling_a_booking_gives_the_place_to_the_first_on_the_waitlist(clinic_a, program, staff):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    holder, _ = book(staff, occurrence, make_enrollment(clinic_a, program))
    first, _ = book(staff, occurrence, make_enrollment(clinic_a, program), waitlist=True)
    second, _ = book(staff, occurrence, make_enrollment(clinic_a, program), waitlist=True)
    Booking.objects.filter(pk=second.pk).update(booked_at=first.booked_at + datetime.timedelta(seconds=1))

    services.booking_cancel(clinic=clinic_a, actor=staff, booking=holder)

    first.refresh_from_db(), second.refresh_from_db(), occurrence.refresh_from_db()
    assert first.status == Booking.Status.BOOKED and second.status == Booking.Status.WAITLISTED
    assert occurrence.booked_count == 1


def test_leaving_the_waitlist_frees_no_place(clinic_a, program, staff):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    book(staff, occurrence, make_enrollment(clinic_a, program))
    waiting, _ = book(staff, occurrence, make_enrollment(clinic_a, program), waitlist=True)
    services.booking_cancel(clinic=clinic_a, actor=staff, booking=waiting)
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 1
    assert Booking.objects.get(pk=waiting.pk).status == Booking.Status.CANCELLED


def test_cancelling_a_booking_with_nobody_waiting_frees_the_place(staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    services.booking_cancel(clinic=occurrence.clinic, actor=staff, booking=booking)
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 0


# --- Late cancellation ------------------------------------------------------------------------------


def test_cancelling_exactly_at_the_notice_period_is_on_time(clinic_a, staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    moment = occurrence.starts_at - datetime.timedelta(hours=clinic_a.late_cancel_hours)
    booking = services.booking_cancel(clinic=clinic_a, actor=staff, booking=booking, now=moment)
    assert booking.status == Booking.Status.CANCELLED


def test_cancelling_a_second_inside_the_notice_period_is_late(clinic_a, staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    moment = occurrence.starts_at - datetime.timedelta(hours=clinic_a.late_cancel_hours) + datetime.timedelta(seconds=1)
    booking = services.booking_cancel(clinic=clinic_a, actor=staff, booking=booking, now=moment)
    assert booking.status == Booking.Status.LATE_CANCELLED


def test_the_notice_period_is_the_clinics_own(clinic_a, program, staff, enrollment):
    clinic_a.late_cancel_hours = 2
    clinic_a.save()
    occurrence = make_occurrence(clinic_a, program, starts_in=datetime.timedelta(hours=3))
    booking, _ = book(staff, occurrence, enrollment)
    assert services.booking_cancel(clinic=clinic_a, actor=staff, booking=booking).status == Booking.Status.CANCELLED


def test_a_class_that_started_cannot_be_cancelled_by_the_patient(clinic_a, staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    with pytest.raises(ValidationError, match="record the absence on the floor sheet"):
        services.booking_cancel(clinic=clinic_a, actor=staff, booking=booking, now=occurrence.starts_at)


# --- Refusals: each with its message, nothing saved -------------------------------------------------


def assert_nothing_saved(occurrence):
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 0 and not Booking.objects.filter(occurrence=occurrence).exists()


def test_a_cancelled_class_cannot_be_booked(staff, occurrence, enrollment):
    Occurrence.objects.filter(pk=occurrence.pk).update(status=Occurrence.Status.CANCELLED)
    occurrence.refresh_from_db()
    assert refused(staff, occurrence, enrollment) == "This class is cancelled; choose another one."
    assert_nothing_saved(occurrence)


def test_a_past_class_cannot_be_booked(clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program, starts_in=-datetime.timedelta(hours=1))
    assert "already started" in refused(staff, occurrence, enrollment)
    assert_nothing_saved(occurrence)


def test_a_class_of_another_program_cannot_be_booked(clinic_a, other_program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, other_program)
    assert refused(staff, occurrence, enrollment) == (
        "This class is for Pulmonary Rehab; the patient is enrolled in Cardiac Rehab."
    )
    assert_nothing_saved(occurrence)


@pytest.mark.parametrize("status", [Enrollment.Status.COMPLETED, Enrollment.Status.DISCHARGED])
def test_a_finished_enrollment_cannot_be_booked(status, clinic_a, program, staff, occurrence):
    enrollment = make_enrollment(clinic_a, program, status=status)
    assert refused(staff, occurrence, enrollment) == (
        f"The patient's enrollment is {enrollment.get_status_display().lower()}; "
        "only enrolled or attending patients can be booked."
    )
    assert_nothing_saved(occurrence)


def test_a_class_before_the_enrollment_starts_cannot_be_booked(clinic_a, program, staff, occurrence):
    starts = timezone.localdate() + datetime.timedelta(days=10)
    enrollment = make_enrollment(clinic_a, program, status=Enrollment.Status.ENROLLED, start_date=starts)
    assert "before the patient's enrollment starts" in refused(staff, occurrence, enrollment)
    assert_nothing_saved(occurrence)


def test_a_class_after_the_enrollment_ended_cannot_be_booked(clinic_a, program, staff, occurrence):
    enrollment = make_enrollment(clinic_a, program, ended_on=timezone.localdate())
    assert "after the patient's enrollment ended" in refused(staff, occurrence, enrollment)
    assert_nothing_saved(occurrence)


def test_the_same_patient_cannot_be_booked_twice_into_a_class(staff, occurrence, enrollment):
    book(staff, occurrence, enrollment)
    assert refused(staff, occurrence, enrollment) == "The patient is already booked into this class."
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 1 and Booking.objects.filter(occurrence=occurrence).count() == 1


def test_a_cancelled_booking_can_be_made_again(staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    services.booking_cancel(clinic=occurrence.clinic, actor=staff, booking=booking)
    again, _ = book(staff, occurrence, enrollment)
    assert again.status == Booking.Status.BOOKED


# --- Standing bookings ------------------------------------------------------------------------------


def test_a_standing_booking_books_every_upcoming_session_of_the_class(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program)
    services.occurrences_generate(clinic=clinic_a, template=template)
    standing, result = services.standing_booking_create(
        clinic=clinic_a, actor=staff, template=template, enrollment=enrollment
    )
    future = Occurrence.objects.filter(template=template, starts_at__gt=timezone.now())
    # Eight weeks ahead: seven sessions to come on the class's own weekday once its time has passed, else eight.
    assert len(result.booked) == future.count() >= 7
    assert set(Booking.objects.filter(standing_booking=standing).values_list("occurrence", flat=True)) == set(
        future.values_list("pk", flat=True)
    )


def test_sessions_generated_later_are_booked_for_standing_bookings(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program)
    standing, _ = services.standing_booking_create(
        clinic=clinic_a, actor=staff, template=template, enrollment=enrollment
    )
    before = standing.bookings.count()
    # Two weeks past the horizon hold exactly two Mondays.
    today = services.local_date(clinic_a, timezone.now())
    later = today + datetime.timedelta(weeks=services.HORIZON_WEEKS + 2, days=-1)
    made = services.occurrences_generate(clinic=clinic_a, template=template, end=later)
    assert made == 2 and standing.bookings.count() == before + 2


def test_a_standing_booking_waitlists_the_patient_in_full_sessions(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program, capacity=1)
    services.occurrences_generate(clinic=clinic_a, template=template)
    first = template.occurrences.filter(starts_at__gt=timezone.now()).order_by("starts_at").first()
    book(staff, first, make_enrollment(clinic_a, program))
    _, result = services.standing_booking_create(clinic=clinic_a, actor=staff, template=template, enrollment=enrollment)
    assert [b.occurrence_id for b in result.waitlisted] == [first.pk]


def test_a_standing_booking_stops_at_the_end_of_the_enrollment(clinic_a, program, staff):
    ends = timezone.localdate() + datetime.timedelta(weeks=3)
    enrollment = make_enrollment(clinic_a, program, ended_on=ends)
    template = make_template(clinic_a, program)
    _, result = services.standing_booking_create(clinic=clinic_a, actor=staff, template=template, enrollment=enrollment)
    assert result.booked and all(b.occurrence.starts_at.date() <= ends for b in result.booked)
    assert result.skipped


def test_a_standing_booking_in_a_class_of_another_program_is_refused(clinic_a, other_program, staff, enrollment):
    template = make_template(clinic_a, other_program)
    with pytest.raises(ValidationError, match="This class is for Pulmonary Rehab"):
        services.standing_booking_create(clinic=clinic_a, actor=staff, template=template, enrollment=enrollment)
    assert not StandingBooking.objects.exists()


def test_ending_a_standing_booking_cancels_its_upcoming_bookings(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program)
    standing, result = services.standing_booking_create(
        clinic=clinic_a, actor=staff, template=template, enrollment=enrollment
    )
    cancelled = services.standing_booking_end(clinic=clinic_a, actor=staff, standing=standing)
    assert cancelled == len(result.booked)
    assert not Booking.objects.filter(standing_booking=standing, status=Booking.Status.BOOKED).exists()
    assert set(Occurrence.objects.filter(template=template).values_list("booked_count", flat=True)) == {0}


# --- Cancelling a class ---------------------------------------------------------------------------


def test_cancelling_a_class_notifies_each_booked_patient_once(clinic_a, program, staff, occurrence):
    clinic_a.phone = "(555) 201-4400"
    clinic_a.save()
    booked = [book(staff, occurrence, make_enrollment(clinic_a, program))[0] for _ in range(3)]

    told = services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason="Staff illness")

    messages = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.CLASS_CANCELLED)
    assert told == 3
    assert sorted(messages.values_list("key", flat=True)) == sorted(f"class-cancelled:{b.pk}" for b in booked)
    assert sorted(messages.values_list("to_email", flat=True)) == sorted(b.patient.email for b in booked)


def test_the_cancellation_notice_gives_time_place_and_phone_and_nothing_clinical(
    clinic_a, staff, occurrence, enrollment
):
    clinic_a.phone = "(555) 201-4400"
    clinic_a.save()
    book(staff, occurrence, enrollment)
    services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason="Holiday")
    message = OutboundMessage.objects.get()
    assert "(555) 201-4400" in message.body and "Gym A" in message.body
    for clinical in ("Cardiac", "rehab", "Holiday", enrollment.patient.last_name):
        assert clinical not in message.body and clinical not in message.subject


def test_cancelling_a_class_frees_its_places_and_marks_its_bookings(clinic_a, program, staff, occurrence):
    booking, _ = book(staff, occurrence, make_enrollment(clinic_a, program))
    services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason="Holiday")
    occurrence.refresh_from_db(), booking.refresh_from_db()
    assert occurrence.status == Occurrence.Status.CANCELLED and occurrence.booked_count == 0
    assert booking.status == Booking.Status.CLASS_CANCELLED


def test_a_class_cannot_be_cancelled_twice(clinic_a, staff, occurrence, enrollment):
    book(staff, occurrence, enrollment)
    services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason="Holiday")
    with pytest.raises(ValidationError, match="already cancelled"):
        services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason="Holiday")
    assert OutboundMessage.objects.count() == 1


def test_cancelling_a_class_needs_a_reason(clinic_a, staff, occurrence):
    with pytest.raises(ValidationError, match="Give the reason"):
        services.occurrence_cancel(clinic=clinic_a, actor=staff, occurrence=occurrence, reason=" ")
    occurrence.refresh_from_db()
    assert occurrence.status == Occurrence.Status.SCHEDULED


# --- Individual appointments ----------------------------------------------------------------------


def test_an_individual_appointment_is_a_one_place_session_booked_for_the_patient(clinic_a, staff, enrollment):
    starts_at = timezone.now() + datetime.timedelta(days=2)
    occurrence, booking, _ = services.appointment_create(
        clinic=clinic_a, actor=staff, enrollment=enrollment, data={"starts_at": starts_at, "duration_minutes": 45}
    )
    assert occurrence.template is None and occurrence.capacity == 1 and occurrence.booked_count == 1
    assert booking.enrollment == enrollment and occurrence.ends_at - starts_at == datetime.timedelta(minutes=45)


def test_an_appointment_in_the_past_is_refused_and_nothing_is_saved(clinic_a, staff, enrollment):
    with pytest.raises(ValidationError, match="already started"):
        services.appointment_create(
            clinic=clinic_a, actor=staff, enrollment=enrollment,
            data={"starts_at": timezone.now() - datetime.timedelta(hours=1)},
        )  # fmt: skip
    assert not Occurrence.objects.exists()


# --- Pages ----------------------------------------------------------------------------------------


def test_physiologist_books_a_patient_from_the_class_page(team_a, occurrence, enrollment):
    client = team_a["physiologist"].client
    url = reverse("booking_create", args=[occurrence.clinic.slug, occurrence.pk])
    response = client.post(url, {"enrollment": enrollment.pk}, follow=True)
    assert "Alice Archer is booked." in response.content.decode()
    assert Booking.objects.filter(occurrence=occurrence, enrollment=enrollment).exists()


def test_the_class_page_shows_class_is_full(team_a, clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    book(staff, occurrence, make_enrollment(clinic_a, program))
    client = team_a["physiologist"].client
    response = client.post(
        reverse("booking_create", args=[clinic_a.slug, occurrence.pk]), {"enrollment": enrollment.pk}
    )
    assert response.status_code == 200 and "This class is full." in response.content.decode()


def test_the_class_page_lists_the_booked_and_the_waitlist(team_a, clinic_a, program, staff):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    holder, _ = book(staff, occurrence, make_enrollment(clinic_a, program))
    waiting, _ = book(staff, occurrence, make_enrollment(clinic_a, program), waitlist=True)
    response = team_a["admin"].client.get(reverse("occurrence_detail", args=[clinic_a.slug, occurrence.pk]))
    assert response.context["booked"] == [holder] and response.context["waitlisted"] == [waiting]


def test_cancelling_a_class_from_its_page_reports_how_many_are_told(team_a, clinic_a, staff, occurrence, enrollment):
    book(staff, occurrence, enrollment)
    url = reverse("occurrence_cancel", args=[clinic_a.slug, occurrence.pk])
    response = team_a["admin"].client.post(url, {"reason": "Holiday"}, follow=True)
    assert "Class cancelled. 1 booked patient will be emailed." in response.content.decode()


def test_the_chart_shows_upcoming_and_past_sessions(team_a, clinic_a, program, staff, enrollment):
    upcoming, _ = book(staff, make_occurrence(clinic_a, program), enrollment)
    past = make_occurrence(clinic_a, program, starts_in=-datetime.timedelta(days=2), name="Earlier class")
    book(staff, past, enrollment, now=past.starts_at - datetime.timedelta(days=1))
    response = team_a["physiologist"].client.get(reverse("patient_detail", args=[clinic_a.slug, enrollment.patient_id]))
    body = response.content.decode()
    assert "Sessions" in body and "Earlier class" in body
    assert reverse("occurrence_detail", args=[clinic_a.slug, upcoming.occurrence_id]) in body


# --- API --------------------------------------------------------------------------------------------


def token_client(persona) -> Client:
    _, raw = clinic_services.api_token_create(membership=persona.membership, name="scheduling")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_the_api_books_a_patient_and_answers_with_the_booking(team_a, occurrence, enrollment):
    api = token_client(team_a["physiologist"])
    url = reverse("api-booking-list", args=[occurrence.clinic.slug])
    response = api.post(
        url, {"occurrence": occurrence.pk, "enrollment": enrollment.pk}, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "booked" and response.json()["warnings"] == []


def test_the_api_answers_class_is_full_with_a_400(team_a, clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program, capacity=1)
    book(staff, occurrence, make_enrollment(clinic_a, program))
    api = token_client(team_a["admin"])
    response = api.post(
        reverse("api-booking-list", args=[clinic_a.slug]), {"occurrence": occurrence.pk, "enrollment": enrollment.pk},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["This class is full."]}


def test_the_api_cancels_a_booking(team_a, staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    api = token_client(team_a["physiologist"])
    response = api.post(reverse("api-booking-cancel", args=[occurrence.clinic.slug, booking.pk]), {"reason": "Sick"},
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and response.json()["status"] in ("cancelled", "late_cancelled")


def test_billing_reads_bookings_but_cannot_book(team_a, staff, occurrence, enrollment):
    book(staff, occurrence, enrollment)
    api = token_client(team_a["billing"])
    url = reverse("api-booking-list", args=[occurrence.clinic.slug])
    assert api.get(url).json()["count"] == 1
    response = api.post(
        url, {"occurrence": occurrence.pk, "enrollment": enrollment.pk}, content_type="application/json"
    )
    assert response.status_code == 404


def test_a_physician_reads_the_bookings_of_their_own_patients_only(team_a, clinic_a, program, staff, occurrence):
    physician = team_a["physician"]
    mine = make_enrollment(clinic_a, program)
    link_physician(mine.patient, physician.membership)
    other_doctor = make_member(clinic_a, "physician", email="other-doc@alpha.test")
    theirs = make_enrollment(clinic_a, program)
    link_physician(theirs.patient, other_doctor)
    my_booking, _ = book(staff, occurrence, mine)
    their_booking, _ = book(staff, occurrence, theirs)
    api = token_client(physician)
    rows = api.get(reverse("api-booking-list", args=[clinic_a.slug])).json()["results"]
    assert [row["id"] for row in rows] == [my_booking.pk]
    assert api.get(reverse("api-booking-detail", args=[clinic_a.slug, their_booking.pk])).status_code == 404


def test_the_booking_list_filters_by_date_in_the_clinics_time_zone(team_a, clinic_a, program, staff, enrollment):
    occurrence = make_occurrence(clinic_a, program)
    book(staff, occurrence, enrollment)
    day = timezone.localtime(occurrence.starts_at, services.clinic_zone(clinic_a)).date()
    api = token_client(team_a["billing"])
    url = reverse("api-booking-list", args=[clinic_a.slug])
    assert api.get(url, {"start": day.isoformat(), "end": day.isoformat()}).json()["count"] == 1
    next_day = (day + datetime.timedelta(days=1)).isoformat()
    assert api.get(url, {"start": next_day}).json()["count"] == 0


@pytest.mark.parametrize("params", [{"start": ""}, {"end": ""}, {"start": "01/02/2027"}, {"patient": "1.5"},
                                    {"occurrence": ""}])  # fmt: skip
def test_the_booking_list_refuses_empty_and_malformed_filters(team_a, clinic_a, params):
    response = token_client(team_a["billing"]).get(reverse("api-booking-list", args=[clinic_a.slug]), params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(params)


@pytest.mark.parametrize("body", [{"waitlist": 1}, {"is_makeup": "true"}, {"occurrence": "1"}, {"enrollment": True}])
def test_the_api_books_only_with_values_of_the_schemas_types(team_a, occurrence, enrollment, body):
    response = token_client(team_a["physiologist"]).post(
        reverse("api-booking-list", args=[occurrence.clinic.slug]),
        {"occurrence": occurrence.pk, "enrollment": enrollment.pk, **body}, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert set(response.json()["errors"]) == set(body)
    assert not Booking.objects.exists()


# --- Audit ------------------------------------------------------------------------------------------


def test_a_booking_and_its_cancellation_are_in_the_patients_audit_trail(staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    services.booking_cancel(clinic=occurrence.clinic, actor=staff, booking=booking)
    booking_type = ContentType.objects.get_for_model(Booking)
    entries = AuditEntry.objects.filter(
        patient=enrollment.patient, content_type=booking_type, object_pk=str(booking.pk)
    )
    assert sorted(entries.values_list("event", flat=True)) == ["create", "update"]


def test_opening_a_class_records_who_saw_its_bookings(team_a, staff, occurrence, enrollment):
    booking, _ = book(staff, occurrence, enrollment)
    team_a["billing"].client.get(reverse("occurrence_detail", args=[occurrence.clinic.slug, occurrence.pk]))
    entry = AuditEntry.objects.filter(event="view", actor=team_a["billing"].user).get()
    assert entry.additional_data == {"ids": [booking.pk]}


def test_physiologist_books_an_individual_appointment_through_the_page(team_a, clinic_a, enrollment):
    day = services.local_date(clinic_a, timezone.now()) + datetime.timedelta(days=2)
    response = team_a["physiologist"].client.post(
        reverse("appointment_create", args=[clinic_a.slug]),
        {"enrollment": enrollment.pk, "date": day.isoformat(), "start_time": "14:30", "duration_minutes": 45,
         "room": "Office 2", "name": "Individual assessment"},
    )  # fmt: skip
    occurrence = Occurrence.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/schedule/occurrences/{occurrence.pk}/")
    start = timezone.localtime(occurrence.starts_at, services.clinic_zone(clinic_a))
    assert (start.date(), start.hour, start.minute) == (day, 14, 30) and occurrence.booked_count == 1


def test_physiologist_books_a_patient_into_every_session_through_the_class_page(team_a, clinic_a, program, enrollment):
    tomorrow = services.local_date(clinic_a, timezone.now()) + datetime.timedelta(days=1)
    template = make_template(clinic_a, program, weekday=tomorrow.weekday())  # eight sessions, all upcoming
    url = reverse("template_detail", args=[clinic_a.slug, template.pk])
    response = team_a["physiologist"].client.post(url, {"enrollment": enrollment.pk}, follow=True)
    assert "Booked into 8 upcoming classes." in response.content.decode()
    standing = StandingBooking.objects.get()
    end_url = reverse("standing_booking_end", args=[clinic_a.slug, template.pk, standing.pk])
    response = team_a["physiologist"].client.post(end_url, follow=True)
    assert "Standing booking ended; 8 upcoming bookings cancelled." in response.content.decode()


def test_billing_sees_a_class_but_cannot_book_into_it(team_a, clinic_a, occurrence, enrollment):
    client = team_a["billing"].client
    page = client.get(reverse("occurrence_detail", args=[clinic_a.slug, occurrence.pk]))
    assert page.status_code == 200 and page.context["booking_form"] is None
    url = reverse("booking_create", args=[clinic_a.slug, occurrence.pk])
    assert client.post(url, {"enrollment": enrollment.pk}).status_code == 404
    assert not Booking.objects.exists()


def test_the_api_books_a_patient_into_every_session_and_ends_it(team_a, clinic_a, program, enrollment):
    tomorrow = services.local_date(clinic_a, timezone.now()) + datetime.timedelta(days=1)
    template = make_template(clinic_a, program, weekday=tomorrow.weekday())
    api = token_client(team_a["physiologist"])
    url = reverse("api-standing-booking-list", args=[clinic_a.slug])
    response = api.post(url, {"template": template.pk, "enrollment": enrollment.pk}, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert (response.json()["booked"], response.json()["waitlisted"]) == (8, 0)
    end = api.post(reverse("api-standing-booking-end", args=[clinic_a.slug, response.json()["id"]]))
    assert end.json() == {"cancelled": 8}


# --- Enrollments that end ---------------------------------------------------------------------------


def test_a_discharged_patients_upcoming_places_go_back_to_the_class(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program, capacity=1)
    standing, result = services.standing_booking_create(
        clinic=clinic_a, actor=staff, template=template, enrollment=enrollment
    )
    first = result.booked[0].occurrence
    waiting, _ = book(staff, first, make_enrollment(clinic_a, program), waitlist=True)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=Enrollment.Status.DISCHARGED)

    cancelled = services.bookings_release_ended(clinic=clinic_a)

    assert cancelled == len(result.booked)
    waiting.refresh_from_db(), standing.refresh_from_db()
    assert waiting.status == Booking.Status.BOOKED and standing.ended_at is not None
    assert services.bookings_release_ended(clinic=clinic_a) == 0


def test_discharging_a_patient_gives_their_places_to_the_waitlist_at_once(clinic_a, program, staff, enrollment):
    from referrals.services import enrollment_discharge

    occurrence = make_occurrence(clinic_a, program, capacity=1)
    held, _ = book(staff, occurrence, enrollment)
    waiting, _ = book(staff, occurrence, make_enrollment(clinic_a, program), waitlist=True)

    enrollment_discharge(clinic=clinic_a, actor=staff.user, enrollment=enrollment, reason="Moved away")

    held.refresh_from_db(), waiting.refresh_from_db(), occurrence.refresh_from_db()
    assert held.status == Booking.Status.CANCELLED and held.cancel_reason == "Enrollment ended."
    assert waiting.status == Booking.Status.BOOKED and occurrence.booked_count == 1
    assert OutboundMessage.objects.filter(key=f"place-offered:{waiting.pk}").exists()


def test_sessions_after_the_last_day_of_an_enrollment_go_back_to_the_class(clinic_a, program, staff, enrollment):
    template = make_template(clinic_a, program)
    _, result = services.standing_booking_create(clinic=clinic_a, actor=staff, template=template, enrollment=enrollment)
    last_day = services.local_date(clinic_a, result.booked[1].occurrence.starts_at)
    Enrollment.objects.filter(pk=enrollment.pk).update(ended_on=last_day)

    assert services.bookings_release_ended(clinic=clinic_a) == len(result.booked) - 2

    kept = Booking.objects.filter(enrollment=enrollment, status=Booking.Status.BOOKED)
    assert sorted(kept.values_list("pk", flat=True)) == sorted(b.pk for b in result.booked[:2])
