"""The schedule end to end: a physiologist finds a class on the calendar, books a patient, moves to next
week with htmx, cancels a class; the classes, authorizations and chart pages."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Enrollment
from scheduling import services
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_physiologist_books_a_patient_from_the_calendar_and_cancels_a_class(new_page, shot):
    clinic = make_clinic("alpha", phone="(555) 201-4400")
    physiologist = make_member(clinic, "physiologist")
    program = make_program(clinic, "cr", name="Cardiac Rehab")
    today = services.local_date(clinic, timezone.now())
    patients = []
    for n, (first, last) in enumerate([("Ruth", "Okafor"), ("Sam", "Lee"), ("Ana", "Diaz")]):
        patient = make_patient(
            clinic, f"M-{n}", first_name=first, last_name=last, email=f"{first.lower()}@example.test"
        )
        patients.append(Enrollment.objects.create(
            clinic=clinic, patient=patient, program=program, start_date=today - datetime.timedelta(days=20),
            status=Enrollment.Status.ACTIVE,
        ))  # fmt: skip
    staff = physiologist
    for weekday, hour in [(0, 9), (2, 9), (4, 9), (0, 10), (2, 10), (4, 10)]:
        services.class_template_save(
            clinic=clinic, actor=staff,
            data={"program": program, "name": f"Cardiac rehab {hour}:00", "weekday": weekday,
                  "start_time": datetime.time(hour), "room": "Cardiac Gym", "capacity": 2, "staff": staff,
                  "starts_on": today - datetime.timedelta(days=14)},
        )  # fmt: skip
    templates = list(program.class_templates.order_by("id"))
    services.standing_booking_create(clinic=clinic, actor=staff, template=templates[0], enrollment=patients[1])
    services.authorization_save(
        clinic=clinic, actor=None, enrollment=patients[1],
        data={"payer": "Aetna", "number": "AET-204", "sessions_authorized": 10, "starts_on": today,
              "ends_on": today + datetime.timedelta(days=10)},
    )  # fmt: skip

    page = new_page()
    sign_in(page, physiologist.user.email)
    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Schedule").click()
    page.wait_for_url(re.compile(r"/c/alpha/schedule/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Schedule")
    shot(page, "calendar-week")

    # Next week, through htmx: the calendar changes, the page and its address follow.
    page.get_by_role("link", name="Next week ›").click()
    page.wait_for_url(re.compile(r"date="))
    expect(page.locator(".cal-title")).to_contain_text("Week of")
    shot(page, "calendar-next-week")

    page.locator(".cal-item").filter(has_text="Cardiac rehab 10:00").first.click()
    page.wait_for_url(re.compile(r"/schedule/occurrences/\d+/$"))
    page.get_by_label("Patient").select_option(label="Okafor, Ruth (M-0) · Cardiac Rehab")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("Ruth Okafor is booked.")).to_be_visible()
    page.get_by_label("Patient").select_option(label="Lee, Sam (M-1) · Cardiac Rehab")
    page.get_by_role("button", name="Book", exact=True).click()
    page.get_by_label("Patient").select_option(label="Diaz, Ana (M-2) · Cardiac Rehab")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("This class is full.")).to_be_visible()
    page.get_by_label("Put on the waitlist if the class is full").check()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text("The class is full; Ana Diaz is on the waitlist.")).to_be_visible()
    shot(page, "class-page")

    page.get_by_label("Reason").last.fill("Staff illness")
    page.get_by_role("button", name="Cancel the class").click()
    expect(page.get_by_text("Class cancelled. 3 booked patients will be emailed.")).to_be_visible()
    shot(page, "class-cancelled")

    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Schedule").click()
    page.get_by_role("navigation", name="Schedule sections").get_by_role("link", name="Classes").click()
    expect(page.get_by_role("cell", name="Cardiac rehab 9:00").first).to_be_visible()
    shot(page, "classes")
    page.get_by_role("link", name="Cardiac rehab 9:00").first.click()
    expect(page.get_by_role("heading", name="Standing bookings")).to_be_visible()
    shot(page, "class-series")

    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Schedule").click()
    page.get_by_role("navigation", name="Schedule sections").get_by_role("link", name="Authorizations").click()
    expect(page.get_by_role("cell", name="AET-204")).to_be_visible()
    shot(page, "authorizations")

    page.get_by_role("link", name="Lee, Sam").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    shot(page, "chart-sessions")


def test_the_calendar_fits_a_tablet(new_page, shot):
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    program = make_program(clinic, "pr", name="Pulmonary Rehab")
    today = services.local_date(clinic, timezone.now())
    for weekday in (1, 3):
        services.class_template_save(
            clinic=clinic, actor=physiologist,
            data={"program": program, "name": "Pulmonary rehab", "weekday": weekday, "start_time": datetime.time(10),
                  "room": "Pulmonary Suite", "capacity": 8, "starts_on": today - datetime.timedelta(days=14)},
        )  # fmt: skip
    page = new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, physiologist.user.email)
    next_week = (today + datetime.timedelta(days=7)).isoformat()
    page.goto(f"/c/alpha/schedule/?date={next_week}")
    expect(page.locator(".cal-item").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "calendar-tablet")
    page.locator(".cal-day h3 a").nth(1).click()
    expect(page.locator(".cal-title")).not_to_contain_text("Week of")
    shot(page, "calendar-day")


def test_admin_adds_a_class_and_the_forms_read_well(new_page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")
    make_program(clinic, "dpp", name="Diabetes Prevention")
    page = new_page()
    sign_in(page, admin.user.email)
    page.goto("/c/alpha/schedule/")
    page.get_by_role("link", name="Add a class").click()
    page.get_by_label("Program").select_option(label="Diabetes Prevention")
    page.get_by_label("Name").fill("DPP Thursday evening")
    page.get_by_label("Day of the week").select_option(label="Thursday")
    page.get_by_label("Start time").fill("18:00")
    page.get_by_label("Room").fill("Classroom 1")
    shot(page, "class-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("its classes are scheduled 8 weeks ahead")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("DPP Thursday evening")
    page.goto("/c/alpha/schedule/appointments/new/")
    shot(page, "appointment-form")
    page.goto("/c/alpha/authorizations/new/")
    shot(page, "authorization-form")
