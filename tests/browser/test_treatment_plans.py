"""A physician signs a treatment plan in the portal on a tablet (1024×768), after a wrong password."""

import re

import pytest
from playwright.sync_api import expect

from clinic.models import TreatmentPlan
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.clinic.treatment_plan_factories import make_itp_enrollment, make_plan
from tests.conftest import link_physician, make_clinic, make_member, make_patient, make_provider

pytestmark = [pytest.mark.browser, BROWSER_DB]


@pytest.fixture
def tablet(new_page):
    page = new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    return page


def test_physician_signs_a_plan_in_the_portal(tablet, shot):
    page = tablet
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    physician = make_member(clinic, "physician")
    make_provider(clinic, membership=physician, credentials="MD")
    patient = make_patient(clinic, "A-200", first_name="Rosa", last_name="Diaz")
    link_physician(patient, physician)
    plan = make_plan(make_itp_enrollment(patient, "cr"), physiologist)
    sign_in(page, physician.user.email)

    page.goto("/c/alpha/portal/plans/")
    expect(page.get_by_role("heading", name="Plans awaiting your signature")).to_be_visible()
    page.get_by_role("link", name="Review and sign").click()
    page.wait_for_url(re.compile(r"/portal/plans/\d+/sign/$"))
    expect(page.get_by_text("NSTEMI, PCI to the LAD")).to_be_visible()

    page.get_by_label("Your password").fill("not-my-password")
    page.get_by_label("I have reviewed and approve this individualized treatment plan").check()
    page.get_by_role("button", name="Sign version 1").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong password. The plan was not signed.")

    page.get_by_label("Your password").fill("correct-horse-battery-staple")
    page.get_by_label("I have reviewed and approve this individualized treatment plan").check()
    shot(page, "sign")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Sign version 1").click()
    page.wait_for_url(re.compile(r"/portal/plans/$"))
    expect(page.get_by_text("You signed version 1 of Rosa Diaz's plan.")).to_be_visible()
    expect(page.get_by_text("Nothing to sign.")).to_be_visible()

    plan.refresh_from_db()
    assert plan.is_signed and plan.signer_credential == "MD"
    page.goto(f"/c/alpha/patients/{patient.pk}/enrollments/{plan.enrollment_id}/plan/v1/")
    expect(page.get_by_text("Physician Alpha, MD").first).to_be_visible()
    shot(page, "signed")
    assert TreatmentPlan.objects.filter(signed_at__isnull=False).count() == 1
