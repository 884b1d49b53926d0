"""The audit trail shows who opened a chart."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_admin_sees_the_chart_view_in_the_audit_trail(new_page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")
    physiologist = make_member(clinic, "physiologist")
    patient = make_patient(clinic, "A-100", first_name="Alice", last_name="Archer")

    physio_page = new_page()
    sign_in(physio_page, physiologist.user.email)
    physio_page.goto("/c/alpha/patients/")
    physio_page.locator("#results").get_by_role("link", name="Archer, Alice").click()
    physio_page.wait_for_url(re.compile(rf"/c/alpha/patients/{patient.pk}/$"))
    expect(physio_page.get_by_role("heading", level=1)).to_contain_text("Archer, Alice")
    # Physiologists may not read the audit trail, so they get no link to it.
    expect(physio_page.get_by_role("link", name="Access history")).to_have_count(0)

    page = new_page()
    sign_in(page, admin.user.email)
    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Audit trail").click()
    page.wait_for_url(re.compile(r"/c/alpha/audit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    shot(page, "audit-all")
    created_patient = page.locator("table.audit tbody tr").filter(has_text="Created").filter(has_text="Archer, Alice")
    created_patient.locator("details.changes summary").click()
    expect(created_patient).to_contain_text("Date of birth")
    expect(created_patient).not_to_contain_text("Referral.None")
    shot(page, "audit-changes")

    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Patients").click()
    page.locator("#results").get_by_role("link", name="Archer, Alice").click()
    page.get_by_role("link", name="Access history").click()
    page.wait_for_url(re.compile(rf"/c/alpha/audit/\?patient={patient.pk}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail: Archer, Alice")
    viewed_by_physiologist = (
        page.locator("table.audit tbody tr").filter(has_text=physiologist.user.email).filter(has_text="Viewed")
    )
    expect(viewed_by_physiologist).to_have_count(1)
    expect(viewed_by_physiologist).to_contain_text("Archer, Alice (MRN A-100)")
    expect(viewed_by_physiologist).to_contain_text("Chart")
    shot(page, "audit-patient")
