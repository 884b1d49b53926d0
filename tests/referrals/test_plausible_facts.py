"""Implausible facts are refused with a clear message, and nothing is saved: form, API and FHIR intake."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from referrals import services
from referrals.models import Referral
from tests.conftest import make_program, make_provider
from tests.referrals.test_api import post_json, referral_body, token_client
from tests.referrals.test_fhir import PATIENT, REQUEST, bundle, issues_of, post, resource

TODAY = timezone.localdate()


@pytest.fixture
def program(clinic_a):
    return make_program(clinic_a, "dpp", name="Diabetes Prevention")


@pytest.fixture
def provider(clinic_a):
    return make_provider(clinic_a)


def create(clinic, program, provider, **facts):
    data = {
        "program": program, "referring_provider": provider, "patient_first_name": "Grace",
        "patient_last_name": "Hopper", "patient_date_of_birth": datetime.date(1946, 12, 9), **facts,
    }  # fmt: skip
    return services.referral_create(clinic=clinic, actor=None, data=data)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("referral_date", datetime.date(9999, 12, 31), "at most 7 days ahead"),
        ("referral_date", datetime.date(1899, 12, 31), "before 1900"),
        ("patient_date_of_birth", datetime.date(1850, 1, 1), "before 1900"),
        ("lab_test_date", TODAY + datetime.timedelta(days=1), "in the future"),
        ("qualifying_event_date", datetime.date(1800, 1, 1), "before 1900"),
        ("weight_kg", Decimal("-70"), "Weight (kg) must be between 20 and 450"),
        ("height_cm", Decimal("900"), "Height (cm) must be between 50 and 272"),
        ("bmi", Decimal("250"), "BMI must be between 10 and 100"),
        ("a1c_percent", Decimal("65"), "HbA1c (%) must be between 3 and 20"),
        ("lvef_percent", 0, "greater than or equal to 1"),
        ("nyha_class", 5, "less than or equal to 4"),
        ("fev1_fvc_ratio", Decimal("1.50"), "less than or equal to 1"),
        ("fev1_percent_predicted", 900, "FEV1 % predicted must be between 1 and 200"),
    ],
)
def test_an_implausible_fact_is_refused_with_a_message_naming_it(clinic_a, program, provider, field, value, message):
    with pytest.raises(ValidationError) as refused:
        create(clinic_a, program, provider, **{field: value})
    assert any(message in text for text in refused.value.message_dict[field])
    assert not Referral.objects.exists()


def test_a_referral_date_a_few_days_ahead_is_accepted(clinic_a, program, provider):
    create(clinic_a, program, provider, referral_date=TODAY + datetime.timedelta(days=3))
    assert Referral.objects.count() == 1


def test_the_api_refuses_a_referral_dated_9999_with_a_field_error(team_a, clinic_a, program, provider):
    client = token_client(team_a["physiologist"])
    body = referral_body(program, provider, referral_date="9999-12-31")
    response = post_json(client, reverse("api-referral-list", args=[clinic_a.slug]), body)
    assert response.status_code == 400
    assert "referral_date" in response.json()["errors"]
    assert not Referral.objects.exists()


def test_the_staff_form_shows_the_message_and_saves_nothing(team_a, clinic_a, program, provider):
    response = team_a["physiologist"].client.post(
        reverse("referral_create", args=[clinic_a.slug]),
        {"program": program.pk, "referring_provider": provider.pk, "patient_first_name": "Grace",
         "patient_last_name": "Hopper", "patient_date_of_birth": "1946-12-09", "patient_sex": "F",
         "urgency": "routine", "referral_date": "9999-12-31"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "at most 7 days ahead" in response.content.decode()
    assert not Referral.objects.exists()


def test_the_fhir_intake_refuses_a_birth_date_before_1900(team_a, clinic_a):
    make_program(clinic_a, "cr", name="Cardiac Rehab")
    client = token_client(team_a["physiologist"])
    body = bundle()
    resource(body, PATIENT)["birthDate"] = "1850-01-01"
    response = post(client, clinic_a, body)
    assert response.status_code == 400
    assert "before 1900" in " ".join(issue["diagnostics"] for issue in issues_of(response))
    assert not Referral.objects.exists()


def test_the_fhir_intake_refuses_a_referral_authored_next_year(team_a, clinic_a):
    make_program(clinic_a, "cr", name="Cardiac Rehab")
    client = token_client(team_a["physiologist"])
    body = bundle()
    resource(body, REQUEST)["authoredOn"] = f"{TODAY.year + 1}-01-01"
    response = post(client, clinic_a, body)
    assert response.status_code == 400
    assert not Referral.objects.exists()


def test_the_form_names_each_wrong_icd10_code(team_a, clinic_a, program, provider):
    response = team_a["physiologist"].client.post(
        reverse("referral_create", args=[clinic_a.slug]),
        {"program": program.pk, "referring_provider": provider.pk, "patient_first_name": "Grace",
         "patient_last_name": "Hopper", "patient_date_of_birth": "1946-12-09", "patient_sex": "F",
         "urgency": "routine", "diagnosis_codes": "I21.4, U99, R73.03, 12345"},
    )  # fmt: skip
    assert "Not ICD-10-CM: U99, 12345." in response.content.decode()
    assert not Referral.objects.exists()


def test_the_api_names_the_wrong_icd10_code(team_a, clinic_a, program, provider):
    client = token_client(team_a["physiologist"])
    body = referral_body(program, provider, diagnosis_codes=["I21.4", "U99"])
    response = post_json(client, reverse("api-referral-list", args=[clinic_a.slug]), body)
    assert response.status_code == 400
    assert "U99 is not an ICD-10-CM code" in str(response.json()["errors"]["diagnosis_codes"])


def test_the_form_shows_every_error_on_the_first_submit(team_a, clinic_a, program, provider):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = team_a["physiologist"].client.post(
        reverse("referral_create", args=[clinic_a.slug]),
        {"program": program.pk, "referring_provider": provider.pk, "patient_first_name": "Grace",
         "patient_last_name": "", "patient_date_of_birth": "2999-01-01", "patient_sex": "F", "urgency": "routine",
         "attachment": SimpleUploadedFile("note.txt", b"plain text, not a PDF")},
    )  # fmt: skip
    errors = response.context["form"].errors
    assert {"patient_last_name", "patient_date_of_birth", "attachment"} <= set(errors)
    assert not Referral.objects.exists()
