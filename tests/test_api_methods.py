"""Every API endpoint answers methods in the same order (clinic.api.ClinicScoped): a caller who is not a member
of the clinic gets 404 whatever the method; a member gets 405 with Allow for a method the endpoint does not have,
and 200 with the endpoint's metadata for OPTIONS.

The tests walk the URL conf, so an endpoint added later is held to the same rules without being listed here.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from clinic import services
from clinic.models import Role
from tests.api_objects import api_objects
from tests.conftest import make_clinic, make_patient, personas, rows_shared_by_the_module

API_PREFIX = "api/v1/clinics/"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def walk(patterns, route="", kwargs=()):
    for pattern in patterns:
        names = (*kwargs, *pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route + str(pattern.pattern), names)
        elif isinstance(pattern, URLPattern) and (route + str(pattern.pattern)).startswith(API_PREFIX):
            yield route + str(pattern.pattern), pattern, names


def methods_of(callback) -> set[str]:
    """The methods an endpoint has, as its Allow header names them."""
    if hasattr(callback, "actions"):  # a viewset's route: method -> action
        methods = {method.upper() for method in callback.actions}
    else:
        view = callback.view_class
        methods = {method.upper() for method in view.http_method_names if hasattr(view, method)}
    if "GET" in methods:
        methods.add("HEAD")
    return methods | {"OPTIONS"}


def schema_path(route: str) -> str:
    """api/v1/clinics/<slug:clinic_slug>/^patients/(?P<patient_id>[^/.]+)/$ -> /api/v1/clinics/{clinic_slug}/…"""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("^", "").replace("$", "")


ENDPOINTS = [
    pytest.param(pattern.name, names, methods_of(pattern.callback), schema_path(route), id=schema_path(route))
    for route, pattern, names in walk(get_resolver().url_patterns)
]


def allowed(response) -> set[str]:
    return {method.strip() for method in response["Allow"].split(",")}


@pytest.fixture(scope="module")
def clinics(django_db_setup, django_db_blocker):
    """Both clinics' personas and clinic A's objects, built once for the module (the walk reads them, and each
    test's tokens roll back with it): the set-up took longer than the requests."""
    with rows_shared_by_the_module(django_db_blocker):
        team_a, team_b = personas(make_clinic("alpha")), personas(make_clinic("bravo"))
        patient_a = make_patient(team_a["admin"].clinic, "A-100", first_name="Alice", last_name="Archer")
        yield team_a, team_b, api_objects(team_a, patient_a)


@pytest.fixture
def team_a(clinics, db):
    return clinics[0]


@pytest.fixture
def team_b(clinics, db):
    return clinics[1]


@pytest.fixture
def ids(clinics, db):
    """Real ids of clinic A, each visible to every role that may see it (the physician referred the patient)."""
    return clinics[2]


def url_of(name, names, ids, **changes) -> str:
    return reverse(name, kwargs={key: {**ids, **changes}[key] for key in names})


def token_client(persona) -> Client:
    _, raw = services.api_token_create(membership=persona.membership, name="x")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def send(client, method, path):
    return client.generic(method, path, "{}", content_type="application/json")


def test_the_walk_finds_the_api():
    names = {param.values[0] for param in ENDPOINTS}
    assert {"api-patient-list", "api-referral-accept", "api-fhir-referral-intake"} <= names


def test_every_endpoint_is_in_the_schema_with_the_methods_it_has(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    documented = {path: {method.upper() for method in paths[path]} - {"PARAMETERS"} for path in paths}
    for param in ENDPOINTS:
        _, _, methods, path = param.values
        # HEAD and OPTIONS are the framework's, on every endpoint: OpenAPI documents leave them out.
        assert documented.get(path) == methods - {"HEAD", "OPTIONS"}, path


@pytest.mark.parametrize("name, names, methods, path", ENDPOINTS)
def test_a_non_member_gets_404_for_every_method_as_for_a_clinic_that_does_not_exist(
    name, names, methods, path, ids, team_b
):
    outsider = team_b["admin"]  # every permission, in another clinic
    for auth, client in {"token": token_client(outsider), "session": outsider.client}.items():
        for method in METHODS:
            response = send(client, method, url_of(name, names, ids))
            nowhere = send(client, method, url_of(name, names, ids, clinic_slug="nowhere"))
            assert response.status_code == 404, (auth, method)
            assert "Allow" not in response, (auth, method)
            assert response.content == nowhere.content, (auth, method)


@pytest.mark.parametrize("name, names, methods, path", ENDPOINTS)
def test_a_member_gets_405_with_allow_for_a_method_the_endpoint_does_not_have(name, names, methods, path, ids, team_a):
    for role in Role.values:
        client = token_client(team_a[role])
        for method in set(METHODS) - methods:
            response = send(client, method, url_of(name, names, ids))
            assert response.status_code == 405, (role, method)
            assert allowed(response) == methods, (role, method)


@pytest.mark.parametrize("name, names, methods, path", ENDPOINTS)
def test_options_tells_every_member_the_endpoints_methods(name, names, methods, path, ids, team_a):
    for role in Role.values:
        response = send(token_client(team_a[role]), "OPTIONS", url_of(name, names, ids))
        assert response.status_code == 200, role
        assert allowed(response) == methods, role
        assert response.json()["parses"], role


def test_options_describes_only_the_writes_the_members_role_may_make(ids, team_a):
    path = reverse("api-program-list", kwargs={"clinic_slug": ids["clinic_slug"]})
    admin = send(token_client(team_a["admin"]), "OPTIONS", path).json()
    physiologist = send(token_client(team_a["physiologist"]), "OPTIONS", path).json()
    assert "program_type" in admin["actions"]["POST"]
    assert "actions" not in physiologist  # physiologists see the programs; only admins set them up


def test_options_describes_a_referral_to_a_physician_as_the_physician_may_send_and_see_it(ids, team_a):
    path = reverse("api-referral-list", kwargs={"clinic_slug": ids["clinic_slug"]})
    fields = send(token_client(team_a["physician"]), "OPTIONS", path).json()["actions"]["POST"]
    assert fields["referring_provider"]["required"] is False  # physicians refer as themselves
    assert "patient" not in fields and "possible_duplicate" not in fields


@pytest.mark.parametrize("method", METHODS)
def test_an_anonymous_request_is_unauthorized_whatever_the_method(method, ids, client):
    path = reverse("api-fhir-referral-intake", kwargs={"clinic_slug": ids["clinic_slug"]})
    assert send(client, method, path).status_code == 401


@pytest.mark.parametrize("name, names, methods, path", [p.values for p in ENDPOINTS if len(p.values[1]) > 1])
def test_a_path_id_that_is_not_a_number_is_not_found(team_a, ids, name, names, methods, path):
    """`/patients/abc/` is a 404 like an id that does not exist, never a 500."""
    last = [key for key in names if key != "clinic_slug"][-1]
    real = url_of(name, names, ids)
    marker = f"/{ids[last]}/"
    url = real[::-1].replace(marker[::-1], "/cba/", 1)[::-1]  # the last occurrence of the id
    method = "GET" if "GET" in methods else "POST"
    assert send(token_client(team_a["admin"]), method, url).status_code == 404
