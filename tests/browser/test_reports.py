"""The on-demand progress report: a physiologist asks for it on the chart, watches it go from queued to
ready without a reload (htmx polling), and downloads the PDF the reports worker rendered."""

from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from outcomes.reports.models import ReportRequest
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member
from tests.outcomes.report_helpers import cr_patient

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_physiologist_generates_a_report_and_downloads_it_without_reloading(page, celery_worker, shot, settings,
                                                                            tmp_path):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path / "private"
    clinic = make_clinic("alpha")
    # cr_patient reads personas' .membership and .clinic; the browser signs in itself.
    team = {role: SimpleNamespace(membership=make_member(clinic, role), clinic=clinic)
            for role in ("admin", "physiologist", "physician")}  # fmt: skip
    patient, _ = cr_patient(team)

    sign_in(page, team["physiologist"].membership.user.email)
    page.goto(f"/c/alpha/patients/{patient.pk}/")
    panel = page.locator("#patient-reports")
    expect(panel.get_by_text("No progress reports yet.")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    panel.get_by_text("Generate progress report").click()
    expect(panel.get_by_label("From")).not_to_have_value("")  # the last 30 days by default
    panel.get_by_label("Comment for the physician").fill("Ready for the interim walk test.")
    panel.get_by_role("button", name="Generate report").click()

    row = panel.locator("li.report-row")
    expect(row).to_have_count(1)
    shot(page, "1-requested")
    expect(row).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(row.get_by_text("Ready")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the row; the page never reloaded
    shot(page, "2-ready")

    with page.expect_download() as download:
        row.get_by_role("link", name="Download PDF").click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename.endswith(".pdf")
    assert ReportRequest.objects.get().comment == "Ready for the interim walk test."
