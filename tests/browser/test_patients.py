"""Adding, finding and showing patients."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from clinic.models import Patient
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient

pytestmark = [pytest.mark.browser, BROWSER_DB]


def field(page, field_id):
    """The form row (label, input, help, errors) of one field."""
    return page.locator(".field", has=page.locator(f"#{field_id}"))


def test_physiologist_creates_a_patient_and_finds_it_by_search(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    make_patient(clinic, "A-001", first_name="Ada", last_name="Lovelace")
    sign_in(page, member.user.email)

    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Patients").click()
    page.wait_for_url(re.compile(r"/c/alpha/patients/$"))
    page.get_by_role("link", name="Add patient").click()
    page.wait_for_url(re.compile(r"/c/alpha/patients/new/$"))
    page.get_by_label("MRN").fill("A-777")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Date of birth").fill("1956-07-14")
    shot(page, "new-patient-form")
    page.get_by_role("button", name="Add patient").click()

    page.wait_for_url(re.compile(r"/c/alpha/patients/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hopper, Grace")
    expect(page.get_by_text("Added Grace Hopper.")).to_be_visible()
    expect(page.get_by_text("MRN A-777 · DOB 07/14/1956")).to_be_visible()
    shot(page, "chart")

    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Patients").click()
    page.wait_for_url(re.compile(r"/c/alpha/patients/$"))
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Lovelace, Ada")).to_be_visible()
    page.get_by_role("searchbox", name="Search").fill("hopp")

    expect(results.get_by_role("link", name="Lovelace, Ada")).to_have_count(0)
    row = results.get_by_role("row").filter(has=page.get_by_role("link", name="Hopper, Grace"))
    expect(row).to_contain_text("A-777")
    expect(row).to_contain_text("07/14/1956")
    expect(page).to_have_url(re.compile(r"/c/alpha/patients/\?.*q=hopp"))  # hx-push-url keeps the search
    shot(page, "search-results")


def test_invalid_patient_form_shows_field_errors_and_saves_nothing(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    patients_before = Patient.objects.count()
    next_year = (datetime.date.today() + datetime.timedelta(days=366)).isoformat()
    sign_in(page, member.user.email)

    page.goto("/c/alpha/patients/new/")
    page.get_by_label("MRN").fill("A-900")
    page.get_by_label("First name").fill("Future")
    page.get_by_label("Last name").fill("Person")
    page.get_by_label("Date of birth").fill(next_year)
    page.get_by_label("Medicare MBI").fill("12345")
    page.get_by_role("button", name="Add patient").click()

    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_have_text("Please correct the fields marked below. Nothing was saved.")
    expect(field(page, "id_date_of_birth")).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field(page, "id_date_of_birth").locator(".errorlist")).to_have_text("Date of birth cannot be in the future.")
    expect(field(page, "id_mbi")).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field(page, "id_mbi").locator(".errorlist")).to_contain_text("Enter a valid Medicare Beneficiary Identifier")
    # What was typed is kept, so the user only fixes the two fields.
    expect(page.get_by_label("Last name")).to_have_value("Person")
    expect(page.get_by_label("Date of birth")).to_have_value(next_year)
    expect(page).to_have_url(re.compile(r"/c/alpha/patients/new/$"))
    shot(page, "errors")
    assert Patient.objects.count() == patients_before


def test_patient_name_with_markup_is_shown_escaped(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    markup = "<script>alert(1)</script>"
    patient = make_patient(clinic, "X-001", first_name="Mallory", last_name=markup)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, member.user.email)

    page.goto("/c/alpha/patients/")
    link = page.locator("#results").get_by_role("link", name=f"{markup}, Mallory")
    expect(link).to_be_visible()
    shot(page, "list")

    link.click()
    page.wait_for_url(re.compile(rf"/c/alpha/patients/{patient.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{markup}, Mallory")
    expect(page).to_have_title(re.compile(re.escape(f"Mallory {markup}")))
    shot(page, "chart")

    injected = page.evaluate("() => [...document.scripts].filter(s => s.textContent.includes('alert(')).length")
    assert injected == 0
    assert dialogs == []
