"""The administrators' KPI dashboard in a real browser: tiles, charts that load under the strict CSP, the
glossary, on a desktop and on a tablet (screenshots in test-artifacts/ for a human to look at)."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import Enrollment, Measure, Observation
from scheduling.models import Booking, Occurrence, SessionLog
from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_patient, make_program, make_provider, make_referral

pytestmark = [pytest.mark.browser, BROWSER_DB]


def a_clinic_with_six_months_of_work():
    clinic = make_clinic("alpha")
    admin, physiologist = make_member(clinic, "admin"), make_member(clinic, "physiologist")
    program = make_program(clinic, "cr", name="Cardiac Rehab")
    provider = make_provider(clinic, first_name="Helen", last_name="Park")
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    now = timezone.now().astimezone(zone).replace(hour=10, minute=0, second=0, microsecond=0)
    walk, sbp = Measure.objects.get(code="64098-7", clinic=None), Measure.objects.get(code="8480-6", clinic=None)
    for n in range(24):
        started = now - datetime.timedelta(days=170 - n * 6)
        patient = make_patient(clinic, f"D-{n}", first_name=f"Pat{n}", last_name="Dash")
        enrollment = Enrollment.objects.create(
            clinic=clinic, patient=patient, program=program, start_date=started.date(), first_session_at=started
            + datetime.timedelta(days=3 + n % 9), status="completed" if n % 4 else "discharged",
            ended_on=(started + datetime.timedelta(days=60)).date() if n < 16 else None,
        )  # fmt: skip
        make_referral(clinic, patient=patient, provider=provider, program=program, status="accepted",
                      source=["staff", "portal", "fhir"][n % 3], enrollment=enrollment,
                      referral_date=(started - datetime.timedelta(days=5 + n % 20)).date())  # fmt: skip
        for measure, first, change in ((walk, 300 + n * 5, 10 + n * 2), (sbp, 130 + n % 12, -(n % 9))):
            for days, value in ((1, first), (55, first + change)):
                when = min(started + datetime.timedelta(days=days), now - datetime.timedelta(days=1))
                Observation.objects.create(
                    clinic=clinic, patient=patient, enrollment=enrollment, measure=measure, value=Decimal(value),
                    unit=measure.unit, observed_at=when, source="assessment", source_id=n, recorded_by=physiologist,
                )  # fmt: skip
        occurrence = Occurrence.objects.create(
            clinic=clinic, program=program, name="CR class", starts_at=started + datetime.timedelta(days=7),
            ends_at=started + datetime.timedelta(days=7, hours=1), capacity=12, booked_count=1, staff=physiologist,
        )  # fmt: skip
        booking = Booking.objects.create(clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient=patient,
                                         booked_by=physiologist)  # fmt: skip
        SessionLog.objects.create(clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment,
                                  patient=patient, attendance="absent" if n % 5 == 0 else "present")  # fmt: skip
    return admin


def test_admin_reads_the_dashboard_on_a_desktop_and_a_tablet(new_page, shot):
    admin = a_clinic_with_six_months_of_work()
    page = new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, admin.user.email)
    page.goto("/c/alpha/dashboard/")
    tiles = page.locator(".kpi-tile")
    assert tiles.count() == 14
    assert page.locator("#kpi-sixmwt_mcid .kpi-value").inner_text().endswith("%")
    widths = page.eval_on_selector_all("img.kpi-chart", "images => images.map(image => image.naturalWidth)")
    assert widths and all(width > 0 for width in widths)
    assert page.locator("#def-attendance_rate").is_visible()
    shot(page, "desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as PDF").click()
    assert download.value.suggested_filename.startswith("dashboard-alpha-")
    download.value.save_as(ARTIFACTS / "dashboard-snapshot.pdf")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
    assert not overflow
    shot(page, "tablet")
    assert not [error for error in errors if "Content Security Policy" in error]
