"""Browsers and proxies keep no copy of pages and API answers that carry patient data."""

from django.test import Client
from django.urls import reverse

from clinic import services


def test_chart_page_is_not_stored_by_the_browser(team_a, clinic_a, patient_a):
    response = team_a["physiologist"].client.get(reverse("patient_detail", args=[clinic_a.slug, patient_a.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_physician_portal_is_not_stored_by_the_browser(team_a):
    response = team_a["physician"].client.get(reverse("portal_home"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_api_answers_are_not_stored(team_a, clinic_a, patient_a):
    _, raw = services.api_token_create(membership=team_a["physiologist"].membership, name="EHR interface")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    found = api.get(reverse("api-patient-detail", args=[clinic_a.slug, patient_a.pk]))
    missing = api.get(reverse("api-patient-detail", args=[clinic_a.slug, 999_999]))
    assert (found.status_code, missing.status_code) == (200, 404)
    assert found["Cache-Control"] == missing["Cache-Control"] == "no-store"


def test_static_files_keep_their_caching(settings, db):
    settings.WHITENOISE_USE_FINDERS = True  # serve static/ as `make run` does, without collectstatic
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
