"""A documentation packet: billing staff open it from the patient's chart, watch it go from queued to ready
without a reload (htmx polling a <progress>), and download the PDF the worker rendered."""

import pytest
from playwright.sync_api import expect

from billing.packets.models import PacketRequest
from tests.billing.test_packets import PERIOD, rehab_enrollment
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_billing_makes_a_packet_from_the_chart_and_downloads_it(page, celery_worker, shot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    clinic = make_clinic("alpha")
    billing = make_member(clinic, "billing")
    enrollment = rehab_enrollment(clinic)

    sign_in(page, billing.user.email)
    page.goto(f"/c/alpha/patients/{enrollment.patient_id}/")
    page.get_by_role("link", name="Documentation packet").click()
    page.get_by_label("Program enrollment").select_option(str(enrollment.pk))
    page.get_by_label("First date of service").fill(PERIOD["period_start"].isoformat())
    page.get_by_label("Last date of service").fill(PERIOD["period_end"].isoformat())
    shot(page, "1-form")
    page.get_by_role("button", name="Make the packet").click()

    row = page.locator("tr.packet-row")
    expect(row).to_have_count(1)
    page.evaluate("window.stillTheSamePage = true")
    expect(row).to_have_attribute("data-status", "ready", timeout=60_000)
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the row; the page never reloaded
    shot(page, "2-ready")

    with page.expect_download() as download:
        row.get_by_role("link", name="PDF").click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert PacketRequest.objects.get().attempts == 1
