"""Malformed input found by fuzzing is refused with a 400, never a 500 or a wrong answer."""

import pytest
from django.urls import reverse

from clinic.models import Role


@pytest.mark.parametrize("role", Role.values)
def test_a_nul_in_the_api_patient_search_is_refused_as_json_for_every_role(team_a, clinic_a, role):
    response = team_a[role].client.get(reverse("api-patient-list", args=[clinic_a.slug]), {"q": "\x00"})
    assert response.status_code == 400
    assert response.json() == {
        "message": "The request has invalid parameters.",
        "errors": {"q": ["Null characters are not allowed."]},
    }


def test_a_nul_in_a_query_parameters_name_is_refused_without_echoing_it(team_a, clinic_a):
    response = team_a["admin"].client.get(reverse("api-patient-list", args=[clinic_a.slug]) + "?q%00=x")
    assert response.status_code == 400
    assert response.json()["errors"] == {"q\\x00": ["Null characters are not allowed."]}


@pytest.mark.parametrize(
    "url_name, query",
    [
        ("patient_list", "q=Ar%00"),
        ("patient_list", "q=x&status=%00"),
        ("referral_queue", "q=%00"),
        ("audit_list", "q=%00"),
        ("patient_list", "page=%00"),
    ],
)
def test_a_nul_in_a_pages_query_string_is_a_bad_request_page(team_a, clinic_a, url_name, query):
    response = team_a["admin"].client.get(reverse(url_name, args=[clinic_a.slug]) + "?" + query)
    assert response.status_code == 400
    assert b"Bad request" in response.content


def test_a_nul_in_the_physician_portals_filters_is_a_bad_request_page(team_a):
    response = team_a["physician"].client.get(reverse("portal_home") + "?q=%00")
    assert response.status_code == 400


def nested(depth: int) -> str:
    """A JSON object whose first_name holds arrays nested so that the whole document is `depth` levels deep."""
    return '{"first_name": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("depth", [101, 1000, 100_000])
def test_json_nested_deeper_than_the_limit_is_refused_as_json(team_a, clinic_a, depth):
    response = team_a["admin"].client.post(
        reverse("api-patient-list", args=[clinic_a.slug]), nested(depth), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "JSON parse error - the document is nested deeper than 100 levels.",
        "errors": {},
    }


def test_json_nested_up_to_the_limit_reaches_the_serializer(team_a, clinic_a):
    response = team_a["admin"].client.post(
        reverse("api-patient-list", args=[clinic_a.slug]), nested(100), content_type="application/json"
    )
    assert response.status_code == 400
    assert "first_name" in response.json()["errors"]
