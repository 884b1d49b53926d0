"""Billing staff see a line blocked for a missing plan signature; a physician signs the plan (password
re-entered); the worker derives the line again, it is ready, and billing staff export it as a batch."""

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from billing.claims import claim_lines_derive
from billing.models import ClaimBatch, ClaimLine, FeeScheduleEntry
from tests.billing.factories import add_session, covered_enrollment
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.clinic.treatment_plan_factories import make_plan
from tests.conftest import PASSWORD, clinic_today, link_physician, make_clinic, make_member, make_provider

pytestmark = [pytest.mark.browser, BROWSER_DB]


def status_badge(page, status: str):
    return page.locator("tbody .badge", has_text=status)


def reload_until_status(page, status: str, seconds: float = 30) -> None:
    """Reload until a line shows `status`: the worker derives the lines after the signature commits."""
    deadline = time.monotonic() + seconds
    while status_badge(page, status).count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    expect(status_badge(page, status)).to_be_visible()


def test_a_signature_makes_the_blocked_line_ready_and_billing_exports_it(new_page, celery_worker, shot):
    enrollment = covered_enrollment(make_clinic("alpha"), "cr", mrn="A-300", plans=False)
    clinic, patient = enrollment.clinic, enrollment.patient
    physiologist, physician = make_member(clinic, "physiologist"), make_member(clinic, "physician")
    billing = make_member(clinic, "billing")
    make_provider(clinic, membership=physician, credentials="MD")
    link_physician(patient, physician)
    FeeScheduleEntry.objects.create(clinic=clinic, code="93798", amount="120.00", effective_from="2020-01-01")
    physiologist.npi = "1234567893"
    physiologist.save(update_fields=["npi"])
    add_session(enrollment, clinic_today(clinic))
    make_plan(enrollment, physiologist)  # a draft: nothing covers the session yet
    claim_lines_derive(clinic=clinic)
    assert ClaimLine.objects.get().blockers[0]["code"] == "itp_missing"

    staff = new_page()
    sign_in(staff, billing.user.email)
    staff.goto("/c/alpha/billing/?status=blocked")
    expect(staff.locator("tbody code", has_text="itp_missing")).to_be_visible()
    expect(status_badge(staff, "Blocked")).to_be_visible()
    shot(staff, "blocked")

    doctor = new_page()
    sign_in(doctor, physician.user.email)
    doctor.goto("/c/alpha/portal/plans/")
    doctor.get_by_role("link", name="Review and sign").click()
    doctor.get_by_label("Your password").fill(PASSWORD)
    doctor.get_by_label("I have reviewed and approve this individualized treatment plan").check()
    doctor.get_by_role("button", name="Sign version 1").click()
    doctor.wait_for_url(re.compile(r"/portal/plans/$"))
    expect(doctor.get_by_text("You signed version 1 of Ada Lovelace's plan.")).to_be_visible()

    staff.goto("/c/alpha/billing/")
    reload_until_status(staff, "Ready")
    expect(staff.locator("tbody code", has_text="itp_missing")).to_have_count(0)
    expect(staff.get_by_label(re.compile(r"Export line \d+"))).to_be_checked()
    shot(staff, "ready")
    staff.get_by_role("button", name="Export the checked lines as a batch (CSV)").click()
    staff.wait_for_url(re.compile(r"/billing/batches/\d+/$"))
    expect(staff.get_by_text(re.compile(r"Batch \d+ exported: 1 lines"))).to_be_visible()
    with staff.expect_download() as download:
        staff.get_by_role("link", name=re.compile("CSV")).first.click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert "93798" in content and "120.00" in content and "Lovelace" in content
    shot(staff, "batch")

    line = ClaimLine.objects.get()
    assert (line.status, line.batch_id) == ("exported", ClaimBatch.objects.get().pk)

    staff.get_by_role("link", name="KPIs").click()
    expect(staff.locator("#kpi-sessions_billed .kpi-value")).to_have_text("1")
    expect(staff.locator("#kpi-expected_reimbursement .kpi-value")).to_have_text("$120.00")
    shot(staff, "kpis")


def test_a_physiologist_writes_a_medical_necessity_note_that_billing_sees_without_its_text(new_page, shot):
    enrollment = covered_enrollment(make_clinic("alpha"), "cr", mrn="A-301", plans=False)
    clinic, patient = enrollment.clinic, enrollment.patient
    physiologist, billing = make_member(clinic, "physiologist"), make_member(clinic, "billing")

    page = new_page()
    sign_in(page, physiologist.user.email)
    page.goto(f"/c/alpha/patients/{patient.pk}/")
    page.get_by_role("link", name="Medical necessity (KX)").click()
    expect(page.get_by_text("No medical-necessity note yet.")).to_be_visible()
    page.get_by_label("Medical necessity").fill("Still ischemic at 4 METs; continued monitored exercise is needed.")
    shot(page, "form")
    page.get_by_role("button", name="Save the note").click()
    expect(page.get_by_text("Note saved.")).to_be_visible()
    expect(page.get_by_text("Still ischemic at 4 METs")).to_be_visible()

    staff = new_page()
    sign_in(staff, billing.user.email)
    staff.goto(page.url)
    expect(staff.get_by_text("On record (clinical text, not shown to billing)")).to_be_visible()
    expect(staff.get_by_text("Still ischemic")).to_have_count(0)
    shot(staff, "billing")
