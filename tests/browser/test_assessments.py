"""A physiologist records a cardiac rehab baseline battery on a tablet; the PHQ-9 item 9 answer puts an
urgent banner on the chart, which they acknowledge with a note."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Enrollment
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program

pytestmark = [pytest.mark.browser, BROWSER_DB]
TABLET = {"width": 820, "height": 1180}


def test_physiologist_enters_a_baseline_battery_on_a_tablet(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    patient = make_patient(
        clinic, "A-061", first_name="Sam", last_name="Sixty", sex="M",
        date_of_birth=datetime.date(timezone.localdate().year - 60, 1, 1),
    )  # fmt: skip
    Enrollment.objects.create(
        clinic=clinic, patient=patient, program=make_program(clinic, "cr", name="Phase II Cardiac Rehab"),
        start_date=timezone.localdate() - datetime.timedelta(days=3), status="active",
    )  # fmt: skip
    page.set_viewport_size(TABLET)
    sign_in(page, member.user.email)

    page.goto(f"/c/alpha/patients/{patient.pk}/")
    page.get_by_role("link", name="Assessments").click()
    expect(page.get_by_text("No assessment recorded yet.")).to_be_visible()
    page.get_by_role("link", name="Cardiac rehab outcomes").click()
    page.wait_for_url(re.compile(r"/assessments/new/\d+/$"))
    expect(page.get_by_label("Timepoint")).to_have_value("baseline")

    page.get_by_label("6-minute walk distance", exact=True).fill("5000")  # a slip: refused, nothing saved
    page.get_by_label("PHQ-9 total score").fill("12")
    page.get_by_label("PHQ-9 item 9 (thoughts of self-harm)").fill("1")
    page.get_by_label("Resting heart rate").fill("74")
    page.get_by_label("Systolic blood pressure").fill("132")
    page.get_by_label("Diastolic blood pressure").fill("82")
    page.get_by_label("Body weight").fill("187.0")
    page.get_by_label("Height").fill("70.0")
    page.get_by_label("Waist circumference").fill("40.0")
    page.get_by_label("Duke Activity Status Index").fill("28.5")
    shot(page, "form")
    page.get_by_role("button", name="Save assessment").click()
    expect(page.get_by_text("must be between 0 and 1200")).to_be_visible()
    page.get_by_label("6-minute walk distance", exact=True).fill("395")
    page.get_by_role("button", name="Save assessment").click()

    page.wait_for_url(re.compile(r"/assessments/\d+/$"))
    results = page.locator("table.results")
    expect(results).to_contain_text("Body mass index")
    expect(results).to_contain_text("26.8")  # 187 lb, 70 in
    expect(results).to_contain_text("Moderate")  # PHQ-9 12
    expect(results).to_contain_text("Estimated METs from DASI")
    shot(page, "saved")

    page.goto(f"/c/alpha/patients/{patient.pk}/")
    banner = page.get_by_role("alert", name="Urgent clinical alerts")
    expect(banner).to_contain_text("same-day follow-up")
    banner.get_by_label("Follow-up note").fill("Spoke with Sam; not at risk today; safety plan given.")
    banner.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.get_by_role("alert", name="Urgent clinical alerts")).to_have_count(0)
