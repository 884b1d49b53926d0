"""The referrals REST API: referrals and their funnel, referring providers, programs, the schema."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from clinic import services as clinic_services
from clinic.models import AuditEntry, Enrollment, Patient, Program
from referrals.models import Referral, ReferringProvider
from tests.conftest import make_patient, make_program, make_provider, make_referral

VALID_NPI = "1234567893"
OTHER_VALID_NPI = "1245319599"
BAD_CHECK_DIGIT_NPI = "1245319598"


def token_client(persona) -> Client:
    _, raw = clinic_services.api_token_create(membership=persona.membership, name="EHR interface")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def api(team_a):
    """One API client per role of clinic A, each with its member's personal token: api["physiologist"].get(…)."""
    return {role: token_client(persona) for role, persona in team_a.items()}


@pytest.fixture
def provider(clinic_a):
    return make_provider(clinic_a, npi=VALID_NPI)


def url(name, clinic, *args):
    return reverse(f"api-{name}", args=[clinic.slug, *args])


def referral_body(program, provider, **changes):
    return {
        "program": program.pk,
        "referring_provider": provider.pk,
        "patient_first_name": "Grace",
        "patient_last_name": "Hopper",
        "patient_date_of_birth": "1946-12-09",
        "cleared_for_exercise": True,
        **changes,
    }


def post_json(client, path, body):
    return client.post(path, body, content_type="application/json")


def patch_json(client, path, body):
    return client.patch(path, body, content_type="application/json")


# --- Referrals: list, filter, create --------------------------------------------------------------


def test_referral_list_shows_only_the_clinics_own_referrals(api, clinic_a, clinic_b, program, provider):
    mine = make_referral(clinic_a, provider=provider, program=program)
    make_referral(clinic_b)
    response = api["physiologist"].get(url("referral-list", clinic_a))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_a_token_cannot_read_another_clinics_referrals_through_its_slug(api, team_b, clinic_b):
    make_referral(clinic_b)
    assert api["physiologist"].get(url("referral-list", clinic_b)).status_code == 404


def test_referral_list_is_paginated(api, clinic_a, program, provider):
    Referral.objects.bulk_create(
        Referral(
            clinic=clinic_a,
            referring_provider=provider,
            program=program,
            patient_first_name="P",
            patient_last_name=f"L{i:03}",
            patient_date_of_birth="1950-01-01",
        )  # fmt: skip
        for i in range(51)
    )
    body = api["physiologist"].get(url("referral-list", clinic_a)).json()
    assert (body["count"], len(body["results"])) == (51, 50)
    assert body["next"] is not None


def test_referral_list_filters_by_status(api, clinic_a, program, provider):
    make_referral(clinic_a, provider=provider, program=program)
    declined = make_referral(clinic_a, provider=provider, program=program, status="declined")
    response = api["physiologist"].get(url("referral-list", clinic_a), {"status": "declined"})
    assert [row["id"] for row in response.json()["results"]] == [declined.pk]


@pytest.mark.parametrize("value", ["1.5", "1e3", "x", ""])
def test_a_referral_list_filtered_by_an_id_that_is_not_a_whole_number_is_refused(api, clinic_a, value):
    response = api["physiologist"].get(url("referral-list", clinic_a), {"program": value})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["program"]


def test_a_referral_list_filtered_by_an_id_beyond_the_databases_range_is_empty(api, clinic_a, program, provider):
    make_referral(clinic_a, provider=provider, program=program)
    response = api["physiologist"].get(url("referral-list", clinic_a), {"referring_provider": "9" * 30})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_the_schema_documents_id_filters_as_integers(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = schema["paths"]["/api/v1/clinics/{clinic_slug}/referrals/"]["get"]["parameters"]
    types = {parameter["name"]: parameter["schema"]["type"] for parameter in parameters}
    assert types["program"] == types["referring_provider"] == "integer"


def test_physiologist_creates_a_referral_naming_a_provider_and_program_of_the_clinic(api, clinic_a, program, provider):
    response = post_json(api["physiologist"], url("referral-list", clinic_a), referral_body(program, provider))
    referral = Referral.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == referral.pk
    assert (referral.clinic, referral.program, referral.referring_provider) == (clinic_a, program, provider)
    assert (referral.source, referral.status) == ("staff", "received")


def test_numbers_sent_for_text_fields_of_a_referral_are_refused(api, clinic_a, program, provider):
    body = referral_body(program, provider, patient_first_name=123, diagnosis_codes=[410])
    response = post_json(api["physiologist"], url("referral-list", clinic_a), body)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"patient_first_name", "diagnosis_codes"}
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("cleared_for_exercise", 1),
        ("supplemental_oxygen", "true"),
        ("lvef_percent", "45"),
        ("lvef_percent", True),
        ("urgency", 1),
        ("urgency", {}),
        ("urgency", ["routine"]),
        ("program", "1"),
        ("weight_kg", 72.5),
    ],
)
def test_a_value_of_another_json_type_than_the_schemas_is_refused(api, clinic_a, program, provider, field, value):
    body = {**referral_body(program, provider), field: value}
    response = post_json(api["physiologist"], url("referral-list", clinic_a), body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not Referral.objects.exists()


def test_values_of_the_schemas_json_types_are_taken(api, clinic_a, program, provider):
    body = referral_body(program, provider, supplemental_oxygen=True, lvef_percent=45, weight_kg="72.5")
    response = post_json(api["physiologist"], url("referral-list", clinic_a), body)
    assert response.status_code == 201
    assert (response.json()["lvef_percent"], response.json()["weight_kg"]) == (45, "72.5")


def test_a_decimal_sent_as_a_number_is_refused_saying_how_to_send_it(api, clinic_a, program, provider):
    body = referral_body(program, provider, weight_kg=72.5)
    response = post_json(api["physiologist"], url("referral-list", clinic_a), body)
    assert response.json()["errors"] == {"weight_kg": ['Send the number as a string, for example "72.5".']}


def test_a_number_sent_as_an_override_reason_is_refused(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, program=program, provider=provider)
    response = post_json(api["physiologist"], url("referral-override", clinic_a, referral.pk), {"reason": 7})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason"]


def test_a_provider_of_another_clinic_is_refused_with_a_field_error_and_nothing_saved(api, clinic_a, clinic_b, program):
    foreign = make_provider(clinic_b)
    response = post_json(api["physiologist"], url("referral-list", clinic_a), referral_body(program, foreign))
    assert response.status_code == 400
    assert "referring_provider" in response.json()["errors"]
    assert not Referral.objects.exists() and not Patient.objects.exists()


def test_a_program_of_another_clinic_is_refused_with_a_field_error_and_nothing_saved(api, clinic_a, clinic_b, provider):
    foreign = make_program(clinic_b)
    response = post_json(api["physiologist"], url("referral-list", clinic_a), referral_body(foreign, provider))
    assert response.status_code == 400
    assert "program" in response.json()["errors"]
    assert not Referral.objects.exists() and not Patient.objects.exists()


def test_a_physician_creating_a_referral_is_recorded_as_the_referring_provider_from_the_portal(
    api, team_a, clinic_a, program, provider
):
    response = post_json(api["physician"], url("referral-list", clinic_a), referral_body(program, provider))
    referral = Referral.objects.get()
    assert response.status_code == 201
    assert referral.referring_provider.membership == team_a["physician"].membership
    assert referral.referring_provider != provider
    assert referral.source == "portal"


def test_a_physician_lists_only_the_referrals_they_sent(api, team_a, clinic_a, program, provider):
    own_provider = make_provider(clinic_a, membership=team_a["physician"].membership, last_name="Self")
    sent = make_referral(clinic_a, provider=own_provider, program=program)
    make_referral(clinic_a, provider=provider, program=program)
    response = api["physician"].get(url("referral-list", clinic_a))
    assert [row["id"] for row in response.json()["results"]] == [sent.pk]


def test_retrieving_a_referral_records_an_access_audit_entry(api, team_a, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program)
    response = api["physiologist"].get(url("referral-detail", clinic_a, referral.pk))
    assert response.status_code == 200
    entry = AuditEntry.objects.get(
        clinic=clinic_a, event=AuditEntry.Event.VIEW, content_type=ContentType.objects.get_for_model(Referral),
        object_pk=str(referral.pk),
    )  # fmt: skip
    assert entry.actor == team_a["physiologist"].user


# --- Referrals: editing and the funnel -------------------------------------------------------------


def test_physiologist_updates_clinical_facts_with_patch(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program)
    response = patch_json(
        api["physiologist"], url("referral-detail", clinic_a, referral.pk),
        {"lvef_percent": 45, "precaution_notes": "Stop above 130 bpm"},
    )  # fmt: skip
    referral.refresh_from_db()
    assert response.status_code == 200
    assert (referral.lvef_percent, referral.precaution_notes) == (45, "Stop above 130 bpm")


def test_a_physician_cannot_patch_even_their_own_referral(api, team_a, clinic_a, program):
    own_provider = make_provider(clinic_a, membership=team_a["physician"].membership)
    referral = make_referral(clinic_a, provider=own_provider, program=program)
    response = patch_json(api["physician"], url("referral-detail", clinic_a, referral.pk), {"lvef_percent": 45})
    referral.refresh_from_db()
    assert response.status_code == 404
    assert referral.lvef_percent is None


def test_status_action_moves_a_referral_into_review(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program)
    response = post_json(
        api["physiologist"], url("referral-set-status", clinic_a, referral.pk), {"status": "in_review"}
    )
    referral.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["status"] == referral.status == "in_review"


def test_declining_without_a_reason_is_a_field_error(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program)
    response = post_json(api["physiologist"], url("referral-set-status", clinic_a, referral.pk), {"status": "declined"})
    referral.refresh_from_db()
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert referral.status == "received"


def test_status_action_refuses_accepted_and_points_to_the_accept_action(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program)
    response = post_json(api["physiologist"], url("referral-set-status", clinic_a, referral.pk), {"status": "accepted"})
    referral.refresh_from_db()
    assert response.status_code == 400
    assert "accept action" in str(response.json()["errors"]["status"])
    assert referral.status == "received"


def test_accepting_with_a_start_date_opens_an_enrollment(api, clinic_a, patient_a, program, provider):
    referral = make_referral(clinic_a, patient=patient_a, provider=provider, program=program, cleared_for_exercise=True)
    response = post_json(
        api["physiologist"], url("referral-accept", clinic_a, referral.pk), {"start_date": "2026-12-01"}
    )
    enrollment = Enrollment.objects.get()
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["enrollment"]) == ("accepted", enrollment.pk)
    assert (enrollment.patient, enrollment.program, str(enrollment.start_date)) == (patient_a, program, "2026-12-01")


def test_accepting_twice_is_refused_with_a_message(api, clinic_a, patient_a, program, provider):
    referral = make_referral(clinic_a, patient=patient_a, provider=provider, program=program, cleared_for_exercise=True)
    accept_url = url("referral-accept", clinic_a, referral.pk)
    post_json(api["physiologist"], accept_url, {"start_date": "2026-12-01"})
    response = post_json(api["physiologist"], accept_url, {"start_date": "2026-12-08"})
    body = response.json()
    assert response.status_code == 400
    assert body["message"]
    assert "cannot be accepted" in body["errors"]["non_field_errors"][0]
    assert Enrollment.objects.count() == 1


def test_eligibility_endpoint_returns_status_label_and_outcomes_with_reasons(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program, cleared_for_exercise=True)
    response = api["physiologist"].get(url("referral-eligibility", clinic_a, referral.pk))
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["label"], body["overridden"]) == ("eligible", "Eligible", False)
    assert body["outcomes"] == [{"rule": "Medical clearance", "status": "met", "reason": "Cleared for exercise."}]


def test_override_without_a_reason_is_a_field_error(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program, cleared_for_exercise=False)
    response = post_json(api["physiologist"], url("referral-override", clinic_a, referral.pk), {})
    referral.refresh_from_db()
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert referral.eligibility_override_reason == ""


def test_override_with_a_reason_marks_the_result_overridden(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, provider=provider, program=program, cleared_for_exercise=False)
    response = post_json(
        api["physiologist"], url("referral-override", clinic_a, referral.pk), {"reason": "Cleared by phone"}
    )
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["overridden"], body["override_reason"]) == ("not_eligible", True, "Cleared by phone")


# --- Referring providers -------------------------------------------------------------------------


def provider_body(**changes):
    return {"first_name": "James", "last_name": "Okafor", "credentials": "MD", "npi": VALID_NPI, **changes}


@pytest.mark.parametrize("role", ["admin", "physiologist"])
def test_staff_create_list_update_and_read_providers(api, clinic_a, role):
    created = post_json(api[role], url("provider-list", clinic_a), provider_body())
    provider_id = created.json()["id"]
    updated = patch_json(api[role], url("provider-detail", clinic_a, provider_id), {"specialty": "Cardiology"})
    listed = api[role].get(url("provider-list", clinic_a)).json()["results"]
    detail = api[role].get(url("provider-detail", clinic_a, provider_id)).json()
    assert (created.status_code, updated.status_code) == (201, 200)
    assert [row["id"] for row in listed] == [provider_id]
    assert (detail["npi"], detail["specialty"]) == (VALID_NPI, "Cardiology")
    assert ReferringProvider.objects.get(pk=provider_id).clinic == clinic_a


def test_an_invalid_npi_is_a_field_error(api, clinic_a):
    response = post_json(api["physiologist"], url("provider-list", clinic_a), provider_body(npi=BAD_CHECK_DIGIT_NPI))
    assert response.status_code == 400
    assert "npi" in response.json()["errors"]
    assert not ReferringProvider.objects.exists()


def test_an_npi_already_used_in_the_clinic_is_refused(api, clinic_a, provider):
    response = post_json(api["physiologist"], url("provider-list", clinic_a), provider_body(npi=provider.npi))
    assert response.status_code == 400
    assert "already belongs" in response.json()["errors"]["npi"][0]
    assert ReferringProvider.objects.filter(clinic=clinic_a).count() == 1


def test_changing_an_npi_to_one_used_in_the_clinic_is_refused(api, clinic_a, provider):
    other = make_provider(clinic_a, last_name="Other", npi=OTHER_VALID_NPI)
    response = patch_json(api["physiologist"], url("provider-detail", clinic_a, other.pk), {"npi": provider.npi})
    other.refresh_from_db()
    assert response.status_code == 400
    assert "npi" in response.json()["errors"]
    assert other.npi == OTHER_VALID_NPI


def test_the_same_npi_in_another_clinic_is_accepted(api, clinic_a, clinic_b):
    make_provider(clinic_b, npi=VALID_NPI)
    response = post_json(api["physiologist"], url("provider-list", clinic_a), provider_body())
    assert response.status_code == 201
    assert ReferringProvider.objects.filter(npi=VALID_NPI).count() == 2


def test_deleting_a_provider_with_referrals_is_refused_and_keeps_it(api, clinic_a, program, provider):
    make_referral(clinic_a, provider=provider, program=program)
    response = api["physiologist"].delete(url("provider-detail", clinic_a, provider.pk))
    body = response.json()
    assert response.status_code == 400
    assert body["message"]
    assert "has referrals" in body["errors"]["non_field_errors"][0]
    assert ReferringProvider.objects.filter(pk=provider.pk).exists()


def test_deleting_a_provider_without_referrals_removes_it(api, clinic_a, provider):
    response = api["admin"].delete(url("provider-detail", clinic_a, provider.pk))
    assert response.status_code == 204
    assert not ReferringProvider.objects.filter(pk=provider.pk).exists()


def test_a_provider_of_another_clinic_cannot_be_read_or_deleted(api, clinic_b):
    foreign = make_provider(clinic_b)
    path = reverse("api-provider-detail", args=["alpha", foreign.pk])
    assert api["physiologist"].get(path).status_code == 404
    assert api["physiologist"].delete(path).status_code == 404
    assert ReferringProvider.objects.filter(pk=foreign.pk).exists()


def test_billing_cannot_see_providers(api, clinic_a, provider):
    assert api["billing"].get(url("provider-list", clinic_a)).status_code == 404
    assert api["billing"].get(url("provider-detail", clinic_a, provider.pk)).status_code == 404


# --- Programs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "physiologist", "physician", "billing"])
def test_every_role_lists_programs(api, clinic_a, program, role):
    response = api[role].get(url("program-list", clinic_a))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [program.pk]


def test_admin_creates_a_program(api, clinic_a):
    response = post_json(
        api["admin"], url("program-list", clinic_a), {"name": "Phase II Cardiac", "program_type": "cr"}
    )
    assert response.status_code == 201
    assert Program.objects.get(pk=response.json()["id"]).clinic == clinic_a


def test_a_physiologist_cannot_create_a_program(api, clinic_a):
    response = post_json(
        api["physiologist"], url("program-list", clinic_a), {"name": "Phase II Cardiac", "program_type": "cr"}
    )
    assert response.status_code == 404
    assert not Program.objects.exists()


def test_a_duplicate_program_name_is_a_field_error(api, clinic_a, program):
    response = post_json(
        api["admin"], url("program-list", clinic_a), {"name": program.name.upper(), "program_type": "cr"}
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    assert Program.objects.count() == 1


def test_patching_is_active_false_deactivates_a_program(api, clinic_a, program):
    response = patch_json(api["admin"], url("program-detail", clinic_a, program.pk), {"is_active": False})
    program.refresh_from_db()
    assert response.status_code == 200
    assert program.is_active is False


def test_programs_cannot_be_deleted(api, clinic_a, program):
    response = api["admin"].delete(url("program-detail", clinic_a, program.pk))
    assert response.status_code == 405
    assert Program.objects.filter(pk=program.pk).exists()


def test_a_referral_action_called_with_the_wrong_method_is_405(api, clinic_a, program, provider):
    referral = make_referral(clinic_a, program=program, provider=provider)
    assert api["physiologist"].get(url("referral-accept", clinic_a, referral.pk)).status_code == 405
    assert api["physiologist"].delete(url("referral-detail", clinic_a, referral.pk)).status_code == 405


# --- OpenAPI schema and query counts -----------------------------------------------------------------


def test_openapi_schema_documents_the_referral_endpoints(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    prefix = "/api/v1/clinics/{clinic_slug}"
    expected = {
        "/referrals/", "/referrals/{referral_id}/", "/referrals/{referral_id}/status/",
        "/referrals/{referral_id}/accept/", "/referrals/{referral_id}/eligibility/",
        "/referrals/{referral_id}/override/", "/providers/", "/providers/{provider_id}/", "/programs/",
        "/programs/{program_id}/", "/fhir/referral-bundles/",
    }  # fmt: skip
    assert {prefix + path for path in expected} <= set(paths)


@pytest.mark.parametrize("count", [5, 30])
def test_referral_list_query_count_does_not_grow_with_referrals(
    api, clinic_a, program, provider, count, django_assert_max_num_queries
):
    for i in range(count):
        patient = make_patient(clinic_a, f"Q-{i:03}", last_name=f"L{i:03}")
        make_referral(clinic_a, patient=patient, provider=provider, program=program)
    client = api["physiologist"]
    client.get(url("program-list", clinic_a))  # the token's once-a-minute last_used_at write happens here
    # token, membership, count, page, audit entry, and row-level security's five (clinic/rls.py)
    with django_assert_max_num_queries(11):
        response = client.get(url("referral-list", clinic_a))
    assert len(response.json()["results"]) == count


def test_a_physician_is_not_told_whether_the_person_matched_a_patient(clinic_a, team_a):
    make_patient(clinic_a, "X-1", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09")
    _, raw = clinic_services.api_token_create(membership=team_a["physician"].membership, name="x")
    response = Client(headers={"Authorization": f"Bearer {raw}"}).post(
        reverse("api-referral-list", args=[clinic_a.slug]),
        {
            "program": make_program(clinic_a, "post_rehab").pk,
            "patient_first_name": "Grace",
            "patient_last_name": "Hopper",
            "patient_date_of_birth": "1946-12-09",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    assert "possible_duplicate" not in response.json() and "patient" not in response.json()
