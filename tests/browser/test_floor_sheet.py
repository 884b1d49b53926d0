"""The floor sheet on a tablet (1024×768): a physiologist logs a class of twelve with the keyboard and
htmx saves, meets a hold, overrides it with the supervising practitioner's acknowledgment, and finishes."""

import re

import pytest
from playwright.sync_api import expect

from scheduling.models import SafetyFlag, SessionLog
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import make_clinic, make_member, make_program
from tests.scheduling.factories import class_of, ensure_reference_data, make_prescription

pytestmark = [pytest.mark.browser, BROWSER_DB]

HOLD_ROW = 3  # the fourth patient arrives with a resting SBP of 212


@pytest.fixture
def tablet(browser, live_server):
    context = browser.new_context(viewport={"width": 1024, "height": 768}, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_physiologist_logs_a_class_of_twelve_with_a_hold_and_its_override(tablet, shot):
    page = tablet
    ensure_reference_data()
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    supervisor = make_member(clinic, "physician", email="dr.house@alpha.test")
    program = make_program(clinic, "cr", name="Phase II Cardiac Rehab")
    occurrence, bookings = class_of(clinic, physiologist, 12, program=program, hr_ceiling=130)
    for booking in bookings[:6]:
        make_prescription(booking.enrollment, physiologist, target_hr_low=100, target_hr_high=125)

    sign_in(page, physiologist.user.email)
    page.goto(f"/c/alpha/classes/{occurrence.pk}/floor/")
    expect(page.get_by_role("heading", level=1)).to_have_text(occurrence.name)
    expect(page.locator("article.floor-row")).to_have_count(12)
    assert no_sideways_scroll(page)
    shot(page, "1-empty")

    # The supervising practitioner is chosen once for the class.
    page.get_by_label("Supervising practitioner").select_option(label=supervisor.user.get_full_name())
    page.get_by_role("button", name="Save class staff").click()
    expect(page.locator("#floor-staff .saved")).to_have_text("Saved")

    # Keyboard: the tab order follows the row, check-in first.
    first = bookings[0].pk
    page.locator(f"[name=b{first}-attendance]").focus()
    order = []
    while len(order) < 6:  # a time input takes a Tab per part (hours, minutes, AM/PM)
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement.name")
        if not order or order[-1] != name:
            order.append(name)
    assert order == [f"b{first}-{name}" for name in
                     ("started_at", "ended_at", "pre_hr", "pre_sbp", "pre_dbp", "pre_spo2")]  # fmt: skip

    for number, booking in enumerate(bookings):
        row = page.locator(f"#row-{booking.pk}")
        prefix = f"b{booking.pk}-"
        row.locator(f"[name={prefix}attendance]").select_option("present")
        row.locator(f"[name={prefix}pre_hr]").fill(str(68 + number))
        row.locator(f"[name={prefix}pre_sbp]").fill("212" if number == HOLD_ROW else str(124 + number))
        row.locator(f"[name={prefix}pre_dbp]").fill(str(74 + number % 5))
        row.locator(f"[name={prefix}pre_spo2]").fill("97")
        if number != HOLD_ROW:
            row.locator(f"[name={prefix}modality]").fill("Treadmill")
            row.locator(f"[name={prefix}exercise_minutes]").fill("30")
            row.locator(f"[name={prefix}speed_mph]").fill("2.8")
            row.locator(f"[name={prefix}grade_percent]").fill("2")
            row.locator(f"[name={prefix}peak_hr]").fill(str(104 + number))
            row.locator(f"[name={prefix}peak_sbp]").fill(str(150 + number))
            row.locator(f"[name={prefix}peak_dbp]").fill("80")
            row.locator(f"[name={prefix}rpe]").fill("13")
            row.locator(f"[name={prefix}post_hr]").fill(str(80 + number))
        # Enter in the last field saves the row (htmx), no page load.
        row.locator(f"[name={prefix}pre_spo2]").press("Enter")
        saved = page.locator(f"#row-{booking.pk} .status")
        if number == HOLD_ROW:
            expect(page.locator(f"#row-{booking.pk} .flag.hold")).to_contain_text("Resting systolic BP above 200")
        else:
            expect(saved).to_contain_text(re.compile(r"Saved \d\d:\d\d by P\. Alpha"))

    hold_row = page.locator(f"#row-{bookings[HOLD_ROW].pk}")
    expect(hold_row).to_have_class(re.compile("on-hold"))
    expect(page.locator(".floor-counts")).to_contain_text("1 on hold")
    hold_row.scroll_into_view_if_needed()
    shot(page, "2-hold")

    # Exercise is refused while the hold is open.
    prefix = f"b{bookings[HOLD_ROW].pk}-"
    hold_row.locator(f"[name={prefix}modality]").fill("Recumbent bike")
    hold_row.locator(f"[name={prefix}exercise_minutes]").fill("20")
    hold_row.get_by_role("button", name="Save").click()
    hold_row = page.locator(f"#row-{bookings[HOLD_ROW].pk}")
    expect(hold_row.locator(".errorlist").first).to_contain_text("On hold")

    # The override: a reason, acknowledged by the class's supervising practitioner.
    hold_row.get_by_text("Override hold").click()
    expect(hold_row).to_contain_text(f"Acknowledged by the supervising practitioner: {supervisor.user.get_full_name()}")
    hold_row.get_by_label("Reason for the override").fill("Rechecked after 10 min rest: 188/86, asymptomatic")
    shot(page, "3-override")
    hold_row.get_by_role("button", name="Override with this reason").click()
    hold_row = page.locator(f"#row-{bookings[HOLD_ROW].pk}")
    expect(hold_row.locator(".flag.overridden")).to_contain_text("Hold overridden")
    hold_row.locator(f"[name={prefix}modality]").fill("Recumbent bike")
    hold_row.locator(f"[name={prefix}exercise_minutes]").fill("20")
    hold_row.locator(f"[name={prefix}peak_hr]").fill("112")
    hold_row.locator(f"[name={prefix}rpe]").fill("12")
    hold_row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#row-{bookings[HOLD_ROW].pk} .status")).to_contain_text("Saved")
    assert no_sideways_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "4-done")

    assert SessionLog.objects.filter(occurrence=occurrence, attendance="present").count() == 12
    assert SessionLog.objects.get(booking=bookings[HOLD_ROW]).exercise_minutes == 20
    flag = SafetyFlag.objects.get(rule__code="resting_sbp_high")
    assert flag.status == "overridden" and flag.acknowledged_by == supervisor and flag.overridden_by == physiologist


def test_two_tabs_editing_one_row_get_a_conflict_instead_of_overwriting(browser, live_server, shot):
    ensure_reference_data()
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    occurrence, (booking,) = class_of(clinic, physiologist, 1)
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1024, "height": 768}, base_url=live_server.url)
        page = context.new_page()
        sign_in(page, physiologist.user.email)
        page.goto(f"/c/alpha/classes/{occurrence.pk}/floor/")
        pages.append(page)
    first, second = pages
    name = f"[name=b{booking.pk}-pre_hr]"
    first.locator(name).fill("72")
    first.locator(name).press("Enter")
    expect(first.locator(f"#row-{booking.pk} .status")).to_contain_text("Saved")
    second.locator(name).fill("90")
    second.locator(name).press("Enter")
    expect(second.locator(f"#row-{booking.pk} .conflict")).to_contain_text("Someone saved this row")
    expect(second.locator(name)).to_have_value("72")
    shot(second, "conflict")
    assert SessionLog.objects.get().pre_hr == 72
    for page in pages:
        page.context.close()


def test_physiologist_starts_the_day_on_today_and_opens_the_floor_sheet(tablet, shot):
    page = tablet
    ensure_reference_data()
    clinic = make_clinic("alpha")
    physiologist = make_member(clinic, "physiologist")
    occurrence, bookings = class_of(clinic, physiologist, 4, staff=physiologist)
    from scheduling import floorsheet

    floorsheet.session_log_save(
        clinic=clinic, actor=physiologist, booking=bookings[0], data={"attendance": "present", "pre_hr": 126},
        version=0,
    )  # fmt: skip

    sign_in(page, physiologist.user.email)
    page.get_by_role("navigation", name="Clinic").get_by_role("link", name="Today").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Today")
    row = page.get_by_role("row").filter(has_text=occurrence.name)
    expect(row).to_contain_text("4 / 30")
    expect(page.locator("section.panel").first).to_contain_text("Resting heart rate above 120 bpm")
    assert no_sideways_scroll(page)
    shot(page, "today")
    row.get_by_role("link", name="Floor sheet").click()
    expect(page.locator("article.floor-row")).to_have_count(4)

    page.goto(f"/c/alpha/patients/{bookings[0].patient_id}/")
    expect(page.get_by_role("region", name="Open safety flags")).to_contain_text("Resting heart rate above 120 bpm")
    shot(page, "chart")
