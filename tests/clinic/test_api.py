"""The REST API: tokens, patients, JSON errors, the OpenAPI schema."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic import services
from clinic.models import AuditEntry, Patient
from clinic.tokens import hash_token
from tests.conftest import searched_planned_for_the_term


@pytest.fixture
def api(team_a):
    _, raw = services.api_token_create(membership=team_a["physiologist"].membership, name="EHR interface")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def patients_url(clinic):
    return reverse("api-patient-list", args=[clinic.slug])


def test_token_is_stored_only_as_a_hash(team_a):
    token, raw = services.api_token_create(membership=team_a["admin"].membership, name="x")
    assert token.token_hash == hash_token(raw)
    assert raw not in token.token_hash


def test_token_acts_with_its_members_roles(api, clinic_a):
    response = api.post(
        patients_url(clinic_a),
        {"mrn": "API-1", "first_name": "Ida", "last_name": "Wells", "date_of_birth": "1962-07-16"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Patient.objects.get(mrn="API-1").clinic == clinic_a


def test_writes_through_the_api_name_the_tokens_member_in_the_audit_trail(api, clinic_a, team_a):
    api.post(
        patients_url(clinic_a),
        {"mrn": "API-1", "first_name": "Ida", "last_name": "Wells", "date_of_birth": "1962-07-16"},
        content_type="application/json",
    )
    entry = AuditEntry.objects.get(event=AuditEntry.Event.CREATE, object_repr__contains="API-1")
    assert entry.actor == team_a["physiologist"].user


def test_revoked_token_is_refused(team_a, clinic_a):
    token, raw = services.api_token_create(membership=team_a["admin"].membership, name="x")
    services.api_token_revoke(membership=team_a["admin"].membership, token=token)
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get(patients_url(clinic_a))
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid or revoked API token."


def test_validation_errors_are_json_with_field_errors(api, clinic_a):
    response = api.post(
        patients_url(clinic_a),
        {"mrn": "API-1", "first_name": "Ida", "last_name": "Wells", "date_of_birth": "2999-01-01", "mbi": "bad"},
        content_type="application/json",
    )
    body = response.json()
    assert response.status_code == 400
    assert set(body["errors"]) == {"date_of_birth", "mbi"}
    assert not Patient.objects.exists()


def test_duplicate_mrn_is_a_field_error(api, clinic_a, patient_a):
    response = api.post(
        patients_url(clinic_a),
        {"mrn": patient_a.mrn, "first_name": "Ida", "last_name": "Wells", "date_of_birth": "1962-07-16"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "already belongs" in response.json()["errors"]["mrn"][0]


def test_list_filters_by_search_and_status(api, clinic_a, patient_a):
    response = api.get(patients_url(clinic_a), {"q": "arch", "status": "active"})
    assert [row["mrn"] for row in response.json()["results"]] == [patient_a.mrn]


def test_list_search_is_planned_for_its_term(api, clinic_a, patient_a):
    with CaptureQueriesContext(connection) as captured:
        api.get(patients_url(clinic_a), {"q": "arch"})
    assert searched_planned_for_the_term(captured)


def test_list_and_retrieve_are_recorded_as_access(api, clinic_a, patient_a):
    api.get(patients_url(clinic_a))
    api.get(reverse("api-patient-detail", args=[clinic_a.slug, patient_a.pk]))
    views = AuditEntry.objects.filter(clinic=clinic_a, event=AuditEntry.Event.VIEW)
    assert views.filter(patient=patient_a).count() == 1
    assert views.filter(additional_data__ids=[patient_a.pk]).count() == 1


def test_partial_update_changes_only_given_fields(api, clinic_a, patient_a):
    url = reverse("api-patient-detail", args=[clinic_a.slug, patient_a.pk])
    response = api.patch(url, {"phone": "555-0199"}, content_type="application/json")
    patient_a.refresh_from_db()
    assert response.status_code == 200
    assert (patient_a.phone, patient_a.first_name) == ("555-0199", "Alice")


def test_api_list_query_count_does_not_grow_with_patients(api, clinic_a, django_assert_max_num_queries):
    Patient.objects.bulk_create(
        Patient(clinic=clinic_a, mrn=f"P{i:03}", first_name="A", last_name=f"L{i:03}", date_of_birth="1950-01-01")
        for i in range(60)
    )
    # Row-level security adds five round trips to a token request: find the token by its hash, set
    # the hash, the clinic and the clinic with its user, restore at the end (clinic/rls.py).
    with django_assert_max_num_queries(13):
        api.get(patients_url(clinic_a))


def test_openapi_schema_documents_the_patient_endpoints(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/clinics/{clinic_slug}/patients/" in schema["paths"]
    assert "/api/v1/clinics/{clinic_slug}/patients/{patient_id}/" in schema["paths"]


def test_interactive_docs_load_their_assets_locally(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()


def test_an_oversized_body_is_refused_as_too_large_in_json(api, clinic_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(patients_url(clinic_a), {"first_name": "x" * 2000}, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "message": "The request body is larger than 1,000 bytes, the most the API accepts.",
        "errors": {},
    }


def test_a_method_the_endpoint_does_not_have_is_405_not_404(api, clinic_a, patient_a):
    detail = reverse("api-patient-detail", args=[clinic_a.slug, patient_a.pk])
    assert api.delete(detail).status_code == 405
    response = api.put(patients_url(clinic_a), {}, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["message"] == 'Method "PUT" not allowed.'
    assert "POST" in response["Allow"]


def test_an_unsupported_method_on_another_clinics_url_is_still_404(api, clinic_b, patient_b):
    assert api.delete(reverse("api-patient-detail", args=[clinic_b.slug, patient_b.pk])).status_code == 404
    assert api.put(patients_url(clinic_b), {}, content_type="application/json").status_code == 404


def test_a_number_sent_for_a_text_field_is_refused_not_turned_into_text(api, clinic_a):
    response = api.post(
        patients_url(clinic_a),
        {"mrn": 1234, "first_name": 123, "last_name": "Wells", "date_of_birth": "1962-07-16", "email": 5},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"mrn", "first_name", "email"}
    assert not Patient.objects.exists()


def test_the_date_of_birth_filter_takes_iso_dates(api, clinic_a, patient_a):
    response = api.get(patients_url(clinic_a), {"date_of_birth": "1950-03-04"})
    assert [row["mrn"] for row in response.json()["results"]] == [patient_a.mrn]


def test_a_date_of_birth_filter_in_another_format_is_refused(api, clinic_a, patient_a):
    response = api.get(patients_url(clinic_a), {"date_of_birth": "03/04/1950"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["date_of_birth"]


@pytest.mark.parametrize("parameter", ["date_of_birth", "status"])
def test_a_filter_given_empty_is_refused_not_ignored(api, clinic_a, patient_a, parameter):
    response = api.get(patients_url(clinic_a), {parameter: ""})
    assert response.status_code == 400
    assert response.json()["errors"] == {parameter: ["Give a value, or leave the parameter out."]}


def test_an_empty_text_filter_is_a_text(api, clinic_a, patient_a):
    assert api.get(patients_url(clinic_a), {"mrn": ""}).status_code == 200


@pytest.mark.parametrize("page", ["", "0", "-1", "last", "1.0", "\u0661"])
def test_a_page_that_is_not_a_whole_number_from_1_is_refused(api, clinic_a, patient_a, page):
    response = api.get(patients_url(clinic_a), {"page": page})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page"]


def test_a_page_past_the_end_is_not_found(api, clinic_a, patient_a):
    assert api.get(patients_url(clinic_a), {"page": "1"}).status_code == 200
    response = api.get(patients_url(clinic_a), {"page": "2"})
    assert response.status_code == 404
    assert response.json()["message"] == "No such page."


def test_a_form_encoded_body_is_refused_as_unsupported(api, clinic_a):
    fields = {"mrn": "API-1", "first_name": "Ida", "last_name": "Wells", "date_of_birth": "1962-07-16"}
    assert api.post(patients_url(clinic_a), fields).status_code == 415  # multipart/form-data
    form = "mrn=API-1&first_name=Ida&last_name=Wells&date_of_birth=1962-07-16"
    assert api.post(patients_url(clinic_a), form, content_type="application/x-www-form-urlencoded").status_code == 415
    assert not Patient.objects.exists()


def test_the_schema_documents_json_bodies_and_pages_from_1(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    patients = schema["paths"]["/api/v1/clinics/{clinic_slug}/patients/"]
    assert list(patients["post"]["requestBody"]["content"]) == ["application/json"]
    page = next(parameter for parameter in patients["get"]["parameters"] if parameter["name"] == "page")
    assert page["schema"] == {"type": "integer", "minimum": 1}


def test_openapi_schema_documents_the_error_answers_in_the_error_shape(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    create = schema["paths"]["/api/v1/clinics/{clinic_slug}/patients/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "415"} <= set(create)
    assert create["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    fhir = schema["paths"]["/api/v1/clinics/{clinic_slug}/fhir/referral-bundles/"]["post"]["responses"]
    assert list(fhir["400"]["content"]) == ["application/fhir+json"]
    assert "patient" not in schema["components"]["schemas"]["Referral"]["required"]  # physicians do not get it
