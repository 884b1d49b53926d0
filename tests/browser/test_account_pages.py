"""allauth's account pages wear the site's layout, styles and page titles."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import PASSWORD, make_clinic, make_member

pytestmark = [pytest.mark.browser, BROWSER_DB]


def assert_site_page(page, title: str) -> None:
    expect(page).to_have_title(f"{title} · MedFit")
    expect(page.locator("header.topbar .brand")).to_have_text("MedFit")
    expect(page.locator("main.page.account-page form.form")).to_be_visible()
    # Every input the user sees has a label (a visible one, not just a placeholder).
    for input_id in page.locator("main input:not([type=hidden])").evaluate_all("els => els.map(e => e.id)"):
        expect(page.locator(f"label[for='{input_id}']")).to_be_visible()


def test_password_change_two_factor_and_reauthentication_use_the_site_layout(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    sign_in(page, member.user.email)

    page.goto("/accounts/password/change/")
    assert_site_page(page, "Change Password")
    shot(page, "password-change")

    page.goto("/accounts/2fa/")
    expect(page).to_have_title("Two-Factor Authentication · MedFit")
    expect(page.locator("main .panel").first).to_be_visible()
    shot(page, "mfa-index")

    page.goto("/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/")
    assert_site_page(page, "Confirm Access")
    shot(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    assert_site_page(page, "Activate Authenticator App")
    shot(page, "totp-activate")
