"""A physiologist writes an exercise prescription, revises it, and prints the patient's copy."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Enrollment
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_physiologist_writes_revises_and_prints_a_prescription(page, shot):
    clinic = make_clinic("alpha", phone="(555) 201-4400", address="1200 Riverside Drive, Columbus, OH")
    member = make_member(clinic, "physiologist")
    patient = make_patient(
        clinic, "A-060", first_name="Sam", last_name="Sixty",
        date_of_birth=datetime.date(timezone.localdate().year - 60, 1, 1),
    )  # fmt: skip
    Enrollment.objects.create(
        clinic=clinic, patient=patient, program=make_program(clinic, "cr", name="Phase II Cardiac Rehab"),
        start_date=timezone.localdate(), hr_ceiling=120, supplemental_oxygen=True,
        precaution_notes="Left knee replacement 2024: no deep squats.",
    )  # fmt: skip
    sign_in(page, member.user.email)

    page.goto(f"/c/alpha/patients/{patient.pk}/")
    page.get_by_role("link", name="Exercise prescription").click()
    expect(page.get_by_text("No exercise prescription yet.")).to_be_visible()
    shot(page, "empty")
    page.get_by_role("link", name="Write the prescription").first.click()
    page.wait_for_url(re.compile(r"/prescription/new/$"))

    page.get_by_label("Resting heart rate (bpm)").fill("70")
    aerobic = page.get_by_role("group", name="Aerobic")
    aerobic.get_by_label("Days per week").fill("3")
    aerobic.get_by_label("Intensity as").select_option("pct_hrr")
    aerobic.get_by_label("Intensity from").fill("40")
    aerobic.get_by_label("to", exact=True).fill("60")
    aerobic.get_by_label("Minutes per session").fill("30")
    aerobic.get_by_label("Type / modality").fill("Treadmill walking, recumbent bike")
    resistance = page.get_by_role("group", name="Resistance")
    resistance.get_by_label("Days per week").fill("2")
    resistance.get_by_label("Intensity as").select_option("rpe")
    resistance.get_by_label("Intensity from").fill("11")
    resistance.get_by_label("to", exact=True).fill("13")
    resistance.get_by_label("Sets").fill("2")
    resistance.get_by_label("Reps").fill("12")
    expect(page.get_by_text("Left knee replacement 2024")).to_be_visible()
    preview = page.locator("#rx-preview")
    expect(preview).to_contain_text("106–120 bpm")  # computed as the form is filled in, capped at the ceiling
    expect(preview).to_contain_text("capped at 120 bpm")
    shot(page, "form")
    page.get_by_role("button", name="Save version 1").click()

    page.wait_for_url(re.compile(r"/prescription/$"))
    expect(page.get_by_text("Prescription version 1 saved.")).to_be_visible()
    expect(page.get_by_text("106–120 bpm")).to_be_visible()
    expect(page.get_by_text("capped at ceiling 120 bpm")).to_be_visible()
    shot(page, "current")

    page.get_by_role("link", name="New version").click()
    page.get_by_role("group", name="Aerobic").get_by_label("Minutes per session").fill("40")
    page.get_by_role("button", name="Save version 2").click()
    expect(page.get_by_text("Prescription version 2 saved.")).to_be_visible()
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("row")).to_have_count(3)
    shot(page, "history")

    page.get_by_role("link", name="Version 1").click()
    expect(page.get_by_text(re.compile("superseded on"))).to_be_visible()
    page.get_by_role("link", name="Patient copy").click()
    expect(page.get_by_role("heading", name="Your exercise prescription")).to_be_visible()
    shot(page, "patient-copy")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Clinic")).to_be_hidden()
    shot(page, "patient-copy-print")


def test_beta_blocker_refusal_shows_beside_the_aerobic_intensity(page, shot):
    clinic = make_clinic("alpha")
    member = make_member(clinic, "physiologist")
    patient = make_patient(clinic, "A-061", first_name="Bea", last_name="Blocker")
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient=patient, program=make_program(clinic, "cr"), start_date=timezone.localdate(),
        beta_blocker=True,
    )  # fmt: skip
    sign_in(page, member.user.email)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"/c/alpha/patients/{patient.pk}/enrollments/{enrollment.pk}/prescription/new/")
    page.get_by_label("Resting heart rate (bpm)").fill("70")
    aerobic = page.get_by_role("group", name="Aerobic")
    aerobic.get_by_label("Intensity as").select_option("pct_hrmax")
    aerobic.get_by_label("Intensity from").fill("60")
    expect(page.locator("#rx-preview")).to_contain_text("takes a beta-blocker")
    page.get_by_role("button", name="Save version 1").click()
    expect(aerobic.get_by_text(re.compile("takes a beta-blocker.*RPE"))).to_be_visible()
    shot(page, "refused")
