"""The Progress page, its API, and the physician portal's progress columns."""

import datetime
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEntry, Measure, MeasureBand, Observation
from referrals import services as referral_services
from scheduling.models import SafetyFlag, SafetyRule, SessionLog
from tests.conftest import link_physician, make_patient, make_program, make_referral
from tests.outcomes.helpers import observe, session
from tests.scheduling.factories import make_booking, make_enrollment, make_occurrence


def attend(enrollment, by, *, days_ago, attendance="present"):
    return session(
        enrollment, by, days_ago=days_ago, attendance=attendance, pre_hr=72, peak_hr=121, pre_sbp=132, peak_sbp=158
    )


@pytest.fixture
def walker(clinic_a, team_a, patient_a):
    """Clinic A's CR patient: 6MWD 310 → 352 m, TUG out of the fall-risk band, 3 of 4 sessions attended."""
    by = team_a["physiologist"].membership
    enrollment = make_enrollment(clinic_a, patient=patient_a, program=make_program(clinic_a, "cr"))
    observe(enrollment, "64098-7", 310, days_ago=40, by=by)
    observe(enrollment, "64098-7", 352, days_ago=2, by=by)
    observe(enrollment, "tug", 13, days_ago=40, by=by)
    observe(enrollment, "tug", 10, days_ago=2, by=by)
    for days_ago, attendance in ((20, "present"), (15, "present"), (10, "absent"), (5, "late")):
        attend(enrollment, by, days_ago=days_ago, attendance=attendance)
    return enrollment


def clinic_day(clinic, *, days_ago) -> datetime.date:
    """The day of a session `days_ago` (as attend() books it) in the clinic's time zone, as its pages say."""
    moment = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(days=days_ago)
    return timezone.localtime(moment, zoneinfo.ZoneInfo(clinic.timezone)).date()


def page(persona, enrollment):
    return persona.client.get(
        reverse("progress_detail", args=[persona.clinic.slug, enrollment.patient_id, enrollment.pk])
    )


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- The page -------------------------------------------------------------------------------------


def test_progress_page_shows_change_from_baseline_with_its_mcid_badge(team_a, walker):
    response = page(team_a["physiologist"], walker)
    assert response.status_code == 200
    html = response.content.decode()
    text = text_of(response)
    assert "6-minute walk distance" in text and "310 m" in text and "352 m" in text and "+42 m" in text
    assert "+13.5 %" in text
    assert re.search(r'<span class="badge mcid-improved" title="MCID 25 m \(higher is better\)\. Source: 25 m', html)


def test_progress_page_outcome_rows_escape_the_catalog_and_date_values_in_the_clinics_zone(clinic_a, team_a, walker):
    Measure.objects.filter(code="tug").update(name="Timed <Up> & Go")
    MeasureBand.objects.filter(measure__code="tug", is_risk=True).update(label="12 s or more: <fall> risk")
    html = page(team_a["physiologist"], walker).content.decode()
    assert "<Up>" not in html and "<fall>" not in html
    assert '<th scope="row">Timed &lt;Up&gt; &amp; Go' in html
    assert "no longer “12 s or more: &lt;fall&gt; risk”" in html
    zone = zoneinfo.ZoneInfo(clinic_a.timezone)
    baseline_at = Observation.objects.get(enrollment=walker, measure__code="64098-7", value=310).observed_at
    latest_at = Observation.objects.get(enrollment=walker, measure__code="64098-7", value=352).observed_at
    assert (
        f'<td class="nowrap">310 m<br><span class="muted">{baseline_at.astimezone(zone):%m/%d/%Y}</span></td>\n'
        f'    <td class="nowrap">352 m<br><span class="muted">{latest_at.astimezone(zone):%m/%d/%Y}</span></td>\n'
        '    <td class="nowrap">+42 m</td>\n    <td class="nowrap">+13.5 %</td>'
    ) in html


def test_progress_page_says_the_patient_is_no_longer_at_fall_risk(team_a, walker):
    text = text_of(page(team_a["physiologist"], walker))
    assert "No longer at risk Timed Up and Go: no longer “12 s or more: fall risk”" in text


def test_progress_page_shows_attendance_and_sessions_remaining(team_a, walker):
    text = text_of(page(team_a["physiologist"], walker))
    assert "75 % 3 of 4 booked sessions attended" in text
    assert "Sessions remaining 33 of 36" in text


def test_progress_page_draws_charts_inline_without_scripts(team_a, walker):
    html = page(team_a["physiologist"], walker).content.decode()
    assert html.count('class="medfit-chart trend"') == 1  # 6MWD: the MCID line
    assert html.count('class="medfit-chart trend-risk"') == 1  # TUG: no MCID, a risk line
    assert html.count('class="medfit-chart vitals"') == 1
    assert "<style" not in html


def test_progress_page_lists_the_periods_safety_events(clinic_a, team_a, walker):
    log = attend(walker, team_a["physiologist"].membership, days_ago=3)
    rule = SafetyRule.objects.first() or SafetyRule.objects.create(
        code="sbp", field="pre_sbp", comparator="gt", threshold=180, severity="hold", message="SBP high",
        source="test", effective_from=datetime.date(2020, 1, 1),
    )  # fmt: skip
    SafetyFlag.objects.create(
        clinic=clinic_a, session_log=log, patient=walker.patient, rule=rule, severity="hold", value=190,
        message="Resting SBP 190",
    )  # fmt: skip
    text = text_of(page(team_a["physiologist"], walker))
    assert f"Hold Resting SBP 190 {clinic_day(clinic_a, days_ago=3):%m/%d/%Y} · open" in text


def test_progress_page_takes_the_same_queries_for_few_or_many_sessions_and_values(
    team_a, walker, django_assert_num_queries
):
    physiologist = team_a["physiologist"]
    by = physiologist.membership
    page(physiologist, walker)  # the session and caches settle
    with CaptureQueriesContext(connection) as few:
        page(physiologist, walker)
    for days_ago in (30, 25, 12, 8, 4):
        attend(walker, by, days_ago=days_ago)
        observe(walker, "64098-7", 320 + days_ago, days_ago=days_ago, by=by)
    # The session read and saved, the row-level security scope, the membership, the enrollment, its
    # values and their measures, attendance, safety events, the vitals chart's sessions and the access entry.
    with django_assert_num_queries(len(few.captured_queries)):
        assert page(physiologist, walker).status_code == 200
    assert len(few.captured_queries) <= 14


def test_progress_page_without_assessments_says_so(clinic_a, team_a, patient_a):
    enrollment = make_enrollment(clinic_a, patient=patient_a)
    text = text_of(page(team_a["physiologist"], enrollment))
    assert "No assessments yet." in text and "Not measured yet." in text and "No sessions due yet." in text


def test_progress_page_leaves_an_access_entry(team_a, walker):
    page(team_a["admin"], walker)
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS, object_pk=str(walker.pk)).get()
    assert entry.patient_id == walker.patient_id and entry.changes_text.startswith("Progress")


def test_physician_sees_progress_of_their_own_patient(team_a, walker):
    link_physician(walker.patient, team_a["physician"].membership)
    assert page(team_a["physician"], walker).status_code == 200


def test_physician_cannot_see_progress_of_an_unreferred_patient(team_a, walker):
    assert page(team_a["physician"], walker).status_code == 404


def test_billing_cannot_see_progress(team_a, walker):
    assert page(team_a["billing"], walker).status_code == 404


def test_chart_links_each_enrollments_progress(team_a, walker):
    persona = team_a["physiologist"]
    html = persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, walker.patient_id])).content
    assert reverse("progress_detail", args=[persona.clinic.slug, walker.patient_id, walker.pk]) in html.decode()


# --- The API --------------------------------------------------------------------------------------


def api(persona, enrollment, **params):
    return persona.client.get(reverse("api-enrollment-progress", args=[persona.clinic.slug, enrollment.pk]), params)


def test_api_gives_the_progress_summary(team_a, walker):
    body = api(team_a["physiologist"], walker).json()
    walk = next(m for m in body["measures"] if m["code"] == "64098-7")
    assert (walk["baseline"], walk["latest"], walk["change"], walk["percent_change"]) == (
        "310.000", "352.000", "42.000", "13.5",
    )  # fmt: skip
    assert walk["classification"] == "improved" and body["headline"] == "64098-7"
    tug = next(m for m in body["measures"] if m["code"] == "tug")
    assert tug["risk_resolved"] is True
    assert body["attendance"] == {
        "attended": 3, "booked": 4, "percent": 75, "sessions_remaining": 33,
        "last_session_on": str(clinic_day(walker.clinic, days_ago=5)),
    }  # fmt: skip


def test_api_refuses_a_period_ending_before_it_starts(team_a, walker):
    response = api(team_a["physiologist"], walker, period_start="2026-03-01", period_end="2026-02-01")
    assert response.status_code == 400
    assert response.json()["errors"] == {"period_end": ["The period must end on or after its first day."]}


def test_api_refuses_an_empty_period_end(team_a, walker):
    response = api(team_a["physiologist"], walker, period_end="")
    assert response.status_code == 400 and "period_end" in response.json()["errors"]


def test_api_progress_of_another_clinics_enrollment_is_a_404(team_a, clinic_b, patient_b):
    other = make_enrollment(clinic_b, patient=patient_b)
    assert api(team_a["admin"], other).status_code == 404


def test_api_progress_is_a_404_for_billing(team_a, walker):
    assert api(team_a["billing"], walker).status_code == 404


# --- The physician portal --------------------------------------------------------------------------


@pytest.fixture
def doctor(team_a):
    return referral_services.provider_for_physician(membership=team_a["physician"].membership)


def referred_patient(clinic, doctor, physician, by, number, *, walk=(300, 340)):
    patient = make_patient(clinic, f"REF-{number}", last_name=f"Referred{number:02d}")
    enrollment = make_enrollment(clinic, patient=patient, program=make_program(clinic, "cr", name=f"CR {number}"))
    make_referral(clinic, patient=patient, provider=doctor, program=enrollment.program, status="accepted",
                  enrollment=enrollment)  # fmt: skip
    link_physician(patient, physician)
    observe(enrollment, "64098-7", walk[0], days_ago=30, by=by)
    observe(enrollment, "64098-7", walk[1], days_ago=3, by=by)
    attend(enrollment, by, days_ago=4)
    attend(enrollment, by, days_ago=2, attendance="absent")
    return enrollment


def test_my_patients_shows_attendance_last_session_and_headline_change(clinic_a, team_a, doctor):
    physician = team_a["physician"]
    referred_patient(clinic_a, doctor, physician.membership, team_a["physiologist"].membership, 1)
    response = physician.client.get(reverse("my_patients", args=[clinic_a.slug]))
    text = text_of(response)
    last = clinic_day(clinic_a, days_ago=4).strftime("%m/%d/%Y")
    assert "50 % (1 of 2)" in text and f"last {last}" in text
    assert "6-minute walk distance +40 m Improved" in text


def test_portal_gives_an_evening_sessions_date_in_the_clinics_time_zone(clinic_a, team_a, doctor):
    """/portal/ lists every clinic's patients with no clinic's zone active: a class at 10 pm in New York (3 am
    the next day in UTC) is still on its New York day."""
    physician, by = team_a["physician"], team_a["physiologist"].membership
    enrollment = referred_patient(clinic_a, doctor, physician.membership, by, 1)
    new_york = zoneinfo.ZoneInfo(clinic_a.timezone)
    evening = datetime.datetime.combine(timezone.localdate(timezone.now(), new_york), datetime.time(22), new_york)
    evening -= datetime.timedelta(days=1)
    occurrence = make_occurrence(clinic_a, enrollment.program, starts_at=evening)
    booking = make_booking(occurrence, enrollment, by)
    SessionLog.objects.create(
        clinic=clinic_a, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
        attendance="present",
    )  # fmt: skip
    text = text_of(physician.client.get(reverse("portal_home")))
    assert f"last {evening:%m/%d/%Y}" in text


def test_my_patients_takes_the_same_queries_for_2_or_12_patients(clinic_a, team_a, doctor, django_assert_num_queries):
    physician = team_a["physician"]
    by = team_a["physiologist"].membership
    url = reverse("my_patients", args=[clinic_a.slug])
    for number in range(2):
        referred_patient(clinic_a, doctor, physician.membership, by, number)
    physician.client.get(url)  # the session and caches settle
    with CaptureQueriesContext(connection) as two:
        physician.client.get(url)
    for number in range(2, 12):
        referred_patient(clinic_a, doctor, physician.membership, by, number)
    with django_assert_num_queries(len(two.captured_queries)):
        response = physician.client.get(url)
    assert len(response.context["page"].object_list) == 12


def test_portal_home_takes_a_bounded_number_of_queries(clinic_a, team_a, doctor, django_assert_max_num_queries):
    physician = team_a["physician"]
    for number in range(8):
        referred_patient(clinic_a, doctor, physician.membership, team_a["physiologist"].membership, number)
    with django_assert_max_num_queries(20):
        response = physician.client.get(reverse("portal_home"))
    assert response.status_code == 200 and "Improved" in response.content.decode()


def test_my_patients_hides_progress_of_a_patient_whose_chart_is_not_shared(clinic_a, team_a, doctor):
    """A referral matched to a patient before staff link the physician shows no outcome."""
    physician = team_a["physician"]
    enrollment = referred_patient(clinic_a, doctor, physician.membership, team_a["physiologist"].membership, 1)
    enrollment.patient.physician_links.all().delete()
    text = text_of(physician.client.get(reverse("my_patients", args=[clinic_a.slug])))
    assert "Improved" not in text and "50 %" not in text


def test_home_card_count_equals_my_patients_list_length(clinic_a, team_a, doctor):
    physician = team_a["physician"]
    for number in range(3):
        referred_patient(clinic_a, doctor, physician.membership, team_a["physiologist"].membership, number)
    make_referral(clinic_a, provider=doctor, status="received")
    home = physician.client.get(reverse("clinic_home", args=[clinic_a.slug])).content.decode()
    card = int(re.search(r'<span class="stat-number">(\d+)</span>\s*<span>patients? you referred', home).group(1))
    listed = physician.client.get(reverse("my_patients", args=[clinic_a.slug])).context["page"].paginator.count
    portal = physician.client.get(reverse("portal_home")).context["page"].paginator.count
    assert card == listed == portal == 4
