"""Change from baseline (outcomes/progress.py): MCID classification in both directions, risk bands,
attendance and the fixed number of queries."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import Enrollment, Measure, Program
from outcomes.progress import band_of, classify_change, enrollment_progress, headline_progress
from scheduling.models import SafetyFlag, SafetyRule
from tests.conftest import clinic_time, make_patient, make_program
from tests.outcomes.helpers import measure, observe, session
from tests.scheduling.factories import make_enrollment, make_prescription

D = Decimal


def progress_of(enrollment, **period):
    """As the pages call it: the enrollment loaded with its patient and program."""
    enrollment = Enrollment.objects.select_related("patient", "program").get(pk=enrollment.pk)
    return enrollment_progress(clinic=enrollment.clinic, enrollment=enrollment, **period)


# --- classify_change ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("baseline", "latest", "expected"),
    [(300, 340, "improved"), (300, 325, "improved"), (300, 324, "no_change"), (300, 276, "no_change"),
     (300, 275, "declined"), (300, 250, "declined")],
)  # fmt: skip
def test_six_minute_walk_is_classified_by_its_25_metre_mcid_higher_is_better(baseline, latest, expected):
    assert classify_change(measure=measure("64098-7"), baseline=D(baseline), latest=D(latest)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("baseline", "latest", "expected"),
    [(150, 140, "improved"), (150, 145, "improved"), (150, 146, "no_change"), (150, 155, "declined"),
     (150, 154, "no_change")],
)  # fmt: skip
def test_systolic_pressure_is_classified_by_its_5_mmhg_mcid_lower_is_better(baseline, latest, expected):
    assert classify_change(measure=measure("8480-6"), baseline=D(baseline), latest=D(latest)) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("baseline", "latest", "expected"),
    [(100, 95, "improved"), (100, "95.1", "no_change"), (100, 105, "declined"), (100, "104.9", "no_change"),
     (80, 76, "improved")],
)  # fmt: skip
def test_weight_is_classified_by_a_5_percent_mcid_lower_is_better(baseline, latest, expected):
    assert classify_change(measure=measure("29463-7"), baseline=D(baseline), latest=D(str(latest))) == expected


@pytest.mark.django_db
def test_a_percent_mcid_higher_is_better_counts_the_percent_of_baseline():
    custom = Measure(code="x", name="X", unit="W", direction="higher", mcid=D(10), mcid_kind="percent")
    assert classify_change(measure=custom, baseline=D(50), latest=D(55)) == "improved"
    assert classify_change(measure=custom, baseline=D(50), latest=D("54.9")) == "no_change"
    assert classify_change(measure=custom, baseline=D(50), latest=D(45)) == "declined"


@pytest.mark.django_db
def test_a_measure_without_mcid_or_better_direction_is_not_classified():
    assert classify_change(measure=measure("tug"), baseline=D(14), latest=D(9)) == ""  # no robust MCID
    assert classify_change(measure=measure("8867-4"), baseline=D(80), latest=D(60)) == ""  # direction: context
    assert classify_change(measure=measure("64098-7"), baseline=None, latest=D(300)) == ""


# --- bands ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tug_of_12_seconds_or_more_is_the_fall_risk_band():
    tug = measure("tug")
    assert band_of(measure=tug, value=D(12), sex="F", age=70).is_risk
    assert band_of(measure=tug, value=D("11.9"), sex="F", age=70) is None


@pytest.mark.django_db
def test_chair_stand_band_depends_on_sex_and_age():
    chair = measure("chair-stand-30s")
    assert band_of(measure=chair, value=D(11), sex="M", age=67).is_risk  # men 65-69: below 12
    assert band_of(measure=chair, value=D(11), sex="F", age=67) is None  # women 65-69: below 11
    assert band_of(measure=chair, value=D(11), sex="M", age=75) is None  # men 75-79: below 11


# --- enrollment_progress -------------------------------------------------------------------------


@pytest.fixture
def cr_enrollment(clinic_a, team_a):
    patient = make_patient(clinic_a, "P-1", sex="F", date_of_birth=datetime.date(1952, 5, 1))
    return make_enrollment(clinic_a, patient=patient, program=make_program(clinic_a, "cr"))


def test_change_runs_from_the_first_assessment_to_the_latest_value(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "64098-7", 290, days_ago=60, source="session", by=by)
    observe(cr_enrollment, "64098-7", 310, days_ago=50, by=by)
    observe(cr_enrollment, "64098-7", 330, days_ago=20, by=by)
    observe(cr_enrollment, "64098-7", 352, days_ago=2, by=by)
    walk = progress_of(cr_enrollment).headline
    assert (walk.baseline, walk.latest, walk.change, walk.percent_change) == (D(310), D(352), D(42), D("13.5"))
    assert walk.classification == "improved"
    assert [value for _, value in walk.points] == [D(290), D(310), D(330), D(352)]


def test_a_lists_headline_is_the_same_change_as_the_progress_pages(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "64098-7", 290, days_ago=60, source="session", by=by)
    for days_ago, value in ((50, 310), (40, 300), (30, 340), (20, 330), (10, 345)):
        observe(cr_enrollment, "64098-7", value, days_ago=days_ago, by=by)
    observe(cr_enrollment, "64098-7", 352, days_ago=2, source="session", by=by)
    rows = list(Enrollment.objects.filter(pk=cr_enrollment.pk).select_related("patient", "program"))
    listed = headline_progress(rows)[cr_enrollment.pk].headline
    page = progress_of(cr_enrollment).headline
    assert (listed.baseline, listed.latest, listed.change, listed.classification) == (D(310), D(352), D(42), "improved")
    assert (listed.baseline, listed.latest, listed.change, listed.classification, listed.has_change) == (
        page.baseline, page.latest, page.change, page.classification, page.has_change,
    )  # fmt: skip


def test_without_an_assessment_the_baseline_is_the_earliest_value(clinic_a, team_a):
    by = team_a["physiologist"].membership
    enrollment = make_enrollment(clinic_a, program=make_program(clinic_a, "dpp"))
    observe(enrollment, "29463-7", 100, days_ago=40, source="session", by=by)
    observe(enrollment, "29463-7", 94, days_ago=1, source="session", by=by)
    weight = progress_of(enrollment).headline
    assert (weight.baseline, weight.latest, weight.percent_change) == (D(100), D(94), D("-6.0"))
    assert weight.classification == "improved"


def test_no_longer_at_fall_risk_is_a_resolved_risk(clinic_a, team_a):
    by = team_a["physiologist"].membership
    enrollment = make_enrollment(clinic_a, program=make_program(clinic_a, "falls_prevention"))
    observe(enrollment, "tug", 14, days_ago=40, by=by)
    observe(enrollment, "tug", "10.5", days_ago=1, by=by)
    progress = progress_of(enrollment)
    tug = progress.headline
    assert tug.baseline_band == "12 s or more: fall risk" and tug.latest_band == ""
    assert tug.risk_resolved
    assert progress.risk_changes == [tug]


def test_the_headline_is_the_measure_the_program_names(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    for code, baseline, latest in (("64098-7", 310, 352), ("tug", 14, 10)):
        observe(cr_enrollment, code, baseline, days_ago=40, by=by)
        observe(cr_enrollment, code, latest, days_ago=2, by=by)
    Program.objects.filter(pk=cr_enrollment.program_id).update(headline_measure=measure("tug"))
    rows = list(Enrollment.objects.filter(pk=cr_enrollment.pk).select_related("patient", "program"))
    assert progress_of(cr_enrollment).headline.measure.code == "tug"
    assert headline_progress(rows)[cr_enrollment.pk].headline.measure.code == "tug"


def test_a_program_without_a_headline_measure_leads_with_its_first_classified_change(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "44261-6", 12, days_ago=40, by=by)
    observe(cr_enrollment, "44261-6", 5, days_ago=2, by=by)
    Program.objects.filter(pk=cr_enrollment.program_id).update(headline_measure=None)
    assert progress_of(cr_enrollment).headline.measure.code == "44261-6"


def test_a_single_value_is_a_baseline_without_change(clinic_a, team_a, cr_enrollment):
    observe(cr_enrollment, "64098-7", 310, days_ago=5, by=team_a["physiologist"].membership)
    walk = progress_of(cr_enrollment).headline
    assert (walk.baseline, walk.latest, walk.change, walk.classification) == (D(310), D(310), None, "")
    assert not walk.risk_resolved


def test_session_only_vitals_are_not_outcome_measures(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "8867-4", 72, days_ago=5, source="session", phase="pre", by=by)
    observe(cr_enrollment, "44261-6", 12, days_ago=5, by=by)
    progress = progress_of(cr_enrollment)
    assert [m.measure.code for m in progress.measures] == ["44261-6"]
    assert progress.headline is None


def test_no_assessments_gives_an_empty_progress(clinic_a, cr_enrollment):
    progress = progress_of(cr_enrollment)
    assert progress.measures == [] and progress.headline is None and not progress.has_assessments


def test_attendance_counts_attended_over_booked_without_cancellations(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    session(cr_enrollment, by, days_ago=20)
    session(cr_enrollment, by, days_ago=18, attendance="late")
    session(cr_enrollment, by, days_ago=16, attendance="absent")
    session(cr_enrollment, by, days_ago=14, attendance="", status="cancelled")
    session(cr_enrollment, by, days_ago=12, attendance="", status="late_cancelled")
    session(cr_enrollment, by, days_ago=-2, attendance="")  # booked for next week: not yet due
    attendance = progress_of(cr_enrollment).attendance
    assert (attendance.attended, attendance.booked, attendance.percent) == (2, 4, 50)
    assert attendance.sessions_remaining == 36 - 2
    assert attendance.last_session_on == clinic_time(timezone.now() - datetime.timedelta(days=18), clinic_a).date()


def test_attendance_without_bookings_has_no_percent(clinic_a, cr_enrollment):
    attendance = progress_of(cr_enrollment).attendance
    assert (attendance.attended, attendance.booked, attendance.percent, attendance.last_session_on) == (
        0, 0, None, None,
    )  # fmt: skip
    assert attendance.sessions_remaining == 36


def test_safety_events_and_prescription_are_the_enrollments(clinic_a, team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    log = session(cr_enrollment, by, days_ago=3, pre_sbp=190)
    rule = SafetyRule.objects.first() or SafetyRule.objects.create(
        code="sbp", field="pre_sbp", comparator="gt", threshold=180, severity="hold", message="SBP high",
        source="test", effective_from=datetime.date(2020, 1, 1),
    )  # fmt: skip
    flag = SafetyFlag.objects.create(
        clinic=clinic_a, session_log=log, patient=cr_enrollment.patient, rule=rule, severity="hold", value=190,
        message="Resting SBP 190",
    )  # fmt: skip
    prescription = make_prescription(cr_enrollment, by)
    progress = progress_of(cr_enrollment)
    assert progress.safety_events == [flag]
    assert progress.prescription == prescription


def test_progress_takes_the_same_queries_for_many_measures_and_sessions(
    clinic_a, team_a, cr_enrollment, django_assert_max_num_queries
):
    by = team_a["physiologist"].membership
    for days_ago in (50, 30, 5):
        for code, value in (("64098-7", 300), ("8480-6", 140), ("44261-6", 9), ("29463-7", 90), ("tug", 13)):
            observe(cr_enrollment, code, value + days_ago // 10, days_ago=days_ago, by=by)
        session(cr_enrollment, by, days_ago=days_ago, pre_hr=70, peak_hr=120)
    enrollment = Enrollment.objects.select_related("patient", "program").get(pk=cr_enrollment.pk)
    with django_assert_max_num_queries(7):
        progress = enrollment_progress(clinic=clinic_a, enrollment=enrollment)
    assert len(progress.measures) == 5


def test_headline_progress_of_many_enrollments_takes_a_fixed_number_of_queries(
    clinic_a, team_a, django_assert_max_num_queries
):
    by = team_a["physiologist"].membership
    program = make_program(clinic_a, "cr")
    enrollments = []
    for number in range(6):
        enrollment = make_enrollment(clinic_a, program=program)
        observe(enrollment, "64098-7", 300, days_ago=40, by=by)
        observe(enrollment, "64098-7", 300 + 10 * number, days_ago=2, by=by)
        session(enrollment, by, days_ago=3)
        enrollments.append(enrollment)
    rows = list(Enrollment.objects.filter(pk__in=[e.pk for e in enrollments]).select_related(
        "patient", "program"))  # fmt: skip
    with django_assert_max_num_queries(4):  # attendance, observations, their measures and the measures' bands
        progress = headline_progress(rows)
    assert [progress[e.pk].headline.classification for e in enrollments] == [
        "no_change", "no_change", "no_change", "improved", "improved", "improved",
    ]  # fmt: skip
    assert {progress[e.pk].attendance.percent for e in enrollments} == {100}


def test_blood_pressure_change_counts_resting_readings_not_peak_or_after_exercise(team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "8480-6", 150, days_ago=40, by=by)
    observe(cr_enrollment, "8480-6", 138, days_ago=3, source="session", phase="pre", by=by)
    observe(cr_enrollment, "8480-6", 176, days_ago=2, source="session", phase="peak", by=by)
    observe(cr_enrollment, "8480-6", 146, days_ago=1, source="session", phase="post", by=by)
    sbp = next(change for change in progress_of(cr_enrollment).measures if change.measure.code == "8480-6")
    assert (sbp.baseline, sbp.latest) == (D(150), D(138))
    assert [value for _, value in sbp.points] == [D(150), D(138)]


def test_a_measure_taken_only_at_peak_keeps_its_peak_values(team_a, cr_enrollment):
    by = team_a["physiologist"].membership
    observe(cr_enrollment, "session-mets", 3, days_ago=20, phase="peak", by=by)
    observe(cr_enrollment, "session-mets", 5, days_ago=2, phase="peak", by=by)
    mets = next(change for change in progress_of(cr_enrollment).measures if change.measure.code == "session-mets")
    assert (mets.baseline, mets.latest) == (D(3), D(5))
