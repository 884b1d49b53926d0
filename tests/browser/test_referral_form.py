"""The staff referral form in a browser: the program's own sections swap in place, typed values stay; the
provider list is searchable and a new provider is added without leaving the form; without JavaScript the
"Show this program's fields" button does the swap."""

import datetime
import re

import pytest
from playwright.sync_api import Page, expect

from referrals.models import Referral
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_program, make_provider

pytestmark = [pytest.mark.browser, BROWSER_DB]

VALID_NPI = "1245319599"


@pytest.fixture
def alpha():
    clinic = make_clinic("alpha")
    make_program(clinic, "cr", name="Phase II Cardiac Rehab")
    make_program(clinic, "dpp", name="Diabetes Prevention")
    make_provider(clinic, first_name="Helen", last_name="Park", credentials="MD", practice_name="Valley Cardiology")
    make_provider(clinic, first_name="Ines", last_name="Ortega", credentials="DO", npi=VALID_NPI,
                  practice_name="Riverside Family Medicine")  # fmt: skip
    make_provider(clinic, first_name="Samuel", last_name="Osei", credentials="NP", practice_name="Lakeside Clinic")
    return clinic


@pytest.fixture
def no_js_page(browser, live_server):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}, base_url=live_server.url
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def open_new_referral(page: Page, clinic) -> None:
    sign_in(page, make_member(clinic, "physiologist").user.email)
    page.goto(f"/c/{clinic.slug}/referrals/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter a referral")


def fill_patient(page: Page) -> None:
    page.get_by_label("First name", exact=True).fill("Grace")
    page.get_by_label("Last name", exact=True).fill("Hopper")
    page.get_by_label("Date of birth").fill("1946-12-09")


def test_the_sections_follow_the_program_and_typed_values_stay(page, alpha, shot):
    open_new_referral(page, alpha)
    expect(page.get_by_role("button", name="Show this program's fields")).to_have_count(0)
    expect(page.get_by_text("Choose the program: the clinical fields it needs appear here.")).to_be_visible()
    expect(page.get_by_label("LVEF (%)")).to_have_count(0)
    page.get_by_label("Referring provider").select_option(label="Helen Park, MD · Valley Cardiology")
    fill_patient(page)

    page.get_by_label("Program").select_option(label="Phase II Cardiac Rehab")
    cardiac = page.get_by_role("group", name="Cardiac qualifying event")
    expect(cardiac).to_be_visible()
    expect(page.get_by_label("Qualifying condition")).to_have_attribute("required", "")
    page.get_by_label("Qualifying condition").select_option(label="Stable chronic heart failure")
    page.get_by_label("LVEF (%)").fill("30")
    page.get_by_label("NYHA class").fill("3")
    page.get_by_label("Cleared for exercise").select_option(label="Yes")
    expect(page.get_by_label("HbA1c (%)")).to_have_count(0)
    shot(page, "cardiac")

    page.get_by_label("Program").select_option(label="Diabetes Prevention")
    expect(page.get_by_role("group", name="Diabetes prevention")).to_be_visible()
    expect(cardiac).to_have_count(0)
    expect(page.get_by_label("LVEF (%)")).to_have_count(0)
    expect(page.get_by_label("First name", exact=True)).to_have_value("Grace")
    expect(page.get_by_label("Cleared for exercise")).to_have_value("true")
    page.get_by_label("HbA1c (%)").fill("6.1")
    shot(page, "dpp")

    page.get_by_label("Program").select_option(label="Phase II Cardiac Rehab")
    expect(page.get_by_label("LVEF (%)")).to_have_value("30")
    expect(page.get_by_label("Qualifying condition")).to_have_value("heart_failure")
    page.get_by_role("button", name="Save referral").click()

    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    referral = Referral.objects.get()
    assert (referral.program.name, referral.lvef_percent, referral.nyha_class) == ("Phase II Cardiac Rehab", 30, 3)
    assert referral.a1c_percent is None  # typed for another program, never saved


def test_a_provider_is_found_by_npi_or_practice(page, alpha):
    open_new_referral(page, alpha)
    search = page.get_by_label("Find a provider")
    providers = page.get_by_label("Referring provider")

    search.fill(VALID_NPI)
    expect(providers).to_have_value(str(alpha.referring_providers.get(npi=VALID_NPI).pk))
    expect(page.get_by_text("1 of 3 providers")).to_be_visible()

    search.fill("cardiology")
    expect(providers.locator("option")).to_have_text(["Choose a provider…", "Helen Park, MD · Valley Cardiology"])
    search.fill("")
    expect(providers.locator("option")).to_have_count(4)


def test_a_new_provider_is_added_without_leaving_the_form(page, alpha, shot):
    open_new_referral(page, alpha)
    page.get_by_label("Program").select_option(label="Diabetes Prevention")
    fill_patient(page)
    page.get_by_text("Not in the list? Add a new referring provider").click()
    page.get_by_label("Provider's first name").fill("Amara")
    page.get_by_label("Provider's last name").fill("Nwosu")
    page.get_by_label("Credentials").fill("MD")
    page.get_by_label("NPI").fill("1234567890")  # wrong check digit
    page.get_by_label("Practice").fill("Northside Endocrinology")
    page.get_by_label("Provider's fax").fill("555-0199")
    page.get_by_role("button", name="Save referral").click()

    expect(page.get_by_text("Enter a valid 10-digit NPI")).to_be_visible()
    expect(page.get_by_label("Provider's last name")).to_have_value("Nwosu")
    shot(page, "npi-refused")
    page.get_by_label("NPI").fill("1234567893")
    page.get_by_role("button", name="Save referral").click()

    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    expect(page.get_by_text("referred by Amara Nwosu, MD")).to_be_visible()
    assert Referral.objects.get().referring_provider.practice_name == "Northside Endocrinology"


def test_a_failed_submit_names_the_chosen_file(page, alpha, tmp_path):
    document = tmp_path / "fax-from-dr-park.pdf"
    document.write_bytes(b"%PDF-1.4\n%%EOF")
    open_new_referral(page, alpha)
    page.get_by_label("Attachment").set_input_files(str(document))
    page.get_by_role("button", name="Save referral").click()
    expect(page.get_by_text("You chose fax-from-dr-park.pdf; please attach it again.")).to_be_visible()


def test_without_javascript_the_button_shows_the_programs_sections(no_js_page, alpha, shot):
    page = no_js_page
    open_new_referral(page, alpha)
    page.get_by_label("Referring provider").select_option(label="Helen Park, MD · Valley Cardiology")
    fill_patient(page)
    page.get_by_label("Program").select_option(label="Phase II Cardiac Rehab")
    page.get_by_role("button", name="Show this program's fields").click()

    expect(page.get_by_text("The fields for Phase II Cardiac Rehab are shown. Nothing is saved yet")).to_be_visible()
    expect(page.get_by_label("Last name", exact=True)).to_have_value("Hopper")
    page.get_by_label("Qualifying condition").select_option(label="Acute myocardial infarction")
    page.get_by_label("Qualifying event date").fill((datetime.date.today() - datetime.timedelta(days=30)).isoformat())
    shot(page, "cardiac")
    page.get_by_role("button", name="Save referral").click()

    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    assert Referral.objects.get().qualifying_condition == "mi"
