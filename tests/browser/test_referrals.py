"""Referrals end to end: a physician refers through the portal, staff accept it, duplicates are resolved."""

import datetime
import re

import pytest
from playwright.sync_api import Page, expect

from referrals.models import Referral
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program, make_provider, make_referral

pytestmark = [pytest.mark.browser, BROWSER_DB]

VALID_NPI = "1245319599"


def clinic_nav(page: Page):
    return page.get_by_role("navigation", name="Clinic")


def panel(page: Page, heading: str):
    """A `section.panel` of the referral page, by the start of its heading."""
    return page.locator("section.panel").filter(
        has=page.get_by_role("heading", name=re.compile(rf"^{re.escape(heading)}"))
    )


def patient_row(page: Page, name: str):
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=name))


def test_physician_refers_physiologist_accepts_physician_sees_the_status(new_page, shot):
    clinic = make_clinic("alpha")
    physician = make_member(clinic, "physician")
    physiologist = make_member(clinic, "physiologist")
    make_program(clinic, "post_rehab", name="Post-rehab conditioning")
    start = datetime.date.today() + datetime.timedelta(days=7)

    # The physician refers a patient through the portal.
    doctor = new_page()
    sign_in(doctor, physician.user.email)
    clinic_nav(doctor).get_by_role("link", name="Refer a patient").click()
    doctor.wait_for_url(re.compile(r"/c/alpha/portal/refer/$"))
    expect(doctor.get_by_role("heading", level=1)).to_have_text("Refer a patient to Alpha Clinic")
    doctor.get_by_label("NPI").fill(VALID_NPI)
    doctor.get_by_label("Program").select_option(label="Post-rehab conditioning")
    doctor.get_by_label("First name", exact=True).fill("Ruth")
    doctor.get_by_label("Last name", exact=True).fill("Okafor")
    doctor.get_by_label("Date of birth").fill("1952-06-23")
    doctor.get_by_label("Cleared for exercise").select_option(label="Yes")
    shot(doctor, "portal-form")
    doctor.get_by_role("button", name="Send referral").click()

    doctor.wait_for_url(re.compile(r"/c/alpha/my-patients/$"))
    expect(doctor.get_by_role("heading", level=1)).to_have_text("My patients")
    expect(clinic_nav(doctor).get_by_role("link", name="My patients")).to_have_attribute("aria-current", "page")
    expect(doctor.get_by_text("Referral sent to Alpha Clinic.")).to_be_visible()
    row = patient_row(doctor, "Okafor, Ruth")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Post-rehab conditioning")
    expect(row.locator(".badge")).to_have_text("Received")
    shot(doctor, "my-patients-before")
    referral = Referral.objects.get(patient_last_name="Okafor")
    assert referral.source == Referral.Source.PORTAL
    assert referral.referring_provider.npi == VALID_NPI
    assert referral.referring_provider.membership == physician

    # The physiologist finds it in the queue and accepts it.
    staff = new_page()
    sign_in(staff, physiologist.user.email)
    clinic_nav(staff).get_by_role("link", name="Referrals").click()
    staff.wait_for_url(re.compile(r"/c/alpha/referrals/$"))
    queued = patient_row(staff, "Okafor, Ruth")
    expect(queued).to_contain_text("Post-rehab conditioning")
    expect(queued).to_contain_text("Physician Alpha")  # the physician member's provider record
    expect(queued.locator(".badge")).to_have_text("Received")
    shot(staff, "queue")

    queued.get_by_role("link", name="Okafor, Ruth", exact=True).click()
    staff.wait_for_url(re.compile(rf"/c/alpha/referrals/{referral.pk}/$"))
    expect(staff.get_by_role("heading", level=1)).to_contain_text("Okafor, Ruth")
    eligibility = panel(staff, "Eligibility")
    expect(eligibility.get_by_role("heading", level=2)).to_have_text("Eligibility: Eligible")
    expect(eligibility).to_contain_text("Met")
    shot(staff, "referral")

    staff.get_by_label("Start date").fill(start.isoformat())
    staff.get_by_role("button", name="Accept and enroll").click()

    staff.wait_for_url(re.compile(rf"/c/alpha/referrals/{referral.pk}/$"))
    expect(staff.get_by_text("Referral accepted and the patient enrolled.")).to_be_visible()
    expect(staff.get_by_role("heading", level=1).locator(".badge")).to_have_text("Accepted")
    expect(staff.get_by_text(f"Enrolled in Post-rehab conditioning from {start:%m/%d/%Y}.")).to_be_visible()
    expect(staff.get_by_role("button", name="Accept and enroll")).to_have_count(0)
    shot(staff, "referral-accepted")

    # The physician sees the new status and the start date.
    doctor.reload()
    row = patient_row(doctor, "Okafor, Ruth")
    expect(row.locator(".badge")).to_have_text("Accepted")
    expect(row).to_contain_text(start.strftime("%m/%d/%Y"))
    shot(doctor, "my-patients-after")


def test_staff_enter_a_referral_with_a_possible_duplicate_and_link_the_patient(page, shot):
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    make_program(clinic, "post_rehab", name="Post-rehab conditioning")
    make_provider(clinic, first_name="Helen", last_name="Park", credentials="MD")
    existing = make_patient(clinic, "A-500", first_name="Ruth", last_name="Okafor", date_of_birth="1952-06-23")

    sign_in(page, physiologist.user.email)
    clinic_nav(page).get_by_role("link", name="Referrals").click()
    page.wait_for_url(re.compile(r"/c/alpha/referrals/$"))
    page.get_by_role("link", name="Enter a referral").click()
    page.wait_for_url(re.compile(r"/c/alpha/referrals/new/$"))
    page.get_by_label("Referring provider").select_option(label="Helen Park, MD")
    page.get_by_label("Program").select_option(label="Post-rehab conditioning")
    page.get_by_label("First name", exact=True).fill("Ruth")
    page.get_by_label("Last name", exact=True).fill("Okafor")
    page.get_by_label("Date of birth").fill("1952-06-23")
    shot(page, "staff-form")
    page.get_by_role("button", name="Save referral").click()

    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    expect(page.get_by_text("Referral for Ruth Okafor received.")).to_be_visible()
    duplicate = panel(page, "Possible duplicate patient")
    expect(duplicate).to_be_visible()
    patient = panel(page, "Patient")
    expect(patient).to_contain_text("Not linked yet")
    expect(page.get_by_role("link", name="Patient chart")).to_have_count(0)
    shot(page, "duplicate")

    duplicate.get_by_role("button", name="Link to Okafor, Ruth (MRN A-500)").click()

    expect(page.get_by_text("Linked to the existing patient.")).to_be_visible()
    expect(panel(page, "Possible duplicate patient")).to_have_count(0)
    record = patient.locator("dt", has_text="Record").locator("xpath=following-sibling::dd[1]")
    expect(record).to_have_text("Linked")
    mrn = patient.locator("dt", has_text="MRN").locator("xpath=following-sibling::dd[1]")
    expect(mrn).to_have_text("A-500")
    expect(page.get_by_role("link", name="Patient chart")).to_have_attribute(
        "href", f"/c/alpha/patients/{existing.pk}/"
    )
    shot(page, "linked")
    referral = Referral.objects.get(patient_last_name="Okafor")
    assert referral.patient == existing
    assert not referral.possible_duplicate


def test_physician_goes_from_home_to_my_patients_to_a_referral_and_its_chart_and_back(page, shot):
    clinic = make_clinic("alpha")
    physician = make_member(clinic, "physician")
    doctor = make_provider(clinic, membership=physician)
    program = make_program(clinic, "post_rehab", name="Post-rehab conditioning")
    ruth = make_patient(clinic, "A-500", first_name="Ruth", last_name="Okafor", date_of_birth="1952-06-23")
    make_referral(clinic, patient=ruth, provider=doctor, program=program, status="accepted")
    for first, last, status in [("Ana", "Lindqvist", "received"), ("Tomas", "Berg", "in_review"),
                                ("Ines", "Duarte", "declined")]:  # fmt: skip
        make_referral(clinic, provider=doctor, program=program, status=status,
                      patient_first_name=first, patient_last_name=last)  # fmt: skip
    # The clinic accepted Ruth's referral: her chart is open to the physician (services.referral_accept).
    from clinic.models import PatientPhysician

    PatientPhysician.objects.create(clinic=clinic, patient=ruth, physician=physician, relationship="referring")

    sign_in(page, physician.user.email)
    page.wait_for_url(re.compile(r"/c/alpha/$"))
    card = page.locator("a.card.stat", has_text="patients you referred")
    expect(card).to_contain_text("4 patients you referred")
    expect(card).to_contain_text("2 awaiting the clinic's review")
    shot(page, "home")

    card.click()
    page.wait_for_url(re.compile(r"/c/alpha/my-patients/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My patients")
    expect(clinic_nav(page).get_by_role("link", name="My patients")).to_have_attribute("aria-current", "page")
    expect(page.locator("tbody tr")).to_have_count(4)
    shot(page, "my-patients")

    page.get_by_label("Status").select_option(label="In review")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(patient_row(page, "Berg, Tomas")).to_have_count(1)
    page.get_by_label("Status").select_option(label="All statuses")
    page.get_by_role("button", name="Filter").click()

    patient_row(page, "Okafor, Ruth").get_by_role("link", name="Okafor, Ruth", exact=True).click()
    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    expect(panel(page, "Eligibility")).to_be_visible()
    expect(panel(page, "History")).to_be_visible()
    shot(page, "referral")

    page.get_by_role("link", name="Patient chart").click()
    page.wait_for_url(re.compile(rf"/c/alpha/patients/{ruth.pk}/$"))
    referrals = page.locator("section.panel").filter(has=page.get_by_role("heading", name="Referrals"))
    expect(referrals).to_contain_text("Post-rehab conditioning")
    expect(referrals).to_contain_text("Accepted")
    shot(page, "chart")

    referrals.get_by_role("link", name="Post-rehab conditioning").click()
    page.wait_for_url(re.compile(r"/c/alpha/referrals/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Okafor, Ruth")
