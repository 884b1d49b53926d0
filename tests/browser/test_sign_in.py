"""Signing in, and the MFA set-up a clinic can require."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB, current_totp_code, sign_in
from tests.conftest import PASSWORD, make_clinic, make_member

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_member_signs_in_and_lands_on_their_clinic_home(page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")

    page.goto("/accounts/login/")
    shot(page, "login")
    page.locator("input[name=login]").fill(admin.user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    page.wait_for_url(re.compile(r"/c/alpha/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha Clinic")
    expect(page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Patients")).to_be_visible()
    shot(page, "clinic-home")


def test_member_of_mfa_clinic_is_sent_to_set_up_totp_and_can_then_work(page, shot, settings):
    # One 30-second step either side, so a code computed just before a step boundary still counts.
    settings.MFA_TOTP_TOLERANCE = 1
    clinic = make_clinic("secure")
    clinic.mfa_required = True
    clinic.save()
    member = make_member(clinic, "physiologist")

    sign_in(page, member.user.email)

    # allauth (MFA_REAUTHENTICATION_REQUIRED, default on) does not count the sign-in a moment ago as a
    # recent authentication, so the password is asked for a second time before TOTP set-up.
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/\?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F$"))
    expect(page.get_by_text("Your clinic requires two-factor authentication")).to_be_visible()
    shot(page, "reauthenticate")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    shot(page, "totp-activate")

    page.locator("input[name=code]").fill(current_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(lambda url: "/accounts/2fa/totp/activate/" not in url)
    expect(page.get_by_text("Authenticator app activated.")).to_be_visible()
    shot(page, "after-activation")

    page.goto(f"/c/{clinic.slug}/patients/")
    page.wait_for_url(re.compile(rf"/c/{clinic.slug}/patients/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    shot(page, "patients")
