"""Recurring classes generate dated sessions ahead: idempotent, in the clinic's time zone across DST."""

import datetime
import zoneinfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from scheduling import services, tasks
from scheduling.models import Booking, ClassTemplate, Occurrence
from tests.conftest import make_clinic, make_program
from tests.scheduling.conftest import make_enrollment, make_template

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
D = datetime.date


def local_times(template):
    occurrences = template.occurrences.order_by("starts_at")
    return [o.starts_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %a %H:%M") for o in occurrences]


def test_a_class_generates_its_sessions_up_to_the_horizon(clinic_a, program):
    template = make_template(clinic_a, program, weekday=2)
    made = services.occurrences_generate(clinic=clinic_a, template=template)
    today = services.local_date(clinic_a, timezone.now())
    starts = [services.local_date(clinic_a, o.starts_at) for o in template.occurrences.all()]
    assert made == len(starts) == 8
    assert all(day.weekday() == 2 and today <= day <= today + datetime.timedelta(weeks=8) for day in starts)


def test_generating_twice_adds_nothing(clinic_a, program):
    template = make_template(clinic_a, program)
    services.occurrences_generate(clinic=clinic_a, template=template)
    assert services.occurrences_generate(clinic=clinic_a, template=template) == 0
    assert template.occurrences.count() == 8


def test_a_class_keeps_its_wall_clock_time_across_the_change_to_winter_time(clinic_a, program):
    # 2026-11-01: New York goes from UTC-4 to UTC-5.
    template = make_template(clinic_a, program, weekday=0, start_time=datetime.time(9), starts_on=D(2026, 10, 19))
    services.occurrences_generate(
        clinic=clinic_a, template=template, start=datetime.date(2026, 10, 19), end=datetime.date(2026, 11, 9)
    )
    assert local_times(template) == [
        "2026-10-19 Mon 09:00", "2026-10-26 Mon 09:00", "2026-11-02 Mon 09:00", "2026-11-09 Mon 09:00",
    ]  # fmt: skip
    utc_hours = [o.starts_at.astimezone(datetime.UTC).hour for o in template.occurrences.order_by("starts_at")]
    assert utc_hours == [13, 13, 14, 14]


def test_a_class_keeps_its_wall_clock_time_across_the_change_to_summer_time(clinic_a, program):
    # 2027-03-14: New York goes from UTC-5 to UTC-4; a Saturday class on either side.
    template = make_template(clinic_a, program, weekday=5, start_time=datetime.time(10, 30), starts_on=D(2027, 3, 1))
    services.occurrences_generate(
        clinic=clinic_a, template=template, start=datetime.date(2027, 3, 6), end=datetime.date(2027, 3, 20)
    )
    assert local_times(template) == ["2027-03-06 Sat 10:30", "2027-03-13 Sat 10:30", "2027-03-20 Sat 10:30"]
    assert [o.ends_at - o.starts_at for o in template.occurrences.all()] == [datetime.timedelta(hours=1)] * 3


def test_sessions_are_generated_in_the_clinics_own_time_zone(db, program):
    chicago = make_clinic("gamma", timezone="America/Chicago")
    template = make_template(chicago, make_program(chicago), start_time=datetime.time(18), starts_on=D(2027, 1, 4))
    services.occurrences_generate(
        clinic=chicago, template=template, start=datetime.date(2027, 1, 4), end=datetime.date(2027, 1, 4)
    )
    assert template.occurrences.get().starts_at == datetime.datetime(2027, 1, 5, 0, 0, tzinfo=datetime.UTC)


def test_sessions_stay_within_the_class_dates(clinic_a, program):
    today = services.local_date(clinic_a, timezone.now())
    # Tuesday to the Monday two weeks later holds exactly two of the class's Mondays, whatever today is.
    tuesday = today + datetime.timedelta(days=7 + (1 - today.weekday()) % 7)
    template = make_template(clinic_a, program, starts_on=tuesday, ends_on=tuesday + datetime.timedelta(days=13))
    services.occurrences_generate(clinic=clinic_a, template=template)
    days = [services.local_date(clinic_a, o.starts_at) for o in template.occurrences.all()]
    assert len(days) == 2 and all(template.starts_on <= day <= template.ends_on for day in days)


def test_a_stopped_class_generates_nothing(clinic_a, program):
    template = make_template(clinic_a, program, is_active=False)
    assert services.occurrences_generate(clinic=clinic_a, template=template) == 0


def test_the_daily_task_extends_every_clinics_classes_and_is_idempotent(clinic_a, clinic_b, program):
    make_template(clinic_a, program)
    make_template(clinic_b, make_program(clinic_b))
    assert tasks.extend_schedules() == 16
    assert tasks.extend_schedules() == 0


def test_the_daily_task_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["extend-schedules"]
    assert entry["task"] == "scheduling.tasks.extend_schedules" and entry["schedule"] == 86400


# --- Creating and changing classes ------------------------------------------------------------------


def template_data(program, **fields):
    return {
        "program": program, "name": "CR Wednesday", "weekday": 2, "start_time": datetime.time(9),
        "duration_minutes": 60, "room": "Gym A", "capacity": 10, "starts_on": timezone.localdate(), **fields,
    }  # fmt: skip


def test_saving_a_class_schedules_it(clinic_a, program, staff):
    template = services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(program))
    assert template.occurrences.count() == 8


def test_a_class_of_another_clinics_program_is_refused(clinic_a, clinic_b, staff):
    with pytest.raises(ValidationError, match="this clinic's programs"):
        services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(make_program(clinic_b)))
    assert not ClassTemplate.objects.exists()


def test_a_class_ending_before_it_starts_is_refused(clinic_a, program, staff):
    data = template_data(program, ends_on=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(ValidationError, match="on or after the first date"):
        services.class_template_save(clinic=clinic_a, actor=staff, data=data)
    assert not ClassTemplate.objects.exists()


def test_moving_a_class_moves_its_unbooked_sessions_and_keeps_booked_ones(clinic_a, program, staff):
    template = services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(program))
    first = template.occurrences.filter(starts_at__gt=timezone.now()).order_by("starts_at").first()
    enrollment = make_enrollment(clinic_a, program)
    services.booking_create(clinic=clinic_a, actor=staff, occurrence=first, enrollment=enrollment)

    services.class_template_save(
        clinic=clinic_a, actor=staff, template=template, data=template_data(program, start_time=datetime.time(10))
    )

    later = template.occurrences.exclude(pk=first.pk).filter(starts_at__gt=timezone.now())
    hours = {o.starts_at.astimezone(NEW_YORK).hour for o in later}
    assert hours == {10} and Occurrence.objects.filter(pk=first.pk).exists()
    assert Booking.objects.filter(occurrence=first).count() == 1


def test_a_larger_room_raises_the_capacity_of_upcoming_sessions(clinic_a, program, staff):
    template = services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(program))
    services.class_template_save(
        clinic=clinic_a, actor=staff, template=template, data=template_data(program, capacity=14, room="Gym B")
    )
    upcoming = template.occurrences.filter(starts_at__gt=timezone.now())
    assert set(upcoming.values_list("capacity", "room")) == {(14, "Gym B")}


def test_admin_adds_a_class_through_the_page(team_a, clinic_a, program):
    response = team_a["admin"].client.post(
        reverse("template_create", args=[clinic_a.slug]),
        {"program": program.pk, "name": "PR Tuesday", "weekday": 1, "start_time": "13:30", "duration_minutes": 60,
         "room": "Gym B", "capacity": 8, "starts_on": timezone.localdate().isoformat(), "is_active": "on"},
    )  # fmt: skip
    template = ClassTemplate.objects.get()
    assert response.status_code == 302 and template.name == "PR Tuesday" and template.occurrences.count() == 8


def test_the_class_form_shows_the_services_refusal(team_a, clinic_a, program):
    response = team_a["admin"].client.post(
        reverse("template_create", args=[clinic_a.slug]),
        {"program": program.pk, "name": "PR", "weekday": 1, "start_time": "13:30", "duration_minutes": 60,
         "capacity": 8, "starts_on": "2027-01-10", "ends_on": "2027-01-01"},
    )  # fmt: skip
    assert response.status_code == 200 and "on or after the first date" in response.content.decode()
    assert not ClassTemplate.objects.exists()


def test_the_api_creates_a_class_and_schedules_it(team_a, clinic_a, program):
    from tests.scheduling.test_bookings import token_client

    api = token_client(team_a["physiologist"])
    response = api.post(
        reverse("api-class-template-list", args=[clinic_a.slug]),
        {"program": program.pk, "name": "DPP evening", "weekday": 3, "start_time": "18:00",
         "starts_on": timezone.localdate().isoformat()},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert Occurrence.objects.filter(template_id=response.json()["id"]).count() == 8


def test_a_larger_room_gives_the_new_places_to_the_waitlist(clinic_a, program, staff):
    template = services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(program, capacity=1))
    occurrence = template.occurrences.filter(starts_at__gt=timezone.now()).order_by("starts_at").first()
    for waitlist in (False, True, True):
        services.booking_create(clinic=clinic_a, actor=staff, occurrence=occurrence,
                                enrollment=make_enrollment(clinic_a, program), waitlist=waitlist)  # fmt: skip
    services.class_template_save(
        clinic=clinic_a, actor=staff, template=template, data=template_data(program, capacity=2)
    )
    occurrence.refresh_from_db()
    assert occurrence.booked_count == 2
    assert occurrence.bookings.filter(status=Booking.Status.WAITLISTED).count() == 1


def test_a_smaller_room_never_drops_booked_patients(clinic_a, program, staff):
    template = services.class_template_save(clinic=clinic_a, actor=staff, data=template_data(program, capacity=3))
    occurrence = template.occurrences.filter(starts_at__gt=timezone.now()).order_by("starts_at").first()
    for _ in range(3):
        services.booking_create(clinic=clinic_a, actor=staff, occurrence=occurrence,
                                enrollment=make_enrollment(clinic_a, program))  # fmt: skip
    services.class_template_save(
        clinic=clinic_a, actor=staff, template=template, data=template_data(program, capacity=1)
    )
    occurrence.refresh_from_db()
    assert occurrence.capacity == 3 and occurrence.booked_count == 3
    assert template.occurrences.exclude(pk=occurrence.pk).filter(starts_at__gt=timezone.now()).first().capacity == 1
