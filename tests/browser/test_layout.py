"""Layout: long content wraps instead of widening the page."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_referral

pytestmark = [pytest.mark.browser, BROWSER_DB]

# 200 characters without a space: the longest name the form accepts (100 + 100), and an address.
LONG_LAST = "W" * 100
LONG_FIRST = "M" * 100
LONG_ADDRESS = "Q" * 200


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("width", [1280, 768])
def test_a_very_long_unbroken_name_wraps_instead_of_widening_the_page(page, shot, width):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    patient = make_patient(
        clinic, "A-001", last_name=LONG_LAST, first_name=LONG_FIRST, address_line1=LONG_ADDRESS, city="X" * 100
    )
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, member.user.email)

    page.goto(f"/c/alpha/patients/{patient.pk}/")
    shot(page, f"chart-{width}")
    assert page_width(page) <= width

    page.goto("/c/alpha/patients/")
    shot(page, f"list-{width}")
    assert page_width(page) <= width


def test_the_header_stays_compact_on_a_phone(page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")  # the most menu items
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, admin.user.email)

    page.goto("/c/alpha/")
    shot(page, "phone-home")
    assert page_width(page) <= 390
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 100, header  # two rows: brand and account, then the navigation
    expect(page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Settings")).to_be_attached()


def test_a_failed_decline_keeps_the_chosen_status_and_shows_why(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    referral = make_referral(clinic, status="in_review")
    sign_in(page, member.user.email)

    page.goto(f"/c/alpha/referrals/{referral.pk}/")
    page.get_by_label("Change status").select_option("declined")
    page.get_by_role("button", name="Update status").click()

    page.wait_for_load_state()
    expect(page.get_by_label("Change status")).to_have_value("declined")
    expect(page.get_by_text("Give the reason for declining")).to_be_visible()
    shot(page, "decline-without-reason")
    page.get_by_label("Reason (required to decline)").fill("Moved out of state")
    page.get_by_role("button", name="Update status").click()
    expect(page.get_by_text("Referral marked declined.")).to_be_visible()
