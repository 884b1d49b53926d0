"""Each program's headline measure (clinic.Program.headline_measure): the outcome the physician portal and the
reports lead with, a starting value by program type, edited by admins in the program form."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinic.models import Program
from outcomes import services as outcomes_services
from referrals import services
from tests.conftest import make_program
from tests.outcomes.helpers import measure
from tests.referrals.test_api import token_client


def program_data(**fields) -> dict:
    data = {"name": "Phase II Cardiac Rehab", "program_type": "cr", "description": "", "default_length_weeks": 12,
            "default_session_count": 36, "sessions_per_week": 3, "is_active": True}  # fmt: skip
    return {**data, **fields}


@pytest.mark.parametrize(("program_type", "code"), [("cr", "64098-7"), ("dpp", "29463-7"), ("falls_prevention", "tug")])
def test_a_new_program_starts_with_its_types_usual_headline_measure(clinic_a, team_a, program_type, code):
    program = services.program_save(
        clinic=clinic_a, actor=team_a["admin"].user, data=program_data(program_type=program_type)
    )
    assert program.headline_measure.code == code


def test_a_new_program_of_a_type_without_a_usual_measure_has_none(clinic_a, team_a):
    program = services.program_save(
        clinic=clinic_a, actor=team_a["admin"].user, data=program_data(program_type="post_rehab")
    )
    assert program.headline_measure is None


def test_an_admin_chooses_the_headline_measure_in_the_program_form(clinic_a, team_a):
    admin, program = team_a["admin"], make_program(clinic_a, "cr")
    url = reverse("program_edit", args=[clinic_a.slug, program.pk])
    assert "Headline measure" in admin.client.get(url).content.decode()
    response = admin.client.post(url, program_data(name=program.name, headline_measure=measure("tug").pk))
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.headline_measure.code == "tug"


def test_an_edit_may_leave_a_program_without_a_headline_measure(clinic_a, team_a):
    program = make_program(clinic_a, "cr")
    services.program_save(
        clinic=clinic_a, actor=team_a["admin"].user, data=program_data(headline_measure=None), program=program
    )
    program.refresh_from_db()
    assert program.headline_measure is None


def test_a_measure_of_another_clinic_is_refused_and_nothing_saved(clinic_a, clinic_b, team_a, team_b):
    theirs = outcomes_services.measure_save(
        clinic=clinic_b, actor=team_b["admin"].membership, data={"code": "b-own", "name": "B's own", "unit": "s"}
    )
    program = make_program(clinic_a, "cr")
    with pytest.raises(ValidationError, match="this clinic's catalog"):
        services.program_save(
            clinic=clinic_a, actor=team_a["admin"].user, data=program_data(headline_measure=theirs), program=program
        )
    program.refresh_from_db()
    assert program.headline_measure.code == "64098-7"


def test_the_form_offers_the_clinics_own_measures_and_the_shared_catalog_only(clinic_a, clinic_b, team_a, team_b):
    mine = outcomes_services.measure_save(
        clinic=clinic_a, actor=team_a["admin"].membership, data={"code": "a-own", "name": "A's own", "unit": "s"}
    )
    outcomes_services.measure_save(
        clinic=clinic_b, actor=team_b["admin"].membership, data={"code": "b-own", "name": "B's own", "unit": "s"}
    )
    page = team_a["admin"].client.get(reverse("program_create", args=[clinic_a.slug])).content.decode()
    assert f'value="{mine.pk}"' in page and "A&#x27;s own" in page and "B&#x27;s own" not in page
    assert "The usual one for the type" in page


def test_the_migration_gives_existing_programs_the_measure_their_type_had(clinic_a):
    for name, kind in (("CR", "cr"), ("Falls", "falls_prevention"), ("Youth", "youth")):
        Program.objects.create(clinic=clinic_a, name=name, program_type=kind)
    importlib.import_module("clinic.migrations.0021_program_headline_measure").set_headlines(apps, None)
    headlines = dict(Program.objects.filter(clinic=clinic_a).values_list("name", "headline_measure__code"))
    assert headlines == {"CR": "64098-7", "Falls": "tug", "Youth": None}


def test_the_api_sets_and_shows_a_programs_headline_measure(clinic_a, team_a):
    program = make_program(clinic_a, "cr")
    url = reverse("api-program-detail", args=[clinic_a.slug, program.pk])
    response = token_client(team_a["admin"]).patch(
        url, {"headline_measure": measure("tug").pk}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["headline_measure"] == measure("tug").pk
