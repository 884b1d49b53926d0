"""The calendar: day and week views, by room and staff member, htmx navigation, bounded queries."""

import datetime

from django.urls import reverse
from django.utils import timezone

from scheduling import services
from scheduling.models import Occurrence
from tests.conftest import make_member
from tests.scheduling.conftest import make_enrollment, make_occurrence, make_template
from tests.scheduling.test_bookings import token_client

MONDAY = datetime.date(2027, 1, 11)


def at(clinic, day, hour, minute=0):
    return services.local_start(clinic, day, datetime.time(hour, minute))


def calendar(client, clinic, **params):
    return client.get(reverse("schedule_calendar", args=[clinic.slug]), params)


def shown(response):
    return [o.name for _, items in response.context["days"] for o in items]


def test_the_week_view_shows_monday_to_sunday_of_the_chosen_date(team_a, clinic_a, program):
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 9), name="Monday class")
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY + datetime.timedelta(days=6), 9), name="Sunday")
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY + datetime.timedelta(days=7), 9), name="Next week")
    response = calendar(team_a["physiologist"].client, clinic_a, date="2027-01-13")
    assert [day for day, _ in response.context["days"]][0] == MONDAY
    assert shown(response) == ["Monday class", "Sunday"]


def test_a_late_evening_class_shows_on_its_local_day(team_a, clinic_a, program):
    # 23:30 in New York is already the next day in UTC.
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 23, 30), name="Late")
    response = calendar(team_a["admin"].client, clinic_a, view="day", date=MONDAY.isoformat())
    assert shown(response) == ["Late"]


def test_the_day_view_shows_one_day(team_a, clinic_a, program):
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 9), name="Monday class")
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY + datetime.timedelta(days=1), 9), name="Tuesday")
    response = calendar(team_a["admin"].client, clinic_a, view="day", date=MONDAY.isoformat())
    assert shown(response) == ["Monday class"]
    assert response.context["previous"] == MONDAY - datetime.timedelta(days=1)


def test_the_calendar_filters_by_room(team_a, clinic_a, program):
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 9), name="In A", room="Gym A")
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 10), name="In B", room="Gym B")
    make_template(clinic_a, program, room="Gym B")  # rooms offered are those of the clinic's classes
    response = calendar(team_a["admin"].client, clinic_a, date=MONDAY.isoformat(), room="Gym B")
    assert shown(response) == ["In B"]


def test_the_calendar_filters_by_staff_member(team_a, clinic_a, program):
    leader = team_a["physiologist"].membership
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 9), name="Led", staff=leader)
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 10), name="Other")
    response = calendar(team_a["admin"].client, clinic_a, date=MONDAY.isoformat(), staff=leader.pk)
    assert shown(response) == ["Led"]


def test_each_class_shows_booked_and_places_and_links_to_its_page(team_a, clinic_a, program, staff):
    occurrence = make_occurrence(clinic_a, program, capacity=8)
    services.booking_create(clinic=clinic_a, actor=staff, occurrence=occurrence,
                            enrollment=make_enrollment(clinic_a, program))  # fmt: skip
    day = services.local_date(clinic_a, occurrence.starts_at)
    body = calendar(team_a["admin"].client, clinic_a, date=day.isoformat()).content.decode()
    assert "1/8 booked" in body and reverse("occurrence_detail", args=[clinic_a.slug, occurrence.pk]) in body


def test_htmx_navigation_gets_only_the_calendar(team_a, clinic_a):
    response = team_a["admin"].client.get(
        reverse("schedule_calendar", args=[clinic_a.slug]), {"date": "2027-01-18"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body and "cal-grid" in body and "Week of January 18" in body


def test_a_bad_date_shows_this_week(team_a, clinic_a):
    response = calendar(team_a["admin"].client, clinic_a, date="01/02/2027")
    assert response.status_code == 200 and response.context["day"] == services.local_date(clinic_a, timezone.now())


def test_the_week_view_query_count_does_not_grow_with_classes(
    team_a, clinic_a, program, staff, django_assert_max_num_queries
):
    for day in range(7):
        for hour in (8, 10, 12, 17):
            occurrence = make_occurrence(
                clinic_a, program, starts_at=at(clinic_a, MONDAY + datetime.timedelta(days=day), hour), staff=staff
            )
            Occurrence.objects.filter(pk=occurrence.pk).update(booked_count=3)
    client = team_a["admin"].client
    with django_assert_max_num_queries(13):  # three set and restore the row-level security scope
        response = calendar(client, clinic_a, date=MONDAY.isoformat())
    assert len(shown(response)) == 28


def test_the_class_page_query_count_does_not_grow_with_bookings(
    team_a, clinic_a, program, staff, django_assert_max_num_queries
):
    occurrence = make_occurrence(clinic_a, program, capacity=20)
    for _ in range(15):
        services.booking_create(clinic=clinic_a, actor=staff, occurrence=occurrence,
                                enrollment=make_enrollment(clinic_a, program))  # fmt: skip
    for _ in range(5):
        make_enrollment(clinic_a, program)  # offered in the booking form
    client = team_a["physiologist"].client
    with django_assert_max_num_queries(16):
        response = client.get(reverse("occurrence_detail", args=[clinic_a.slug, occurrence.pk]))
    assert len(response.context["booked"]) == 15


def test_the_classes_page_query_count_does_not_grow(team_a, clinic_a, program, django_assert_max_num_queries):
    for weekday in range(6):
        make_template(
            clinic_a, program, weekday=weekday, staff=make_member(clinic_a, "physiologist", f"s{weekday}@a.t")
        )
    client = team_a["admin"].client
    with django_assert_max_num_queries(11):
        response = client.get(reverse("template_list", args=[clinic_a.slug]))
    assert len(response.context["templates"]) == 6


def test_the_api_lists_classes_between_two_dates(team_a, clinic_a, program):
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY, 9), name="Inside")
    make_occurrence(clinic_a, program, starts_at=at(clinic_a, MONDAY + datetime.timedelta(days=3), 9), name="Outside")
    api = token_client(team_a["billing"])
    url = reverse("api-occurrence-list", args=[clinic_a.slug])
    rows = api.get(url, {"start": "2027-01-11", "end": "2027-01-12"}).json()["results"]
    assert [row["name"] for row in rows] == ["Inside"]


def test_the_api_refuses_a_range_longer_than_two_months(team_a, clinic_a):
    api = token_client(team_a["admin"])
    response = api.get(
        reverse("api-occurrence-list", args=[clinic_a.slug]), {"start": "2027-01-01", "end": "2027-06-01"}
    )
    assert response.status_code == 400 and "at most 62 days" in response.json()["errors"]["end"][0]


def test_the_api_refuses_an_empty_date_or_staff(team_a, clinic_a):
    api = token_client(team_a["admin"])
    url = reverse("api-occurrence-list", args=[clinic_a.slug])
    for name in ("start", "end", "staff"):
        response = api.get(url, {name: ""})
        assert response.status_code == 400 and list(response.json()["errors"]) == [name]
    assert api.get(url, {"room": ""}).status_code == 200  # an empty text is a text


def test_the_api_cancels_a_class(team_a, clinic_a, program):
    occurrence = make_occurrence(clinic_a, program)
    api = token_client(team_a["physiologist"])
    response = api.post(reverse("api-occurrence-cancel", args=[clinic_a.slug, occurrence.pk]), {"reason": "Snow"},
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_physicians_have_no_calendar(team_a, clinic_a):
    assert calendar(team_a["physician"].client, clinic_a).status_code == 404
