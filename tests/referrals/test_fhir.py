"""FHIR referral intake: a Bundle (Patient + ServiceRequest + Practitioner) becomes a referral, or a 400
OperationOutcome naming every problem, with nothing saved."""

import copy
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from clinic import services as clinic_services
from clinic.models import Patient, Program
from referrals import fhir
from referrals.models import Referral, ReferringProvider
from tests.conftest import make_member, make_patient, run_at_once

VALID_NPI = "1234567893"
PATIENT_URL = "urn:uuid:8d3f2c1e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"
PRACTITIONER_URL = "urn:uuid:1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"

BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": PATIENT_URL,
            "resource": {
                "resourceType": "Patient",
                "name": [{"family": "Rivera", "given": ["Maria"]}],
                "gender": "female",
                "birthDate": "1958-04-17",
                "telecom": [{"system": "phone", "value": "555-0142"}],
            },
        },
        {
            "fullUrl": PRACTITIONER_URL,
            "resource": {
                "resourceType": "Practitioner",
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": VALID_NPI}],
                "name": [{"family": "Okafor", "given": ["James"], "suffix": ["MD"]}],
            },
        },
        {
            "fullUrl": "urn:uuid:0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c7d",
            "resource": {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "priority": "urgent",
                "code": {"coding": [{"system": fhir.PROGRAM_TYPE_SYSTEM, "code": "cr"}]},
                "subject": {"reference": PATIENT_URL},
                "requester": {"reference": PRACTITIONER_URL},
                "authoredOn": "2025-03-02",
                "reasonCode": [{"coding": [{"system": fhir.ICD10_CM_SYSTEM, "code": "I21.4"}]}],
                "note": [{"text": "NSTEMI, PCI to LAD."}],
            },
        },
    ],
}
PATIENT, PRACTITIONER, REQUEST = 0, 1, 2


def bundle() -> dict:
    return copy.deepcopy(BUNDLE)


def resource(body: dict, position: int) -> dict:
    return body["entry"][position]["resource"]


def with_mrn(body: dict, mrn: str) -> dict:
    resource(body, PATIENT)["identifier"] = [
        {"type": {"coding": [{"system": fhir.V2_0203_SYSTEM, "code": "MR"}]}, "value": mrn}
    ]
    return body


@pytest.fixture
def cardiac_program(clinic_a):
    return Program.objects.create(clinic=clinic_a, name="Phase II Cardiac Rehab", program_type="cr")


@pytest.fixture
def api(team_a, cardiac_program):
    _, raw = clinic_services.api_token_create(membership=team_a["physiologist"].membership, name="EHR interface")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def intake_url(clinic):
    return reverse("api-fhir-referral-intake", args=[clinic.slug])


def post(client, clinic, body):
    return client.post(intake_url(clinic), json.dumps(body), content_type="application/json")


def counts():
    return Referral.objects.count(), Patient.objects.count(), ReferringProvider.objects.count()


def issues_of(response) -> list[dict]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def expressions_of(response) -> set[str]:
    return {expression for issue in issues_of(response) for expression in issue["expression"]}


# --- Accepted bundles -------------------------------------------------------------------------------------


def test_a_valid_bundle_creates_a_received_referral_from_the_fhir_interface(api, clinic_a, cardiac_program):
    response = post(api, clinic_a, bundle())
    referral = Referral.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == referral.pk
    assert (referral.clinic, referral.status, referral.source) == (clinic_a, "received", "fhir")
    assert referral.program == cardiac_program


def test_a_valid_bundle_carries_the_clinical_details_into_the_referral(api, clinic_a):
    post(api, clinic_a, bundle())
    referral = Referral.objects.get()
    assert referral.diagnosis_codes == ["I21.4"]
    assert referral.urgency == "urgent"
    assert str(referral.referral_date) == "2025-03-02"
    assert referral.reason == "NSTEMI, PCI to LAD."


def test_a_valid_bundle_creates_the_referring_provider_from_the_practitioner(api, clinic_a):
    post(api, clinic_a, bundle())
    provider = ReferringProvider.objects.get()
    assert (provider.clinic, provider.npi, provider.first_name, provider.last_name) == (
        clinic_a, VALID_NPI, "James", "Okafor"
    )  # fmt: skip
    assert Referral.objects.get().referring_provider == provider


def test_a_known_npi_reuses_the_clinics_referring_provider(api, clinic_a):
    known = ReferringProvider.objects.create(clinic=clinic_a, first_name="Jim", last_name="Okafor", npi=VALID_NPI)
    post(api, clinic_a, bundle())
    assert ReferringProvider.objects.count() == 1
    assert Referral.objects.get().referring_provider == known


def test_a_valid_bundle_for_an_unknown_patient_creates_the_patient(api, clinic_a):
    response = post(api, clinic_a, bundle())
    patient = Patient.objects.get()
    assert response.json()["patient"] == patient.pk
    assert (patient.clinic, patient.first_name, patient.last_name, str(patient.date_of_birth)) == (
        clinic_a, "Maria", "Rivera", "1958-04-17"
    )  # fmt: skip
    assert (patient.sex, patient.phone) == ("F", "555-0142")


def test_the_example_in_the_module_documentation_is_accepted(api, clinic_a):
    example = json.loads(re.search(r"```json\n(.*?)\n```", fhir.__doc__, re.DOTALL).group(1))
    response = post(api, clinic_a, example)
    assert response.status_code == 201, response.json()


def test_a_patient_with_the_same_name_and_birth_date_is_flagged_not_created(api, clinic_a):
    make_patient(clinic_a, "A-7", first_name="Maria", last_name="Rivera", date_of_birth="1958-04-17")
    response = post(api, clinic_a, bundle())
    assert response.status_code == 201
    assert (response.json()["patient"], response.json()["possible_duplicate"]) == (None, True)
    assert Patient.objects.count() == 1


def test_an_existing_mrn_with_the_same_name_and_birth_date_links_the_existing_patient(api, clinic_a):
    existing = make_patient(clinic_a, "H-204518", first_name="Maria", last_name="Rivera", date_of_birth="1958-04-17")
    response = post(api, clinic_a, with_mrn(bundle(), "H-204518"))
    assert response.json()["patient"] == existing.pk
    assert Referral.objects.get().patient == existing
    assert Patient.objects.count() == 1


def test_an_existing_mrn_under_another_name_is_flagged_not_linked(api, clinic_a):
    make_patient(clinic_a, "H-204518", first_name="Someone", last_name="Else", date_of_birth="1958-04-17")
    response = post(api, clinic_a, with_mrn(bundle(), "H-204518"))
    assert (response.json()["patient"], response.json()["possible_duplicate"]) == (None, True)


def test_the_subject_may_reference_the_patient_by_type_and_id(api, clinic_a):
    body = bundle()
    resource(body, PATIENT)["id"] = "pat-1"
    resource(body, REQUEST)["subject"] = {"reference": "Patient/pat-1"}
    assert post(api, clinic_a, body).status_code == 201


# --- Refused bundles -----------------------------------------------------------------------------------------


def test_a_bundle_without_the_service_request_subject_is_refused_naming_the_field(api, clinic_a):
    body = bundle()
    del resource(body, REQUEST)["subject"]
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/fhir+json")
    [issue] = issues_of(response)
    assert issue["expression"] == ["Bundle.entry[2].resource.subject"]
    assert issue["diagnostics"] == "ServiceRequest.subject: Field required"
    assert (issue["severity"], issue["code"]) == ("error", "required")


def test_a_refused_bundle_saves_nothing(api, clinic_a):
    body = bundle()
    del resource(body, REQUEST)["subject"]
    before = counts()
    post(api, clinic_a, body)
    assert counts() == before


def test_a_patient_without_a_birth_date_is_refused_with_a_readable_issue(api, clinic_a):
    body = bundle()
    del resource(body, PATIENT)["birthDate"]
    response = post(api, clinic_a, body)
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert issue["expression"] == ["Bundle.entry[0].resource.birthDate"]
    assert issue["diagnostics"].startswith("Patient.birthDate: the date of birth is required")


def test_a_birth_date_in_the_future_is_refused(api, clinic_a):
    body = bundle()
    resource(body, PATIENT)["birthDate"] = "2999-01-01"
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert "in the future" in issues_of(response)[0]["diagnostics"]


def test_a_malformed_birth_date_is_reported_once(api, clinic_a):
    body = bundle()
    resource(body, PATIENT)["birthDate"] = "17/04/1958"
    response = post(api, clinic_a, body)
    assert [issue["expression"] for issue in issues_of(response)] == [["Bundle.entry[0].resource.birthDate"]]


def test_an_invalid_icd10_code_is_refused(api, clinic_a):
    body = bundle()
    resource(body, REQUEST)["reasonCode"][0]["coding"][0]["code"] = "XYZ-1"
    response = post(api, clinic_a, body)
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert issue["expression"] == ["Bundle.entry[2].resource.reasonCode[0].coding[0].code"]
    assert "not an ICD-10-CM code" in issue["diagnostics"]
    assert not Referral.objects.exists()


def test_an_icd10_code_sent_without_its_dot_is_stored_with_it(api, clinic_a):
    body = bundle()
    resource(body, REQUEST)["reasonCode"][0]["coding"][0]["code"] = "i214"
    post(api, clinic_a, body)
    assert Referral.objects.get().diagnosis_codes == ["I21.4"]


def test_an_invalid_npi_is_refused_and_no_provider_is_created(api, clinic_a):
    body = bundle()
    resource(body, PRACTITIONER)["identifier"][0]["value"] = "1234567890"
    response = post(api, clinic_a, body)
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert issue["expression"] == ["Bundle.entry[1].resource.identifier[0].value"]
    assert "not a valid NPI" in issue["diagnostics"]
    assert not ReferringProvider.objects.exists()


def test_a_missing_requester_is_required(api, clinic_a):
    body = bundle()
    del resource(body, REQUEST)["requester"]
    [issue] = issues_of(post(api, clinic_a, body))
    assert (issue["code"], issue["expression"]) == ("required", ["Bundle.entry[2].resource.requester"])


def test_a_program_type_the_clinic_has_no_active_program_of_is_not_found(api, clinic_a):
    body = bundle()
    resource(body, REQUEST)["code"]["coding"][0]["code"] = "pr"
    response = post(api, clinic_a, body)
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert issue["code"] == "not-found"
    assert issue["diagnostics"].endswith("Alpha Clinic has no active pulmonary rehab program.")


def test_an_inactive_program_is_not_chosen(api, clinic_a, cardiac_program):
    Program.objects.filter(pk=cardiac_program.pk).update(is_active=False)
    [issue] = issues_of(post(api, clinic_a, bundle()))
    assert issue["code"] == "not-found"
    assert "no active cardiac rehab program" in issue["diagnostics"]


def test_a_program_code_that_is_not_a_medfit_program_type_is_refused(api, clinic_a):
    body = bundle()
    resource(body, REQUEST)["code"]["coding"][0]["code"] = "yoga"
    [issue] = issues_of(post(api, clinic_a, body))
    assert (issue["code"], issue["expression"]) == ("value", ["Bundle.entry[2].resource.code.coding[0].code"])


def test_a_service_request_without_a_program_coding_is_refused(api, clinic_a):
    body = bundle()
    del resource(body, REQUEST)["code"]
    [issue] = issues_of(post(api, clinic_a, body))
    assert (issue["code"], issue["expression"]) == ("required", ["Bundle.entry[2].resource.code"])


def test_a_body_that_is_not_a_bundle_is_refused(api, clinic_a):
    response = post(api, clinic_a, resource(bundle(), PATIENT))
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert (issue["code"], issue["expression"]) == ("structure", ["Bundle"])


def test_a_bundle_with_two_patients_is_refused(api, clinic_a):
    body = bundle()
    body["entry"].append(copy.deepcopy(body["entry"][PATIENT]))
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert "exactly one Patient" in issues_of(response)[0]["diagnostics"]


def test_several_problems_are_all_reported_at_once(api, clinic_a):
    body = bundle()
    del resource(body, REQUEST)["subject"]
    del resource(body, PATIENT)["birthDate"]
    resource(body, REQUEST)["reasonCode"][0]["coding"][0]["code"] = "nope"
    resource(body, PRACTITIONER)["identifier"][0]["value"] = "1234567890"
    resource(body, REQUEST)["status"] = "completed"
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert expressions_of(response) == {
        "Bundle.entry[0].resource.birthDate",
        "Bundle.entry[1].resource.identifier[0].value",
        "Bundle.entry[2].resource.subject",
        "Bundle.entry[2].resource.status",
        "Bundle.entry[2].resource.reasonCode[0].coding[0].code",
    }


def test_a_service_error_rolls_back_the_provider_created_for_the_referral(api, clinic_a):
    body = bundle()
    resource(body, PATIENT)["telecom"] = [{"system": "email", "value": "not-an-email"}]
    response = post(api, clinic_a, body)
    [issue] = issues_of(response)
    assert response.status_code == 400
    assert issue["expression"] == ["Bundle.entry[0].resource.telecom[0].value"]
    assert counts() == (0, 0, 0)


# --- Who may send --------------------------------------------------------------------------------------------


def test_another_clinics_slug_is_not_found(api, clinic_b):
    assert post(api, clinic_b, bundle()).status_code == 404
    assert not Referral.objects.exists()


def test_an_anonymous_request_is_unauthorized(client, clinic_a):
    assert post(client, clinic_a, bundle()).status_code == 401


def test_a_billing_members_token_cannot_create_referrals(team_a, clinic_a, cardiac_program):
    _, raw = clinic_services.api_token_create(membership=team_a["billing"].membership, name="Billing export")
    response = post(Client(headers={"Authorization": f"Bearer {raw}"}), clinic_a, bundle())
    assert response.status_code == 404
    assert not Referral.objects.exists()


# --- Malformed requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("authored_on", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_an_authored_on_at_the_edge_of_the_calendar_is_refused_naming_the_field(api, clinic_a, authored_on):
    body = bundle()
    resource(body, REQUEST)["authoredOn"] = authored_on
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert expressions_of(response) == {"Bundle.entry[2].resource.authoredOn"}
    assert "in the years 1 to 9999" in issues_of(response)[0]["diagnostics"]
    assert counts() == (0, 0, 0)


def refusal_of(response) -> str:
    """The one issue of a refused request, which must be an OperationOutcome served as FHIR JSON."""
    assert response["Content-Type"] == "application/fhir+json"
    (issue,) = issues_of(response)
    assert issue["severity"] == "error"
    return issue["code"]


@pytest.mark.parametrize(
    "raw",
    [b'{"resourceType": "Bundle",', b'{"resourceType": "Bundle\xff"}', b"[" * 101 + b"]" * 101, b"[" * 5000],
    ids=["unparsable", "invalid utf-8", "nested too deep", "nested far too deep"],
)
def test_a_body_that_is_not_acceptable_json_is_refused_as_an_operation_outcome(api, clinic_a, raw):
    response = api.post(intake_url(clinic_a), raw, content_type="application/fhir+json")
    assert response.status_code == 400
    assert refusal_of(response) == "structure"


def test_a_nul_in_a_bundle_is_refused_as_an_operation_outcome_and_saves_nothing(api, clinic_a):
    body = bundle()
    resource(body, PATIENT)["name"] = [{"family": "Ri\x00vera", "given": ["Maria"]}]
    response = post(api, clinic_a, body)
    assert response.status_code == 400
    assert refusal_of(response) == "structure"
    assert counts() == (0, 0, 0)


def test_a_body_that_is_not_json_is_refused_as_unsupported_media_type(api, clinic_a):
    response = api.post(intake_url(clinic_a), "<Bundle/>", content_type="application/fhir+xml")
    assert response.status_code == 415
    assert refusal_of(response) == "not-supported"


def test_an_oversized_body_is_refused_as_too_large(api, clinic_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = bundle()
    resource(body, REQUEST)["note"] = [{"text": "x" * 2000}]
    response = post(api, clinic_a, body)
    assert response.status_code == 413
    assert refusal_of(response) == "too-costly"


def test_an_anonymous_request_is_refused_as_an_operation_outcome(client, clinic_a):
    response = post(client, clinic_a, bundle())
    assert response.status_code == 401
    assert refusal_of(response) == "login"


def test_an_unsupported_method_is_refused_as_an_operation_outcome(api, clinic_a):
    response = api.put(intake_url(clinic_a), json.dumps(bundle()), content_type="application/fhir+json")
    assert response.status_code == 405
    assert refusal_of(response) == "not-supported"


# --- The same order posted again ----------------------------------------------------------------------------


def with_order_identifier(body: dict, value: str = "ORD-1001") -> dict:
    resource(body, REQUEST)["identifier"] = [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": value}]
    return body


def test_a_bundle_posted_again_returns_the_referral_created_the_first_time(api, clinic_a):
    first = post(api, clinic_a, with_order_identifier(bundle()))
    again = post(api, clinic_a, with_order_identifier(bundle()))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert counts() == (1, 1, 1)


def test_another_order_identifier_creates_another_referral(api, clinic_a):
    post(api, clinic_a, with_order_identifier(bundle(), "ORD-1"))
    assert post(api, clinic_a, with_order_identifier(bundle(), "ORD-2")).status_code == 201
    assert Referral.objects.count() == 2


def test_bundles_without_an_order_identifier_each_create_a_referral(api, clinic_a):
    post(api, clinic_a, bundle())
    assert post(api, clinic_a, bundle()).status_code == 201
    assert Referral.objects.count() == 2


def test_the_same_order_identifier_in_another_clinic_is_another_referral(api, clinic_a, clinic_b):
    post(api, clinic_a, with_order_identifier(bundle()))
    Program.objects.create(clinic=clinic_b, name="Cardiac Rehab", program_type="cr")
    _, raw = clinic_services.api_token_create(membership=make_member(clinic_b, "physiologist"), name="Bravo interface")
    response = post(Client(headers={"Authorization": f"Bearer {raw}"}), clinic_b, with_order_identifier(bundle()))
    assert response.status_code == 201
    assert Referral.objects.filter(external_identifier="urn:oid:2.16.840.1.113883.19.5|ORD-1001").count() == 2


def test_the_same_bundle_posted_at_once_creates_one_referral(transactional_db, api, clinic_a):
    answers = []

    def send():
        answers.append(post(api, clinic_a, with_order_identifier(bundle())))

    run_at_once(send, times=4)
    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 201]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert counts() == (1, 1, 1)
