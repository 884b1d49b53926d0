"""Session reminders on the settings page and on the patient's chart."""

import pytest
from playwright.sync_api import expect

from clinic import rls
from scheduling import reminders
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient
from tests.scheduling.reminder_helpers import make_booking, make_occurrence

pytestmark = [pytest.mark.browser, BROWSER_DB]


def test_an_admin_sets_the_reminder_lead_time_and_channels(page, shot):
    clinic = make_clinic("alpha")
    admin = make_member(clinic, "admin")
    sign_in(page, admin.user.email)

    page.goto("/c/alpha/settings/")
    expect(page.get_by_role("group", name="Session reminders and cancellations")).to_be_visible()
    page.get_by_label("Reminder lead time (hours)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 1.")).to_be_visible()
    shot(page, "invalid")

    page.get_by_label("Reminder lead time (hours)").fill("48")
    page.get_by_label("Text message reminders").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Clinic settings saved.")).to_be_visible()
    expect(page.get_by_label("Reminder lead time (hours)")).to_have_value("48")
    expect(page.get_by_label("Text message reminders")).to_be_checked()
    shot(page, "saved")


def test_the_chart_shows_the_reminders_sent_and_pending(page, shot, settings):
    settings.SMS_BACKEND = "scheduling.sms.LocMemBackend"
    clinic = make_clinic("alpha", reminder_by_sms=True, phone="555-0100")
    physiologist = make_member(clinic, "physiologist")
    patient = make_patient(
        clinic, "A-1", first_name="Alice", last_name="Archer", email="alice@example.test", phone="555-0199",
        email_opt_in=True, sms_opt_in=True,
    )  # fmt: skip
    make_booking(make_occurrence(clinic), patient)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        reminders.reminders_plan(clinic=clinic)
        reminders.reminders_send_due(clinic=clinic)
    make_booking(make_occurrence(clinic, starts_in=reminders.PLAN_MARGIN * 24.5), patient)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        reminders.reminders_plan(clinic=clinic)  # due in half an hour: pending
    sign_in(page, physiologist.user.email)

    page.goto(f"/c/alpha/patients/{patient.pk}/")
    history = page.locator("section.reminder-history")
    expect(history.get_by_role("heading", name="Session reminders")).to_be_visible()
    expect(history.locator("tbody tr")).to_have_count(4)
    expect(history.get_by_text("Sent", exact=True)).to_have_count(2)
    expect(history.get_by_text("Pending", exact=True)).to_have_count(2)
    shot(page, "chart")
