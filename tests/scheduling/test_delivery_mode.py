"""The delivery mode on the floor sheet: a DPP/MDPP row may record one; every other row takes the class's."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduling import floorsheet, services
from scheduling.floorsheet_forms import RowForm
from scheduling.models import Occurrence
from tests.conftest import make_program
from tests.scheduling.factories import ensure_reference_data, make_booking, make_enrollment, make_occurrence


def booked(clinic, team, program_type, **occurrence_fields):
    ensure_reference_data()
    program = make_program(clinic, program_type)
    occurrence = make_occurrence(clinic, program, **occurrence_fields)
    enrollment = make_enrollment(clinic, program=program)
    return make_booking(occurrence, enrollment, team["physiologist"].membership)


def save(clinic, team, booking, **values):
    return floorsheet.session_log_save(
        clinic=clinic, actor=team["physiologist"].membership, booking=booking,
        data={"attendance": "present", **values}, version=0,
    )  # fmt: skip


def test_a_row_without_a_delivery_mode_takes_the_classs(team_a, clinic_a):
    booking = booked(clinic_a, team_a, "mdpp", delivery_mode="distance")
    assert save(clinic_a, team_a, booking).delivery_mode == "distance"


def test_a_dpp_row_records_its_own_delivery_mode(team_a, clinic_a):
    booking = booked(clinic_a, team_a, "dpp")
    log = save(clinic_a, team_a, booking, delivery_mode="online")
    log.refresh_from_db()
    assert log.delivery_mode == "online"


def test_a_cardiac_rehab_row_cannot_record_another_delivery_mode(team_a, clinic_a):
    booking = booked(clinic_a, team_a, "cr")
    with pytest.raises(ValidationError) as excinfo:
        save(clinic_a, team_a, booking, delivery_mode="online")
    assert excinfo.value.message_dict == {
        "delivery_mode": ["A delivery mode is recorded for DPP and Medicare DPP sessions only."]
    }


def test_an_unknown_delivery_mode_is_refused(team_a, clinic_a):
    booking = booked(clinic_a, team_a, "mdpp")
    with pytest.raises(ValidationError) as excinfo:
        save(clinic_a, team_a, booking, delivery_mode="carrier-pigeon")
    assert excinfo.value.message_dict == {"delivery_mode": ["Unknown delivery mode “carrier-pigeon”."]}


@pytest.mark.parametrize(("program_type", "shown"), [("mdpp", True), ("dpp", True), ("cr", False), ("pr", False)])
def test_the_row_shows_the_delivery_mode_for_dpp_and_mdpp_only(team_a, clinic_a, program_type, shown):
    booking = booked(clinic_a, team_a, program_type)
    row = floorsheet.floor_row_get(clinic=clinic_a, occurrence_id=booking.occurrence_id, booking_id=booking.pk)
    assert ("delivery_mode" in RowForm(row=row, clinic=clinic_a).fields) is shown


def test_a_classs_occurrences_take_its_delivery_mode(team_a, clinic_a):
    template = services.class_template_save(
        clinic=clinic_a, actor=team_a["admin"].membership,
        data={"program": make_program(clinic_a, "dpp"), "name": "DPP online", "weekday": 2,
              "start_time": datetime.time(18), "starts_on": timezone.localdate(), "delivery_mode": "online"},
    )  # fmt: skip
    modes = set(Occurrence.objects.filter(template=template).values_list("delivery_mode", flat=True))
    assert modes == {"online"}
