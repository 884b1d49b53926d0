"""The CDC DPRP export in a real browser: billing staff request the file, the worker writes it while the page
polls, they read the validation report, accept it and download the file the reference says it should be."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from billing.models import DprpExport
from tests.billing.dprp_factories import small_cohort
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member

pytestmark = [pytest.mark.browser, BROWSER_DB]

EXPECTED = Path(__file__).resolve().parents[1] / "billing" / "data" / "dprp_small_cohort.csv"


def test_billing_staff_export_accept_the_report_and_download_the_file(page, celery_worker, shot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    clinic = make_clinic("alpha")
    billing = make_member(clinic, "billing")
    small_cohort(clinic)

    sign_in(page, billing.user.email)
    page.goto("/c/alpha/billing/dprp/")
    expect(page.get_by_text("positions unconfirmed")).to_be_visible()
    page.get_by_label("Program").select_option(label="Prevent T2")
    page.get_by_label("DPRP organization code").fill("ORG123")
    page.get_by_label("Sessions from").fill("2026-01-01")
    page.get_by_label("to", exact=True).fill("2026-07-31")
    shot(page, "1-form")
    page.get_by_role("button", name="Write the file").click()

    accept = page.get_by_role("button", name="Accept the report and allow the download")
    expect(accept).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Weight not recorded: written as 999.")).to_be_visible()
    shot(page, "2-report")
    accept.click()
    expect(page.get_by_text("Validation report accepted")).to_be_visible()
    shot(page, "3-accepted")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), "rb") as csv:
        assert csv.read() == EXPECTED.read_bytes()
    assert DprpExport.objects.get().accepted_by == billing
