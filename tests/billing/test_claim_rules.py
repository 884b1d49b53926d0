"""Claim lines derived from sessions: every rule and reason code at its boundaries (billing/claims.py)."""

import datetime

import pytest

from billing.claims import claim_lines_derive
from billing.models import ClaimLine, Coverage, FeeScheduleEntry
from tests.billing.factories import (
    START,
    add_necessity_note,
    add_session,
    add_sessions,
    covered_enrollment,
    kg,
    staff,
)
from tests.conftest import make_referral


def lines(enrollment, code=None):
    claim_lines = ClaimLine.objects.filter(enrollment=enrollment).order_by("date_of_service", "session_log_id", "id")
    return [line for line in claim_lines if code is None or line.code == code]


def codes(line) -> list[str]:
    return [b["code"] for b in line.blockers]


def derive(enrollment):
    return claim_lines_derive(clinic=enrollment.clinic, enrollment_ids=[enrollment.pk])


# --- Codes -------------------------------------------------------------------------------------------------


def test_cardiac_rehab_with_ecg_monitoring_is_93798_and_without_93797(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, ecg_monitored=True)
    add_session(enrollment, START + datetime.timedelta(days=1), ecg_monitored=False)
    derive(enrollment)
    assert [line.code for line in lines(enrollment)] == ["93798", "93797"]
    assert all(line.status == "ready" for line in lines(enrollment))


def test_pulmonary_rehab_with_oximetry_is_94626_and_without_94625(clinic_a):
    enrollment = covered_enrollment(clinic_a, "pr")
    add_session(enrollment, START, continuous_oximetry=True)
    add_session(enrollment, START + datetime.timedelta(days=1), continuous_oximetry=False)
    derive(enrollment)
    assert [line.code for line in lines(enrollment)] == ["94626", "94625"]


def test_intensive_cardiac_rehab_is_g0422_with_exercise_and_g0423_without(clinic_a):
    enrollment = covered_enrollment(clinic_a, "icr", cms_approved_icr=True)
    add_session(enrollment, START, exercise_minutes=40)
    add_session(enrollment, START + datetime.timedelta(days=1), exercise_minutes=None)
    derive(enrollment)
    assert [(line.code, line.status) for line in lines(enrollment)] == [("G0422", "ready"), ("G0423", "ready")]


def test_intensive_cardiac_rehab_of_a_program_not_approved_by_cms_is_blocked(clinic_a):
    enrollment = covered_enrollment(clinic_a, "icr")
    add_session(enrollment, START, exercise_minutes=40)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == ["icr_not_approved"]


def test_absent_sessions_make_no_line(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, attendance="absent")
    derive(enrollment)
    assert lines(enrollment) == []


def test_expected_amount_comes_from_the_payers_fee_before_the_any_payer_fee(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    payer = Coverage.objects.get(patient=enrollment.patient).payer
    FeeScheduleEntry.objects.create(clinic=clinic_a, code="93798", amount="100.00", effective_from=START)
    add_session(enrollment, START)
    derive(enrollment)
    assert lines(enrollment)[0].expected_amount == kg("100.00")
    FeeScheduleEntry.objects.create(clinic=clinic_a, payer=payer, code="93798", amount="117.50", effective_from=START)
    derive(enrollment)
    assert lines(enrollment)[0].expected_amount == kg("117.50")


# --- Session limits ----------------------------------------------------------------------------------------


@pytest.fixture(params=["cr", "pr"])
def seventy_three_sessions(request, clinic_a):
    """73 sessions of cardiac (ECG-monitored) or pulmonary rehab, with a medical-necessity note for 37–72."""
    enrollment = covered_enrollment(clinic_a, request.param)
    add_necessity_note(enrollment)
    add_sessions(enrollment, 73, ecg_monitored=True, continuous_oximetry=True)
    derive(enrollment)
    return lines(enrollment)


def test_session_36_is_billed_without_kx(seventy_three_sessions):
    line = seventy_three_sessions[35]
    assert (line.status, line.modifiers) == ("ready", [])


def test_session_37_is_billed_with_the_kx_modifier_naming_the_medical_necessity_note(seventy_three_sessions):
    line = seventy_three_sessions[36]
    assert (line.status, line.modifiers) == ("ready", ["KX"])
    assert line.note == f"KX: medical-necessity note of {START.isoformat()} for sessions 37–72."


def test_session_37_without_a_medical_necessity_note_is_blocked(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_sessions(enrollment, 37)
    derive(enrollment)
    session_36, session_37 = lines(enrollment)[35:]
    assert codes(session_36) == []
    assert (codes(session_37), session_37.modifiers) == (["kx_note_missing"], ["KX"])
    assert "Session 37" in session_37.blockers[0]["message"]


def test_a_note_covers_only_its_own_sessions(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_necessity_note(enrollment, first=37, last=48)
    add_sessions(enrollment, 49)
    derive(enrollment)
    session_48, session_49 = lines(enrollment)[47:]
    assert (codes(session_48), codes(session_49)) == ([], ["kx_note_missing"])


def test_adding_the_note_makes_the_blocked_kx_line_ready(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_sessions(enrollment, 37)
    derive(enrollment)
    add_necessity_note(enrollment)
    derive(enrollment)
    assert lines(enrollment)[36].status == "ready"


def test_session_72_is_the_last_billable_one(seventy_three_sessions):
    assert (seventy_three_sessions[71].status, seventy_three_sessions[71].modifiers) == ("ready", ["KX"])


def test_session_73_is_not_billable(seventy_three_sessions):
    line = seventy_three_sessions[72]
    assert codes(line) == ["session_limit"]
    assert "Session 73" in line.blockers[0]["message"]


# --- Daily limits and minutes ------------------------------------------------------------------------------


@pytest.mark.parametrize("program_type", ["cr", "pr"])
def test_two_sessions_a_day_are_billable(clinic_a, program_type):
    enrollment = covered_enrollment(clinic_a, program_type)
    add_sessions(enrollment, 2, per_day=2)
    derive(enrollment)
    assert [line.status for line in lines(enrollment)] == ["ready", "ready"]


@pytest.mark.parametrize("program_type", ["cr", "pr"])
def test_a_third_session_on_one_day_is_blocked(clinic_a, program_type):
    enrollment = covered_enrollment(clinic_a, program_type)
    add_sessions(enrollment, 3, per_day=3)
    derive(enrollment)
    assert [codes(line) for line in lines(enrollment)] == [[], [], ["daily_limit"]]


def test_intensive_cardiac_rehab_allows_six_sessions_a_day_not_seven(clinic_a):
    enrollment = covered_enrollment(clinic_a, "icr", cms_approved_icr=True)
    for hour in range(7):
        add_session(enrollment, START, hour=7 + hour, exercise_minutes=30)
    derive(enrollment)
    assert [codes(line) for line in lines(enrollment)] == [[]] * 6 + [["daily_limit"]]


@pytest.mark.parametrize(("minutes", "blocked"), [(30, True), (31, False)])
def test_one_session_needs_31_minutes(clinic_a, minutes, blocked):
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, minutes=minutes)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == (["duration_short"] if blocked else [])


@pytest.mark.parametrize(("second_minutes", "blocked"), [(30, True), (31, False)])
def test_two_sessions_on_one_day_need_91_minutes(clinic_a, second_minutes, blocked):
    """60 + 30 = 90 minutes bills one session; 60 + 31 = 91 bills two."""
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, hour=8, minutes=60)
    add_session(enrollment, START, hour=10, minutes=second_minutes)
    derive(enrollment)
    first, second = lines(enrollment)
    assert codes(first) == []
    assert codes(second) == (["duration_short"] if blocked else [])


def test_a_session_without_times_is_blocked_for_missing_time_records(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, minutes=None)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == ["time_missing"]


def test_a_class_without_a_supervising_practitioner_is_blocked(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_session(enrollment, START, supervisor=None)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == ["supervisor_missing"]


# --- Coverage and eligibility ------------------------------------------------------------------------------


def test_a_session_outside_the_coverage_dates_is_blocked(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    Coverage.objects.filter(patient=enrollment.patient).update(ends_on=START)
    add_session(enrollment, START)
    add_session(enrollment, START + datetime.timedelta(days=1))
    derive(enrollment)
    assert [codes(line) for line in lines(enrollment)] == [[], ["coverage_missing"]]


def test_a_not_eligible_referral_blocks_every_line_until_overridden(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    referral = make_referral(
        clinic_a, patient=enrollment.patient, program=enrollment.program, enrollment=enrollment,
        referral_date=START - datetime.timedelta(days=20), qualifying_condition="copd",
    )  # fmt: skip
    add_session(enrollment, START)
    derive(enrollment)
    assert "not_eligible" in codes(lines(enrollment)[0])
    referral.eligibility_override_reason = "Cardiologist confirms the indication."
    referral.save()
    derive(enrollment)
    assert "not_eligible" not in codes(lines(enrollment)[0])


# --- Medicare DPP ------------------------------------------------------------------------------------------


def mdpp_enrollment(clinic, mrn="M-001"):
    return covered_enrollment(clinic, "mdpp", mrn=mrn)


def mdpp_session(enrollment, day, weight, **fields):
    coach = staff(enrollment.clinic)
    return add_session(enrollment, day, coach=coach, supervisor=None, weight_kg=kg(weight), **fields)


def test_mdpp_attendance_in_person_is_g9886(clinic_a):
    enrollment = mdpp_enrollment(clinic_a)
    mdpp_session(enrollment, START, 100)
    derive(enrollment)
    assert [(line.code, line.status) for line in lines(enrollment)] == [("G9886", "ready")]


def test_mdpp_session_without_a_weight_is_blocked(clinic_a):
    enrollment = mdpp_enrollment(clinic_a)
    add_session(enrollment, START, coach=staff(clinic_a), supervisor=None)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == ["weight_missing"]


def test_mdpp_session_whose_coach_has_no_npi_is_blocked(clinic_a):
    enrollment = mdpp_enrollment(clinic_a)
    add_session(enrollment, START, coach=staff(clinic_a, "admin", npi=""), supervisor=None, weight_kg=kg(90))
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == ["coach_npi_missing"]


@pytest.mark.parametrize(("weight", "reached"), [("95.1", False), ("95.0", True)])
def test_mdpp_five_percent_weight_loss_is_g9880_once(clinic_a, weight, reached):
    """From a 100 kg baseline: 4.9 % is not enough, 5.0 % is."""
    enrollment = mdpp_enrollment(clinic_a)
    mdpp_session(enrollment, START, 100)
    mdpp_session(enrollment, START + datetime.timedelta(days=7), weight)
    mdpp_session(enrollment, START + datetime.timedelta(days=14), weight)
    derive(enrollment)
    assert len(lines(enrollment, "G9880")) == (1 if reached else 0)


@pytest.mark.parametrize(("weight", "reached"), [("91.1", False), ("91.0", True)])
def test_mdpp_nine_percent_weight_loss_is_g9881(clinic_a, weight, reached):
    enrollment = mdpp_enrollment(clinic_a)
    mdpp_session(enrollment, START, 100)
    mdpp_session(enrollment, START + datetime.timedelta(days=7), weight)
    derive(enrollment)
    assert len(lines(enrollment, "G9881")) == (1 if reached else 0)
    assert len(lines(enrollment, "G9880")) == 1


def test_mdpp_weight_loss_maintained_in_months_7_to_12_is_g9888_per_session(clinic_a):
    enrollment = mdpp_enrollment(clinic_a)
    mdpp_session(enrollment, START, 100)
    mdpp_session(enrollment, START + datetime.timedelta(days=150), 94)  # month 5: not yet maintenance
    mdpp_session(enrollment, START + datetime.timedelta(days=190), 94)  # month 7
    mdpp_session(enrollment, START + datetime.timedelta(days=220), 96)  # regained: no G9888
    mdpp_session(enrollment, START + datetime.timedelta(days=250), 95)
    derive(enrollment)
    assert [line.date_of_service for line in lines(enrollment, "G9888")] == [
        START + datetime.timedelta(days=190),
        START + datetime.timedelta(days=250),
    ]


def test_mdpp_pays_22_sessions_and_blocks_the_23rd(clinic_a):
    enrollment = mdpp_enrollment(clinic_a)
    for number in range(23):
        mdpp_session(enrollment, START + datetime.timedelta(days=7 * number), 100)
    derive(enrollment)
    attendance = lines(enrollment, "G9886")
    assert codes(attendance[21]) == []
    assert codes(attendance[22]) == ["lifetime_limit"]


def test_mdpp_sessions_are_paid_within_12_months_of_the_first(clinic_a):
    from dateutil.relativedelta import relativedelta

    enrollment = mdpp_enrollment(clinic_a)
    mdpp_session(enrollment, START, 100)
    mdpp_session(enrollment, START + relativedelta(months=12) - datetime.timedelta(days=1), 100)
    mdpp_session(enrollment, START + relativedelta(months=12), 100)
    derive(enrollment)
    assert [codes(line) for line in lines(enrollment, "G9886")] == [[], [], ["lifetime_limit"]]


def test_a_second_mdpp_enrollment_is_blocked_as_once_per_lifetime(clinic_a):
    first = mdpp_enrollment(clinic_a)
    mdpp_session(first, START, 100)
    from clinic.models import Enrollment

    second = Enrollment.objects.create(
        clinic=clinic_a, patient=first.patient, program=first.program, start_date=START + datetime.timedelta(days=400)
    )
    mdpp_session(second, START + datetime.timedelta(days=400), 100)
    claim_lines_derive(clinic=clinic_a)
    assert codes(lines(first)[0]) == []
    assert codes(lines(second)[0]) == ["lifetime_limit"]


# --- Re-derivation -----------------------------------------------------------------------------------------


def test_deriving_twice_changes_nothing(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_sessions(enrollment, 3)
    first = derive(enrollment)
    second = derive(enrollment)
    assert (first.created, second.created, second.updated, second.unchanged) == (3, 0, 0, 3)


def test_a_session_marked_absent_later_voids_its_line(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    log = add_session(enrollment, START)
    derive(enrollment)
    log.attendance = "absent"
    log.save()
    derive(enrollment)
    assert lines(enrollment)[0].status == "void"


def test_an_exported_line_never_changes(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    log = add_session(enrollment, START, ecg_monitored=True)
    derive(enrollment)
    ClaimLine.objects.filter(enrollment=enrollment).update(status="exported")
    log.ecg_monitored = False
    log.attendance = "present"
    log.save()
    derive(enrollment)
    assert [(line.code, line.status) for line in lines(enrollment)] == [("93798", "exported")]


# --- Treatment plans (ITP) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("days_before", "blocked"), [(30, False), (31, True)])
def test_a_session_needs_a_plan_signed_at_most_30_days_before(clinic_a, days_before, blocked):
    from tests.billing.factories import sign_plan

    enrollment = covered_enrollment(clinic_a, plans=False)
    sign_plan(enrollment, START - datetime.timedelta(days=days_before))
    add_session(enrollment, START)
    derive(enrollment)
    assert codes(lines(enrollment)[0]) == (["itp_missing"] if blocked else [])


def test_a_session_without_any_signed_plan_is_blocked(clinic_a):
    enrollment = covered_enrollment(clinic_a, plans=False)
    add_session(enrollment, START)
    derive(enrollment)
    (line,) = lines(enrollment)
    assert codes(line) == ["itp_missing"]
    assert "30 days" in line.blockers[0]["message"]


def test_the_rules_table_and_the_plans_agree_on_the_30_day_window(db, settings):
    from billing.rules import Rules
    from tests.billing.factories import ensure_rules

    ensure_rules()
    assert Rules().int("cr", "itp_window_days", START) == settings.ITP_REVIEW_DAYS
