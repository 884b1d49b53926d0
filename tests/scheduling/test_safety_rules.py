"""Every safety rule at its boundary: the threshold itself does not fire, one step past it does."""

import datetime
from decimal import Decimal

import pytest

from scheduling import floorsheet
from scheduling.models import SafetyFlag, SafetyRule, SessionLog
from tests.conftest import make_member, make_program
from tests.scheduling.factories import (
    ensure_reference_data,
    make_booking,
    make_enrollment,
    make_occurrence,
    make_prescription,
)


@pytest.fixture
def setting(team_a, clinic_a):
    ensure_reference_data()
    physiologist = team_a["physiologist"].membership
    program = make_program(clinic_a, "cr")
    occurrence = make_occurrence(clinic_a, program)

    def booking(**precautions):
        enrollment = make_enrollment(clinic_a, program=program, **precautions)
        return make_booking(occurrence, enrollment, physiologist)

    return {"clinic": clinic_a, "actor": physiologist, "booking": booking, "occurrence": occurrence}


def save(setting, booking, **values):
    log = SessionLog.objects.filter(booking=booking).first()
    return floorsheet.session_log_save(
        clinic=setting["clinic"], actor=setting["actor"], booking=booking, data={"attendance": "present", **values},
        version=log.version if log else 0,
    )  # fmt: skip


def open_codes(log):
    return set(log.flags.filter(status=SafetyFlag.Status.OPEN).values_list("rule__code", flat=True))


# rule code, values at the threshold, values just past it, enrollment precautions
BOUNDARIES = [
    ("resting_sbp_high", {"pre_sbp": 200, "pre_dbp": 80}, {"pre_sbp": 201, "pre_dbp": 80}, {}),
    ("resting_dbp_high", {"pre_sbp": 160, "pre_dbp": 110}, {"pre_sbp": 160, "pre_dbp": 111}, {}),
    ("resting_hr_high", {"pre_hr": 120}, {"pre_hr": 121}, {}),
    ("glucose_low", {"pre_glucose": 70}, {"pre_glucose": 69}, {"has_diabetes": True}),
    ("glucose_high", {"pre_glucose": 249}, {"pre_glucose": 250}, {"has_diabetes": True}),
    ("resting_spo2_low", {"pre_spo2": 88}, {"pre_spo2": 87}, {}),
    ("exercise_spo2_low", {"post_spo2": 88}, {"post_spo2": 87}, {}),
    ("exercise_sbp_high", {"peak_sbp": 250, "peak_dbp": 90}, {"peak_sbp": 251, "peak_dbp": 90}, {}),
    ("exercise_dbp_high", {"peak_sbp": 200, "peak_dbp": 115}, {"peak_sbp": 200, "peak_dbp": 116}, {}),
    (
        "sbp_drop_with_load",
        {"pre_sbp": 140, "pre_dbp": 80, "peak_sbp": 130, "peak_dbp": 80, "workload_watts": 60},
        {"pre_sbp": 140, "pre_dbp": 80, "peak_sbp": 129, "peak_dbp": 80, "workload_watts": 60},
        {},
    ),
    ("hr_over_ceiling", {"peak_hr": 120}, {"peak_hr": 121}, {"hr_ceiling": 130}),
]


@pytest.mark.parametrize(("code", "at", "past", "precautions"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_rule_does_not_fire_at_its_threshold(setting, code, at, past, precautions):
    booking = setting["booking"](**precautions)
    if code == "hr_over_ceiling":
        make_prescription(booking.enrollment, setting["actor"], target_hr_high=120)
    log = save(setting, booking, **at)
    assert code not in open_codes(log)


@pytest.mark.parametrize(("code", "at", "past", "precautions"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_rule_fires_one_step_past_its_threshold(setting, code, at, past, precautions):
    booking = setting["booking"](**precautions)
    if code == "hr_over_ceiling":
        make_prescription(booking.enrollment, setting["actor"], target_hr_high=120)
    log = save(setting, booking, **past)
    flag = log.flags.get(rule__code=code, status=SafetyFlag.Status.OPEN)
    rule = SafetyRule.objects.get(code=code)
    assert flag.severity == rule.severity
    assert flag.message.startswith(rule.message)
    assert "recorded:" in flag.message


def test_glucose_rules_apply_only_to_patients_with_diabetes(setting):
    log = save(setting, setting["booking"](has_diabetes=False), pre_glucose=55)
    assert open_codes(log) == set()


def test_sbp_drop_without_a_workload_does_not_fire(setting):
    values = {"pre_sbp": 150, "pre_dbp": 80, "peak_sbp": 120, "peak_dbp": 70}
    assert "sbp_drop_with_load" not in open_codes(save(setting, setting["booking"](), **values))


def test_hr_ceiling_is_the_lower_of_the_referral_ceiling_and_the_prescribed_target(setting):
    booking = setting["booking"](hr_ceiling=110)
    make_prescription(booking.enrollment, setting["actor"], target_hr_high=125)
    assert "hr_over_ceiling" not in open_codes(save(setting, booking, peak_hr=110))
    assert "hr_over_ceiling" in open_codes(save(setting, booking, peak_hr=111))


def test_hr_ceiling_rule_needs_a_ceiling(setting):
    assert "hr_over_ceiling" not in open_codes(save(setting, setting["booking"](), peak_hr=180))


def test_the_flag_message_gives_the_value(setting):
    log = save(setting, setting["booking"](), pre_sbp=214, pre_dbp=90)
    assert "214" in log.flags.get(rule__code="resting_sbp_high").message


def test_a_rule_changed_later_does_not_apply_to_earlier_sessions(setting):
    """A rule's new version (later effective_from) judges sessions from that date; older sessions keep the old."""
    old = SafetyRule.objects.get(code="resting_hr_high")
    today = datetime.date.today()
    SafetyRule.objects.create(
        code=old.code, field=old.field, comparator=old.comparator, threshold=Decimal(100), applies_to=old.applies_to,
        severity=old.severity, message="Resting heart rate above 100 bpm", source="Clinic policy",
        effective_from=today - datetime.timedelta(days=3),
    )  # fmt: skip
    assert floorsheet.rules_effective_on(today - datetime.timedelta(days=10))[0].code
    before = {r.code: r for r in floorsheet.rules_effective_on(today - datetime.timedelta(days=10))}
    after = {r.code: r for r in floorsheet.rules_effective_on(today)}
    assert before["resting_hr_high"].threshold == 120
    assert after["resting_hr_high"].threshold == 100
    assert "resting_hr_high" in open_codes(save(setting, setting["booking"](), pre_hr=105))


def test_a_corrected_value_resolves_the_open_flag(setting):
    booking = setting["booking"]()
    log = save(setting, booking, pre_hr=130)
    assert "resting_hr_high" in open_codes(log)
    log = save(setting, booking, pre_hr=80)
    assert open_codes(log) == set()
    assert log.flags.get(rule__code="resting_hr_high").status == SafetyFlag.Status.RESOLVED


def test_saving_again_keeps_one_open_flag_per_rule(setting):
    booking = setting["booking"]()
    save(setting, booking, pre_hr=130)
    log = save(setting, booking, pre_hr=135, notes="rechecked")
    flags = log.flags.filter(rule__code="resting_hr_high", status=SafetyFlag.Status.OPEN)
    assert flags.count() == 1
    assert flags.get().value == 135


def test_seeded_rules_each_have_a_source_and_severity(db):
    ensure_reference_data()
    for rule in SafetyRule.objects.all():
        assert rule.source and rule.severity in SafetyRule.Severity.values


def test_a_member_of_another_clinic_cannot_record(setting, clinic_b):
    other = make_member(clinic_b, "physiologist", email="p@bravo.test")
    booking = setting["booking"]()
    with pytest.raises(Exception, match="another clinic"):
        floorsheet.session_log_save(clinic=setting["clinic"], actor=other, booking=booking, data={}, version=0)
