"""A referring physician follows a patient's progress: My patients with attendance and the headline
outcome, then the Progress page with its table, badges and charts, on a desktop and on a tablet."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from referrals import services as referral_services
from tests.browser.helpers import BROWSER_DB, sign_in
from tests.conftest import link_physician, make_clinic, make_member, make_patient, make_program, make_referral
from tests.outcomes.helpers import ensure_reference_data, observe, session
from tests.scheduling import factories
from tests.scheduling.factories import make_enrollment

pytestmark = [pytest.mark.browser, BROWSER_DB]

CSP_WATCH = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def cr_patient_with_progress(clinic, doctor, physician, by):
    patient = make_patient(
        clinic, "A-200", first_name="Maria", last_name="Alvarez", sex="F",
        date_of_birth=datetime.date(timezone.localdate().year - 71, 2, 1),
    )  # fmt: skip
    program = make_program(clinic, "cr", name="Phase II Cardiac Rehab")
    enrollment = make_enrollment(
        clinic, patient=patient, program=program, start_date=timezone.localdate() - datetime.timedelta(days=45)
    )
    make_referral(clinic, patient=patient, provider=doctor, program=program, status="accepted", enrollment=enrollment)
    link_physician(patient, physician)
    for code, values in {
        "64098-7": (310, 338, 362), "tug": (13.4, 12.1, 10.8), "44261-6": (12, 9, 6), "8480-6": (142, 138, 134),
        "29463-7": (92.4, 91.0, 89.6),
    }.items():  # fmt: skip
        for days_ago, value in zip((42, 21, 2), values, strict=True):
            observe(enrollment, code, value, days_ago=days_ago, by=by)
    for number, days_ago in enumerate(range(40, 2, -3)):
        attendance = "absent" if number in (4, 9) else "present"
        session(
            enrollment, by, days_ago=days_ago, attendance=attendance, pre_hr=74 - number // 3, peak_hr=118 + number,
            pre_sbp=138 - number // 2, peak_sbp=164 - number // 2,
        )  # fmt: skip
    return enrollment


def test_physician_follows_progress_from_my_patients(new_page, shot):
    factories.ensure_reference_data()  # a live-server test follows a flush: safety rules and measures again
    ensure_reference_data()
    clinic = make_clinic("alpha")
    physician = make_member(clinic, "physician")
    by = make_member(clinic, "physiologist")
    doctor = referral_services.provider_for_physician(membership=physician)
    enrollment = cr_patient_with_progress(clinic, doctor, physician, by)
    newcomer = make_patient(clinic, "A-201", first_name="Tom", last_name="Baker")
    new_enrollment = make_enrollment(clinic, patient=newcomer, program=enrollment.program)
    make_referral(clinic, patient=newcomer, provider=doctor, program=enrollment.program, status="accepted",
                  enrollment=new_enrollment)  # fmt: skip
    link_physician(newcomer, physician)
    make_referral(clinic, provider=doctor, status="received", patient_last_name="Waiting")

    for width, height, name in ((1280, 900, "desktop"), (1024, 768, "tablet"), (768, 1024, "tablet-portrait")):
        page = new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.add_init_script(CSP_WATCH)
        sign_in(page, physician.user.email)
        page.goto("/c/alpha/my-patients/")
        row = page.get_by_role("row").filter(has_text="Alvarez")
        expect(row).to_contain_text("85 %")
        expect(row.locator(".badge.mcid-improved")).to_have_text("Improved")
        expect(row).to_contain_text("+52 m")
        shot(page, f"my-patients-{name}")
        # Narrower than 820 px, the table scrolls inside the page (app.css); the page itself never widens.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

        row.get_by_role("link", name="Progress of Alvarez, Maria").click()
        expect(page.get_by_role("heading", name="Progress", exact=True)).to_be_visible()
        table = page.locator("table.outcome-table")
        expect(table.get_by_role("row").filter(has_text="6-minute walk distance")).to_contain_text("+52 m")
        expect(page.get_by_text("no longer “12 s or more: fall risk”")).to_be_visible()
        expect(page.locator("svg.medfit-chart")).to_have_count(6)
        badge = table.get_by_role("row").filter(has_text="6-minute walk distance").locator(".badge")
        assert "25 m in CAD" in badge.get_attribute("title")
        shot(page, f"progress-{name}")
        assert page.evaluate("window.__csp") == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    page = new_page()
    sign_in(page, physician.user.email)
    page.goto(f"/c/alpha/patients/{newcomer.pk}/enrollments/{new_enrollment.pk}/progress/")
    expect(page.get_by_text("No assessments yet.")).to_be_visible()
    shot(page, "progress-empty")


def test_a_physician_of_two_clinics_reads_both_from_the_portal(new_page, shot):
    factories.ensure_reference_data()
    ensure_reference_data()
    alpha, beta = make_clinic("alpha"), make_clinic("beta")
    in_alpha = make_member(alpha, "physician")
    in_beta = make_member(beta, "physician", in_alpha.user.email)
    make_referral(alpha, provider=referral_services.provider_for_physician(membership=in_alpha),
                  status="received", patient_last_name="Alphason")  # fmt: skip
    make_referral(beta, provider=referral_services.provider_for_physician(membership=in_beta),
                  status="in_review", patient_last_name="Betaford")  # fmt: skip

    page = new_page()
    page.add_init_script(CSP_WATCH)
    sign_in(page, in_alpha.user.email)
    page.goto("/portal/")
    expect(page.get_by_role("row").filter(has_text="Alphason")).to_contain_text("Alpha Clinic")
    expect(page.get_by_role("row").filter(has_text="Betaford")).to_contain_text("Beta Clinic")
    shot(page, "my-patients")
    page.goto("/portal/reports/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shot(page, "reports")
    assert page.evaluate("window.__csp") == []
