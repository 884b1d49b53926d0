"""Insurance authorizations: bookings past the count or the dates warn (and are made); staff see those
at 80 % use or ending within 14 days."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from scheduling import selectors, services
from scheduling.models import Authorization, Booking, SessionLog
from tests.scheduling.conftest import make_enrollment, make_occurrence
from tests.scheduling.test_bookings import token_client


def today(clinic):
    return services.local_date(clinic, timezone.now())


def authorize(enrollment, sessions=10, starts_on=None, ends_on=None, number="A-1"):
    clinic = enrollment.clinic
    return services.authorization_save(
        clinic=clinic, actor=None, enrollment=enrollment,
        data={"payer": "Aetna", "number": number, "sessions_authorized": sessions,
              "starts_on": starts_on or today(clinic) - datetime.timedelta(days=30),
              "ends_on": ends_on or today(clinic) + datetime.timedelta(days=60)},
    )  # fmt: skip


def session_on(clinic, program, day, hour=10):
    return make_occurrence(clinic, program, starts_at=services.local_start(clinic, day, datetime.time(hour)))


def book(staff, occurrence, enrollment):
    return services.booking_create(clinic=occurrence.clinic, actor=staff, occurrence=occurrence, enrollment=enrollment)


def book_sessions(staff, enrollment, count):
    clinic, program = enrollment.clinic, enrollment.program
    return [book(staff, session_on(clinic, program, today(clinic) + datetime.timedelta(days=1 + n)), enrollment)
            for n in range(count)]  # fmt: skip


# --- Warnings when booking ------------------------------------------------------------------------


def test_the_last_authorized_session_books_without_a_warning(staff, enrollment):
    authorize(enrollment, sessions=3)
    results = book_sessions(staff, enrollment, 3)
    assert [warnings for _, warnings in results] == [[], [], []]


def test_a_session_past_the_authorized_count_warns_and_is_booked(clinic_a, program, staff, enrollment):
    authorize(enrollment, sessions=3, number="AUTH-77")
    book_sessions(staff, enrollment, 3)
    booking, warnings = book(staff, session_on(clinic_a, program, today(clinic_a) + datetime.timedelta(days=9)),
                             enrollment)  # fmt: skip
    assert booking.status == Booking.Status.BOOKED
    assert warnings == ["4 sessions are booked against Aetna authorization AUTH-77, which covers 3."]


def test_a_session_on_the_last_authorized_day_books_without_a_warning(clinic_a, program, staff, enrollment):
    last = today(clinic_a) + datetime.timedelta(days=5)
    authorize(enrollment, ends_on=last)
    _, warnings = book(staff, session_on(clinic_a, program, last, hour=19), enrollment)
    assert warnings == []


def test_a_session_the_day_after_the_authorization_warns(clinic_a, program, staff, enrollment):
    last = today(clinic_a) + datetime.timedelta(days=5)
    authorize(enrollment, ends_on=last)
    day_after = last + datetime.timedelta(days=1)
    booking, warnings = book(staff, session_on(clinic_a, program, day_after, hour=7), enrollment)
    assert booking.pk and len(warnings) == 1 and "outside the authorized dates" in warnings[0]


def test_a_session_before_the_authorization_starts_warns(clinic_a, program, staff, enrollment):
    first = today(clinic_a) + datetime.timedelta(days=5)
    authorize(enrollment, starts_on=first)
    _, warnings = book(staff, session_on(clinic_a, program, first - datetime.timedelta(days=1)), enrollment)
    assert "outside the authorized dates" in warnings[0]


def test_an_enrollment_without_authorizations_books_without_warnings(clinic_a, program, staff, enrollment):
    _, warnings = book(staff, session_on(clinic_a, program, today(clinic_a) + datetime.timedelta(days=2)), enrollment)
    assert warnings == []


def test_the_class_page_shows_the_warning_and_books(team_a, clinic_a, program, staff, enrollment):
    authorize(enrollment, sessions=1)
    book_sessions(staff, enrollment, 1)
    occurrence = session_on(clinic_a, program, today(clinic_a) + datetime.timedelta(days=4))
    url = reverse("booking_create", args=[clinic_a.slug, occurrence.pk])
    response = team_a["physiologist"].client.post(url, {"enrollment": enrollment.pk}, follow=True)
    body = response.content.decode()
    assert "is booked." in body and "which covers 1." in body


def test_the_api_returns_the_warning_with_the_booking(team_a, clinic_a, program, staff, enrollment):
    authorize(enrollment, sessions=1)
    book_sessions(staff, enrollment, 1)
    occurrence = session_on(clinic_a, program, today(clinic_a) + datetime.timedelta(days=4))
    response = token_client(team_a["admin"]).post(
        reverse("api-booking-list", args=[clinic_a.slug]), {"occurrence": occurrence.pk, "enrollment": enrollment.pk},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["warnings"] == ["2 sessions are booked against Aetna authorization A-1, which covers 1."]


# --- Sessions used ------------------------------------------------------------------------------


def test_absent_sessions_do_not_use_up_the_authorization(clinic_a, staff, enrollment):
    authorization = authorize(enrollment)
    (first, _), _ = book_sessions(staff, enrollment, 2)
    SessionLog.objects.create(
        clinic=clinic_a, booking=first, occurrence=first.occurrence, enrollment=enrollment, patient=first.patient,
        attendance=SessionLog.Attendance.ABSENT,
    )  # fmt: skip
    assert selectors.sessions_used(clinic=clinic_a, authorization=authorization) == 1


def test_cancelled_bookings_do_not_use_up_the_authorization(clinic_a, staff, enrollment):
    authorization = authorize(enrollment)
    (first, _), _ = book_sessions(staff, enrollment, 2)
    services.booking_cancel(clinic=clinic_a, actor=staff, booking=first)
    assert selectors.sessions_used(clinic=clinic_a, authorization=authorization) == 1


# --- Needing attention ------------------------------------------------------------------------------


def needing_attention(clinic):
    return list(selectors.authorizations_needing_attention(clinic=clinic, today=today(clinic)))


def test_an_authorization_at_80_percent_use_needs_attention(clinic_a, staff, enrollment):
    authorization = authorize(enrollment, sessions=10)
    book_sessions(staff, enrollment, 8)
    assert needing_attention(clinic_a) == [authorization]


def test_an_authorization_below_80_percent_use_does_not(clinic_a, staff, enrollment):
    authorize(enrollment, sessions=10)
    book_sessions(staff, enrollment, 7)
    assert needing_attention(clinic_a) == []


def test_an_authorization_ending_in_14_days_needs_attention(clinic_a, enrollment):
    authorization = authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=14))
    assert needing_attention(clinic_a) == [authorization]


def test_an_authorization_ending_in_15_days_does_not(clinic_a, enrollment):
    authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=15))
    assert needing_attention(clinic_a) == []


def test_an_authorization_that_ended_does_not(clinic_a, enrollment):
    authorize(enrollment, ends_on=today(clinic_a) - datetime.timedelta(days=1))
    assert needing_attention(clinic_a) == []


def test_an_authorization_of_a_discharged_patient_does_not(clinic_a, program):
    enrollment = make_enrollment(clinic_a, program, status="discharged")
    authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=3))
    assert needing_attention(clinic_a) == []


def test_the_authorizations_page_lists_those_needing_attention(team_a, clinic_a, program, enrollment):
    soon = authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=3), number="SOON-1")
    authorize(make_enrollment(clinic_a, program), number="LATER-1")
    response = team_a["billing"].client.get(reverse("authorization_list", args=[clinic_a.slug]))
    assert list(response.context["page"]) == [soon]
    assert "SOON-1" in response.content.decode() and "LATER-1" not in response.content.decode()


def test_the_authorizations_page_lists_all_on_request(team_a, clinic_a, program, enrollment):
    authorize(enrollment, number="LATER-1")
    response = team_a["billing"].client.get(reverse("authorization_list", args=[clinic_a.slug]), {"show": "all"})
    assert "LATER-1" in response.content.decode()


def test_the_authorizations_page_query_count_does_not_grow(
    team_a, clinic_a, program, staff, django_assert_max_num_queries
):
    for n in range(15):
        enrollment = make_enrollment(clinic_a, program)
        authorize(enrollment, sessions=2, number=f"N-{n}")
        book_sessions(staff, enrollment, 2)
    client = team_a["admin"].client
    with django_assert_max_num_queries(14):
        response = client.get(reverse("authorization_list", args=[clinic_a.slug]))
    assert len(response.context["page"]) == 15


# --- Recording authorizations ---------------------------------------------------------------------


def test_an_authorization_ending_before_it_starts_is_refused(clinic_a, enrollment):
    with pytest.raises(ValidationError, match="on or after the first"):
        authorize(enrollment, starts_on=today(clinic_a), ends_on=today(clinic_a) - datetime.timedelta(days=1))
    assert not Authorization.objects.exists()


def test_billing_records_an_authorization_through_the_page(team_a, clinic_a, enrollment):
    response = team_a["billing"].client.post(
        reverse("authorization_create", args=[clinic_a.slug]),
        {"enrollment": enrollment.pk, "payer": "Medicare Advantage", "number": "MA-1", "sessions_authorized": 36,
         "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Authorization.objects.get().number == "MA-1"


def test_the_api_records_an_authorization_and_answers_sessions_used(team_a, clinic_a, enrollment):
    response = token_client(team_a["billing"]).post(
        reverse("api-authorization-list", args=[clinic_a.slug]),
        {"enrollment": enrollment.pk, "payer": "Aetna", "number": "API-1", "sessions_authorized": 12,
         "starts_on": "2026-01-01", "ends_on": "2027-12-31"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["sessions_used"] == 0


def test_the_api_lists_only_those_needing_attention_on_request(team_a, clinic_a, program, enrollment):
    soon = authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=3))
    authorize(make_enrollment(clinic_a, program))
    api = token_client(team_a["physiologist"])
    rows = api.get(reverse("api-authorization-list", args=[clinic_a.slug]), {"attention": "true"}).json()["results"]
    assert [row["id"] for row in rows] == [soon.pk]


@pytest.mark.parametrize("value", ["", "1", "0", "True", "yes", "null", "2"])
def test_attention_is_true_or_false_only(team_a, clinic_a, enrollment, value):
    api = token_client(team_a["physiologist"])
    response = api.get(reverse("api-authorization-list", args=[clinic_a.slug]), {"attention": value})
    assert response.status_code == 400
    assert "attention" in response.json()["errors"]


def test_attention_false_lists_every_authorization(team_a, clinic_a, program, enrollment):
    authorize(enrollment, ends_on=today(clinic_a) + datetime.timedelta(days=3))
    authorize(make_enrollment(clinic_a, program))
    api = token_client(team_a["physiologist"])
    rows = api.get(reverse("api-authorization-list", args=[clinic_a.slug]), {"attention": "false"}).json()["results"]
    assert len(rows) == 2


@pytest.mark.parametrize("value", ["AAA", "1", None, False, {}, [1], 1.5])
def test_a_patch_takes_the_enrollment_only_as_an_integer(team_a, clinic_a, enrollment, value):
    authorization = authorize(enrollment)
    response = token_client(team_a["billing"]).patch(
        reverse("api-authorization-detail", args=[clinic_a.slug, authorization.pk]),
        {"enrollment": value, "number": "A-2"}, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "enrollment" in response.json()["errors"]
    authorization.refresh_from_db()
    assert authorization.number == "A-1"


def test_an_authorization_keeps_its_enrollment(team_a, clinic_a, program, enrollment):
    authorization = authorize(enrollment)
    url = reverse("api-authorization-detail", args=[clinic_a.slug, authorization.pk])
    api = token_client(team_a["billing"])
    other = make_enrollment(clinic_a, program)
    response = api.patch(url, {"enrollment": other.pk}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["enrollment"] == ["An authorization's enrollment cannot change."]
    response = api.patch(url, {"enrollment": enrollment.pk, "number": "A-2"}, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["number"] == "A-2"


def test_physicians_cannot_read_authorizations(team_a, clinic_a, enrollment):
    authorization = authorize(enrollment)
    api = token_client(team_a["physician"])
    assert api.get(reverse("api-authorization-detail", args=[clinic_a.slug, authorization.pk])).status_code == 404
