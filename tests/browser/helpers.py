"""Steps shared by the browser tests."""

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from playwright.sync_api import Page

from tests.conftest import PASSWORD

# The live server reads committed data, so browser tests run outside a test transaction.
BROWSER_DB = pytest.mark.django_db(transaction=True)


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the allauth form; return once the browser has left the login page."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def current_totp_code(secret: str) -> str:
    """The code an authenticator app shows now: the middle of allauth's accepted window."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
