"""Eligibility rules per program type, at their boundaries, against the thresholds the data migration loads.

Referrals are built unsaved: check_eligibility only reads fields, and the program is set through referral.program.
Each case starts from a referral that meets every rule and changes one thing.
"""

import datetime
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import Enrollment, Measure, Observation, Program
from referrals.eligibility import MissingThresholdError, check_eligibility
from referrals.models import EligibilityThreshold, Referral
from tests.conftest import make_program

REFERRAL_DATE = date(2026, 9, 1)
RECENT_LAB = date(2026, 6, 1)

CABG = {"qualifying_condition": "cabg", "cleared_for_exercise": True}
MI = {**CABG, "qualifying_condition": "mi", "qualifying_event_date": date(2026, 3, 1)}
HF = {
    **CABG,
    "qualifying_condition": "heart_failure",
    "lvef_percent": 30,
    "nyha_class": 3,
    "hf_optimal_therapy_weeks": 8,
    "hf_recent_cv_event": False,
    "hf_planned_cv_procedure": False,
}
COPD = {
    "qualifying_condition": "copd",
    "gold_stage": 3,
    "fev1_fvc_ratio": Decimal("0.60"),
    "fev1_percent_predicted": 55,
    "cleared_for_exercise": True,
}
COVID = {
    "qualifying_condition": "post_covid",
    "covid_confirmed_or_suspected": True,
    "covid_symptom_weeks": 8,
    "cleared_for_exercise": True,
}
DPP = {
    "bmi": Decimal("27.0"),
    "diabetes_diagnosis": False,
    "pregnant": False,
    "a1c_percent": Decimal("6.0"),
    "lab_test_date": RECENT_LAB,
}
DPP_NO_LAB = {**DPP, "a1c_percent": None, "lab_test_date": None}
MDPP = {
    "medicare_part_b": True,
    "bmi": Decimal("27.0"),
    "a1c_percent": Decimal("6.0"),
    "lab_test_date": RECENT_LAB,
    "diabetes_diagnosis": False,
    "esrd": False,
    "prior_mdpp": False,
}
CLEARED = {"cleared_for_exercise": True}

EXPECTED_OVERALL = {"met": "eligible", "not_met": "not_eligible", "unknown": "needs_information"}


def make_referral(program_type: str, base: dict, **changes) -> Referral:
    fields = {"referral_date": REFERRAL_DATE, "patient_date_of_birth": date(1960, 5, 17), **base, **changes}
    return Referral(program=Program(program_type=program_type), **fields)


def outcome_for(result, rule: str):
    matches = [outcome for outcome in result.outcomes if outcome.rule == rule]
    assert len(matches) == 1, f"expected one {rule!r} outcome, got {result.outcomes}"
    return matches[0]


def case(case_id, program_type, base, rule, expected, **changes):
    return pytest.param(program_type, base, changes, rule, expected, id=case_id)


# --- Every baseline is eligible, with the rules each program type checks --------------------------------------

BASELINES = [
    pytest.param("cr", CABG, ["Qualifying condition", "Medical clearance"], id="cr-cabg"),
    pytest.param("cr", MI, ["Qualifying condition", "Qualifying event", "Medical clearance"], id="cr-mi"),
    pytest.param(
        "cr",
        HF,
        [
            "Qualifying condition",
            "LVEF",
            "NYHA class",
            "Heart-failure stability",
            "Optimal therapy",
            "Medical clearance",
        ],
        id="cr-heart-failure",
    ),
    pytest.param("icr", MI, ["Qualifying condition", "Qualifying event", "Medical clearance"], id="icr-mi"),
    pytest.param("pr", COPD, ["Qualifying condition", "GOLD stage", "Spirometry", "Medical clearance"], id="pr-copd"),
    pytest.param(
        "pr",
        COVID,
        ["Qualifying condition", "COVID-19 diagnosis", "COVID symptoms", "Medical clearance"],
        id="pr-post-covid",
    ),
    pytest.param(
        "dpp",
        DPP,
        ["Age", "BMI", "Diabetes", "Diabetes-range blood test", "Pregnancy", "Prediabetes basis"],
        id="dpp",
    ),
    pytest.param(
        "mdpp",
        MDPP,
        ["Program in force", "Medicare Part B", "BMI", "Blood test", "Diabetes", "ESRD", "Prior MDPP"],
        id="mdpp-no-age-rule",
    ),
    pytest.param("post_rehab", CLEARED, ["Medical clearance"], id="post-rehab"),
    pytest.param("chronic_disease", CLEARED, ["Medical clearance"], id="chronic-disease"),
    pytest.param("falls_prevention", CLEARED, ["Medical clearance"], id="falls-prevention"),
    pytest.param("cancer_recovery", CLEARED, ["Medical clearance"], id="cancer-recovery"),
    pytest.param("weight_management", CLEARED, ["Medical clearance"], id="weight-management"),
    pytest.param("youth", CLEARED, ["Medical clearance"], id="youth"),
    pytest.param("group_specialty", CLEARED, ["Medical clearance"], id="group-specialty"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("program_type, base, rules", BASELINES)
def test_baseline_meets_every_rule(program_type, base, rules):
    result = check_eligibility(make_referral(program_type, base))
    assert [outcome.rule for outcome in result.outcomes] == rules
    assert {outcome.status for outcome in result.outcomes} == {"met"}
    assert (result.status, result.label) == ("eligible", "Eligible")


# --- One change from the baseline: the named rule's status, and the overall status that follows ----------------

RULE_CASES = [
    # CR / ICR: qualifying condition
    case("cr-stable-angina-qualifies", "cr", CABG, "Qualifying condition", "met", qualifying_condition="stable_angina"),
    case("cr-copd-does-not-qualify", "cr", CABG, "Qualifying condition", "not_met", qualifying_condition="copd"),
    case("cr-condition-blank-unknown", "cr", CABG, "Qualifying condition", "unknown", qualifying_condition=""),
    case("icr-other-does-not-qualify", "icr", CABG, "Qualifying condition", "not_met", qualifying_condition="other"),
    # CR / ICR: MI within 12 calendar months, inclusive
    case("cr-mi-exactly-12-months", "cr", MI, "Qualifying event", "met", qualifying_event_date=date(2025, 9, 1)),
    case(
        "cr-mi-12-months-plus-1-day",
        "cr",
        MI,
        "Qualifying event",
        "not_met",
        qualifying_event_date=date(2025, 9, 1),
        referral_date=date(2026, 9, 2),
    ),
    case(
        "icr-mi-12-months-plus-1-day",
        "icr",
        MI,
        "Qualifying event",
        "not_met",
        qualifying_event_date=date(2025, 8, 31),
    ),
    case("cr-mi-after-referral", "cr", MI, "Qualifying event", "not_met", qualifying_event_date=date(2026, 9, 2)),
    case("cr-mi-date-missing", "cr", MI, "Qualifying event", "unknown", qualifying_event_date=None),
    # CR / ICR: heart failure
    case("cr-hf-lvef-35", "cr", HF, "LVEF", "met", lvef_percent=35),
    case("cr-hf-lvef-36", "cr", HF, "LVEF", "not_met", lvef_percent=36),
    case("icr-hf-lvef-36", "icr", HF, "LVEF", "not_met", lvef_percent=36),
    case("cr-hf-lvef-missing", "cr", HF, "LVEF", "unknown", lvef_percent=None),
    case("cr-hf-nyha-1", "cr", HF, "NYHA class", "not_met", nyha_class=1),
    case("cr-hf-nyha-2", "cr", HF, "NYHA class", "met", nyha_class=2),
    case("cr-hf-nyha-4", "cr", HF, "NYHA class", "met", nyha_class=4),
    case("cr-hf-nyha-missing", "cr", HF, "NYHA class", "unknown", nyha_class=None),
    case("cr-hf-therapy-5-weeks", "cr", HF, "Optimal therapy", "not_met", hf_optimal_therapy_weeks=5),
    case("cr-hf-therapy-6-weeks", "cr", HF, "Optimal therapy", "met", hf_optimal_therapy_weeks=6),
    case("cr-hf-therapy-missing", "cr", HF, "Optimal therapy", "unknown", hf_optimal_therapy_weeks=None),
    # CR / ICR / PR: medical clearance
    case("cr-not-cleared", "cr", CABG, "Medical clearance", "not_met", cleared_for_exercise=False),
    case("icr-clearance-missing", "icr", CABG, "Medical clearance", "unknown", cleared_for_exercise=None),
    case("pr-not-cleared", "pr", COPD, "Medical clearance", "not_met", cleared_for_exercise=False),
    # PR: qualifying condition
    case("pr-mi-does-not-qualify", "pr", COPD, "Qualifying condition", "not_met", qualifying_condition="mi"),
    case("pr-condition-blank-unknown", "pr", COPD, "Qualifying condition", "unknown", qualifying_condition=""),
    # PR: COPD GOLD stage and spirometry
    case("pr-gold-1", "pr", COPD, "GOLD stage", "not_met", gold_stage=1),
    case("pr-gold-2", "pr", COPD, "GOLD stage", "met", gold_stage=2),
    case("pr-gold-4", "pr", COPD, "GOLD stage", "met", gold_stage=4),
    case("pr-gold-missing", "pr", COPD, "GOLD stage", "unknown", gold_stage=None),
    case("pr-fev1-fvc-0.69", "pr", COPD, "Spirometry", "met", fev1_fvc_ratio=Decimal("0.69")),
    case("pr-fev1-fvc-0.70", "pr", COPD, "Spirometry", "not_met", fev1_fvc_ratio=Decimal("0.70")),
    case("pr-fev1-79-percent", "pr", COPD, "Spirometry", "met", fev1_percent_predicted=79),
    case("pr-fev1-80-percent", "pr", COPD, "Spirometry", "not_met", fev1_percent_predicted=80),
    case(
        "pr-spirometry-missing",
        "pr",
        COPD,
        "Spirometry",
        "unknown",
        fev1_fvc_ratio=None,
        fev1_percent_predicted=None,
    ),
    case("pr-fev1-percent-missing", "pr", COPD, "Spirometry", "unknown", fev1_percent_predicted=None),
    case(
        "pr-spirometry-fails-even-with-one-missing",
        "pr",
        COPD,
        "Spirometry",
        "not_met",
        fev1_fvc_ratio=Decimal("0.75"),
        fev1_percent_predicted=None,
    ),
    # PR: post-COVID
    case("pr-covid-3-weeks", "pr", COVID, "COVID symptoms", "not_met", covid_symptom_weeks=3),
    case("pr-covid-4-weeks", "pr", COVID, "COVID symptoms", "met", covid_symptom_weeks=4),
    case("pr-covid-weeks-missing", "pr", COVID, "COVID symptoms", "unknown", covid_symptom_weeks=None),
    # CDC DPP: age, BMI, diabetes, pregnancy
    case("dpp-age-17", "dpp", DPP, "Age", "not_met", patient_date_of_birth=date(2008, 9, 2)),
    case("dpp-age-18-on-birthday", "dpp", DPP, "Age", "met", patient_date_of_birth=date(2008, 9, 1)),
    case("dpp-birth-date-missing", "dpp", DPP, "Age", "unknown", patient_date_of_birth=None),
    case("dpp-bmi-24.9", "dpp", DPP, "BMI", "not_met", bmi=Decimal("24.9")),
    case("dpp-bmi-25", "dpp", DPP, "BMI", "met", bmi=Decimal("25.0")),
    case("dpp-bmi-23-not-asian", "dpp", DPP, "BMI", "not_met", bmi=Decimal("23.0")),
    case("dpp-asian-bmi-22.9", "dpp", DPP, "BMI", "not_met", bmi=Decimal("22.9"), asian_american=True),
    case("dpp-asian-bmi-23", "dpp", DPP, "BMI", "met", bmi=Decimal("23.0"), asian_american=True),
    # 72.2 kg at 170 cm is a BMI of 24.98: below 25, although it rounds to 25.0.
    case(
        "dpp-bmi-from-height-weight-24.98-is-not-rounded-up",
        "dpp",
        DPP,
        "BMI",
        "not_met",
        bmi=None,
        height_cm=Decimal("170.0"),
        weight_kg=Decimal("72.2"),
    ),
    case(
        "dpp-bmi-from-height-weight-25.01",
        "dpp",
        DPP,
        "BMI",
        "met",
        bmi=None,
        height_cm=Decimal("170.0"),
        weight_kg=Decimal("72.3"),
    ),
    case(
        "dpp-bmi-from-height-weight-24.9",
        "dpp",
        DPP,
        "BMI",
        "not_met",
        bmi=None,
        height_cm=Decimal("170.0"),
        weight_kg=Decimal("72.1"),
    ),
    case("dpp-bmi-and-height-missing", "dpp", DPP, "BMI", "unknown", bmi=None, weight_kg=Decimal("80.0")),
    case("dpp-diabetes-diagnosed", "dpp", DPP, "Diabetes", "not_met", diabetes_diagnosis=True),
    case("dpp-diabetes-not-recorded", "dpp", DPP, "Diabetes", "unknown", diabetes_diagnosis=None),
    case("dpp-pregnant", "dpp", DPP, "Pregnancy", "not_met", pregnant=True),
    case("dpp-pregnancy-not-recorded", "dpp", DPP, "Pregnancy", "unknown", pregnant=None),
    # CDC DPP: blood test ranges (A1c 5.7–6.4, FPG 100–125, OGTT 140–199)
    case("dpp-a1c-5.6", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=Decimal("5.6")),
    case("dpp-a1c-5.7", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=Decimal("5.7")),
    case("dpp-a1c-6.4", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=Decimal("6.4")),
    case("dpp-a1c-6.5", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=Decimal("6.5")),
    case("dpp-fpg-99", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=None, fasting_glucose=99),
    case("dpp-fpg-100", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, fasting_glucose=100),
    case("dpp-fpg-109", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, fasting_glucose=109),
    case("dpp-fpg-110", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, fasting_glucose=110),
    case("dpp-fpg-125", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, fasting_glucose=125),
    case("dpp-fpg-126", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=None, fasting_glucose=126),
    case("dpp-ogtt-139", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=None, ogtt_2h=139),
    case("dpp-ogtt-140", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, ogtt_2h=140),
    case("dpp-ogtt-199", "dpp", DPP, "Prediabetes basis", "met", a1c_percent=None, ogtt_2h=199),
    case("dpp-ogtt-200", "dpp", DPP, "Prediabetes basis", "not_met", a1c_percent=None, ogtt_2h=200),
    case(
        "dpp-any-one-test-in-range-is-enough",
        "dpp",
        DPP,
        "Prediabetes basis",
        "met",
        a1c_percent=Decimal("5.5"),
        fasting_glucose=105,
    ),
    # CDC DPP: the blood test's age (12 calendar months, inclusive) and date
    case("dpp-lab-exactly-12-months", "dpp", DPP, "Prediabetes basis", "met", lab_test_date=date(2025, 9, 1)),
    case("dpp-lab-12-months-plus-1-day", "dpp", DPP, "Prediabetes basis", "not_met", lab_test_date=date(2025, 8, 31)),
    case("dpp-lab-after-referral-counts", "dpp", DPP, "Prediabetes basis", "met", lab_test_date=date(2026, 9, 2)),
    case("dpp-lab-date-missing", "dpp", DPP, "Prediabetes basis", "unknown", lab_test_date=None),
    case("dpp-self-reported-lab-accepted", "dpp", DPP, "Prediabetes basis", "met", lab_self_reported=True),
    # CDC DPP: the other bases
    case("dpp-gdm-alone", "dpp", DPP_NO_LAB, "Prediabetes basis", "met", gestational_diabetes_history=True),
    case(
        "dpp-gdm-with-failing-lab",
        "dpp",
        DPP,
        "Prediabetes basis",
        "met",
        a1c_percent=Decimal("5.2"),
        gestational_diabetes_history=True,
    ),
    case("dpp-risk-score-4", "dpp", DPP_NO_LAB, "Prediabetes basis", "not_met", risk_test_score=4),
    case("dpp-risk-score-5", "dpp", DPP_NO_LAB, "Prediabetes basis", "met", risk_test_score=5),
    case("dpp-no-basis-recorded", "dpp", DPP_NO_LAB, "Prediabetes basis", "unknown"),
    case(
        "dpp-no-gdm-alone-still-unknown",
        "dpp",
        DPP_NO_LAB,
        "Prediabetes basis",
        "unknown",
        gestational_diabetes_history=False,
    ),
    # CR / ICR heart failure: stable (no major CV hospitalization or procedure in 6 weeks, none planned in 6 months)
    case("cr-hf-recent-cv-event", "cr", HF, "Heart-failure stability", "not_met", hf_recent_cv_event=True),
    case("icr-hf-planned-procedure", "icr", HF, "Heart-failure stability", "not_met", hf_planned_cv_procedure=True),
    case("cr-hf-stability-not-recorded", "cr", HF, "Heart-failure stability", "unknown", hf_recent_cv_event=None),
    # PR post-COVID: the diagnosis is a fact of its own
    case("pr-covid-not-confirmed", "pr", COVID, "COVID-19 diagnosis", "not_met", covid_confirmed_or_suspected=False),
    case("pr-covid-diagnosis-missing", "pr", COVID, "COVID-19 diagnosis", "unknown", covid_confirmed_or_suspected=None),
    # CDC DPP: a result in the diabetes range rules the patient out, whatever else qualifies
    case("dpp-a1c-6.4-not-diabetes-range", "dpp", DPP, "Diabetes-range blood test", "met", a1c_percent=Decimal("6.4")),
    case(
        "dpp-a1c-6.8-beside-gdm",
        "dpp",
        DPP,
        "Diabetes-range blood test",
        "not_met",
        a1c_percent=Decimal("6.8"),
        gestational_diabetes_history=True,
    ),
    case(
        "dpp-fpg-126-beside-high-risk-score",
        "dpp",
        DPP,
        "Diabetes-range blood test",
        "not_met",
        a1c_percent=None,
        fasting_glucose=126,
        risk_test_score=7,
    ),
    case("dpp-ogtt-200-diabetes", "dpp", DPP, "Diabetes-range blood test", "not_met", a1c_percent=None, ogtt_2h=200),
    # Medicare DPP: Part B, BMI
    case("mdpp-no-part-b", "mdpp", MDPP, "Medicare Part B", "not_met", medicare_part_b=False),
    case("mdpp-part-b-not-recorded", "mdpp", MDPP, "Medicare Part B", "unknown", medicare_part_b=None),
    case("mdpp-bmi-24.9", "mdpp", MDPP, "BMI", "not_met", bmi=Decimal("24.9")),
    case("mdpp-bmi-25", "mdpp", MDPP, "BMI", "met", bmi=Decimal("25.0")),
    case("mdpp-asian-bmi-22.9", "mdpp", MDPP, "BMI", "not_met", bmi=Decimal("22.9"), asian_american=True),
    case("mdpp-asian-bmi-23", "mdpp", MDPP, "BMI", "met", bmi=Decimal("23.0"), asian_american=True),
    # Medicare DPP: blood test ranges (A1c 5.7–6.4, FPG 110–125, OGTT 140–199)
    case("mdpp-a1c-5.6", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=Decimal("5.6")),
    case("mdpp-a1c-5.7", "mdpp", MDPP, "Blood test", "met", a1c_percent=Decimal("5.7")),
    case("mdpp-a1c-6.4", "mdpp", MDPP, "Blood test", "met", a1c_percent=Decimal("6.4")),
    case("mdpp-a1c-6.5", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=Decimal("6.5")),
    case("mdpp-fpg-99", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, fasting_glucose=99),
    case("mdpp-fpg-100", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, fasting_glucose=100),
    case("mdpp-fpg-109", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, fasting_glucose=109),
    case("mdpp-fpg-110", "mdpp", MDPP, "Blood test", "met", a1c_percent=None, fasting_glucose=110),
    case("mdpp-fpg-125", "mdpp", MDPP, "Blood test", "met", a1c_percent=None, fasting_glucose=125),
    case("mdpp-fpg-126", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, fasting_glucose=126),
    case("mdpp-ogtt-139", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, ogtt_2h=139),
    case("mdpp-ogtt-140", "mdpp", MDPP, "Blood test", "met", a1c_percent=None, ogtt_2h=140),
    case("mdpp-ogtt-199", "mdpp", MDPP, "Blood test", "met", a1c_percent=None, ogtt_2h=199),
    case("mdpp-ogtt-200", "mdpp", MDPP, "Blood test", "not_met", a1c_percent=None, ogtt_2h=200),
    # Medicare DPP: lab only, within 12 months
    case("mdpp-lab-exactly-12-months", "mdpp", MDPP, "Blood test", "met", lab_test_date=date(2025, 9, 1)),
    case("mdpp-lab-12-months-plus-1-day", "mdpp", MDPP, "Blood test", "not_met", lab_test_date=date(2025, 8, 31)),
    case("mdpp-lab-date-missing", "mdpp", MDPP, "Blood test", "unknown", lab_test_date=None),
    case("mdpp-self-reported-lab-refused", "mdpp", MDPP, "Blood test", "not_met", lab_self_reported=True),
    case(
        "mdpp-ignores-gdm",
        "mdpp",
        MDPP,
        "Blood test",
        "unknown",
        a1c_percent=None,
        lab_test_date=None,
        gestational_diabetes_history=True,
    ),
    case(
        "mdpp-ignores-risk-score",
        "mdpp",
        MDPP,
        "Blood test",
        "unknown",
        a1c_percent=None,
        lab_test_date=None,
        risk_test_score=9,
    ),
    case(
        "mdpp-gdm-does-not-rescue-failing-lab",
        "mdpp",
        MDPP,
        "Blood test",
        "not_met",
        a1c_percent=Decimal("5.6"),
        gestational_diabetes_history=True,
        risk_test_score=9,
    ),
    # Medicare DPP: exclusions
    case("mdpp-diabetes-diagnosed", "mdpp", MDPP, "Diabetes", "not_met", diabetes_diagnosis=True),
    case("mdpp-esrd", "mdpp", MDPP, "ESRD", "not_met", esrd=True),
    case("mdpp-esrd-not-recorded", "mdpp", MDPP, "ESRD", "unknown", esrd=None),
    case("mdpp-prior-mdpp", "mdpp", MDPP, "Prior MDPP", "not_met", prior_mdpp=True),
    case("mdpp-prior-mdpp-not-recorded", "mdpp", MDPP, "Prior MDPP", "unknown", prior_mdpp=None),
    # Other program types: medical clearance only
    case("youth-not-cleared", "youth", CLEARED, "Medical clearance", "not_met", cleared_for_exercise=False),
    case(
        "falls-prevention-clearance-missing",
        "falls_prevention",
        CLEARED,
        "Medical clearance",
        "unknown",
        cleared_for_exercise=None,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("program_type, base, changes, rule, expected", RULE_CASES)
def test_rule(program_type, base, changes, rule, expected):
    result = check_eligibility(make_referral(program_type, base, **changes))
    assert outcome_for(result, rule).status == expected, outcome_for(result, rule).reason
    assert result.status == EXPECTED_OVERALL[expected]


def test_every_rule_case_id_is_unique():
    ids = [param.id for param in RULE_CASES]
    assert len(ids) == len(set(ids))


# --- Reasons a clinician reads --------------------------------------------------------------------------------

REASON_CASES = [
    case(
        "dpp-diabetes-range-lab-is-named",
        "dpp",
        DPP,
        "Diabetes-range blood test",
        "A1c 6.8% is in the diabetes range (6.5% or more). Refer for diabetes care instead.",
        a1c_percent=Decimal("6.8"),
        gestational_diabetes_history=True,
    ),
    case(
        "mdpp-second-lab-in-diabetes-range-warns",
        "mdpp",
        MDPP,
        "Blood test",
        "Warning: Fasting glucose 130 mg/dL is in the diabetes range (126 mg/dL or more).",
        fasting_glucose=130,
    ),
    case(
        "mdpp-fpg-below-medicare-range",
        "mdpp",
        MDPP,
        "Blood test",
        "Fasting glucose 105 mg/dL is below the Medicare DPP range 110–125 mg/dL.",
        a1c_percent=None,
        fasting_glucose=105,
    ),
    case(
        "dpp-a1c-below-range",
        "dpp",
        DPP,
        "Prediabetes basis",
        "A1c 5.6% is below the CDC DPP range 5.7–6.4%.",
        a1c_percent=Decimal("5.6"),
    ),
    case(
        "dpp-met-names-the-basis",
        "dpp",
        DPP,
        "Prediabetes basis",
        "A1c 6.0% on 2026-06-01 is in the CDC DPP range 5.7–6.4%.",
        a1c_percent=Decimal("6"),
    ),
    case(
        "dpp-lab-too-old",
        "dpp",
        DPP,
        "Prediabetes basis",
        "Blood test from 2024-01-05 is more than 12 months before the referral date 2026-09-01.",
        lab_test_date=date(2024, 1, 5),
    ),
    case(
        "dpp-not-met-lists-every-failure",
        "dpp",
        DPP,
        "Prediabetes basis",
        "A1c 5.6% is below the CDC DPP range 5.7–6.4%. Prediabetes risk test score 3 is below 5.",
        a1c_percent=Decimal("5.6"),
        risk_test_score=3,
    ),
    case(
        "dpp-lab-date-missing-named",
        "dpp",
        DPP,
        "Prediabetes basis",
        "The blood test date is missing.",
        lab_test_date=None,
    ),
    case(
        "cr-mi-too-old",
        "cr",
        MI,
        "Qualifying event",
        "MI on 2025-09-01 is more than 12 months before the referral date 2026-09-03.",
        qualifying_event_date=date(2025, 9, 1),
        referral_date=date(2026, 9, 3),
    ),
    case(
        "cr-mi-date-missing-named", "cr", MI, "Qualifying event", "The MI date is missing", qualifying_event_date=None
    ),
    case("cr-hf-lvef-above", "cr", HF, "LVEF", "LVEF 36% is above 35%.", lvef_percent=36),
    case("cr-hf-lvef-missing-named", "cr", HF, "LVEF", "LVEF is missing.", lvef_percent=None),
    case("cr-hf-nyha-roman", "cr", HF, "NYHA class", "NYHA class I is below class II.", nyha_class=1),
    case("cr-hf-nyha-missing-named", "cr", HF, "NYHA class", "NYHA class is missing.", nyha_class=None),
    case(
        "cr-hf-therapy-missing-named",
        "cr",
        HF,
        "Optimal therapy",
        "Weeks of optimal heart-failure therapy are missing.",
        hf_optimal_therapy_weeks=None,
    ),
    case(
        "icr-names-intensive-cardiac-rehab",
        "icr",
        CABG,
        "Qualifying condition",
        "COPD is not a qualifying condition for intensive cardiac rehab",
        qualifying_condition="copd",
    ),
    case(
        "cr-condition-not-qualifying",
        "cr",
        CABG,
        "Qualifying condition",
        "COPD is not a qualifying condition for cardiac rehab",
        qualifying_condition="copd",
    ),
    case("pr-gold-missing-named", "pr", COPD, "GOLD stage", "COPD GOLD stage is missing.", gold_stage=None),
    case(
        "pr-fev1-fvc-not-below",
        "pr",
        COPD,
        "Spirometry",
        "FEV1/FVC 0.70 is not below 0.70.",
        fev1_fvc_ratio=Decimal("0.7"),
    ),
    case(
        "pr-spirometry-missing-named",
        "pr",
        COPD,
        "Spirometry",
        "Spirometry is incomplete: FEV1/FVC and FEV1 % predicted missing.",
        fev1_fvc_ratio=None,
        fev1_percent_predicted=None,
    ),
    case(
        "pr-covid-weeks-missing-named",
        "pr",
        COVID,
        "COVID symptoms",
        "Weeks of persistent post-COVID symptoms are missing.",
        covid_symptom_weeks=None,
    ),
    case("dpp-bmi-below", "dpp", DPP, "BMI", "BMI 24.9 is below 25.", bmi=Decimal("24.9")),
    case(
        "dpp-bmi-computed-shows-two-decimals",
        "dpp",
        DPP,
        "BMI",
        "BMI 24.98 is below 25.",
        bmi=None,
        height_cm=Decimal("170.0"),
        weight_kg=Decimal("72.2"),
    ),
    case(
        "dpp-asian-bmi-below",
        "dpp",
        DPP,
        "BMI",
        "BMI 22.9 is below 23 for Asian American patients.",
        bmi=Decimal("22.9"),
        asian_american=True,
    ),
    case("dpp-bmi-missing-named", "dpp", DPP, "BMI", "BMI is missing", bmi=None),
    case(
        "dpp-age-below",
        "dpp",
        DPP,
        "Age",
        "Age 17 at the referral date is below 18.",
        patient_date_of_birth=date(2009, 1, 1),
    ),
    case("dpp-birth-date-missing-named", "dpp", DPP, "Age", "Date of birth is missing.", patient_date_of_birth=None),
    case(
        "mdpp-self-reported-refused",
        "mdpp",
        MDPP,
        "Blood test",
        "Medicare does not accept self-reported results.",
        lab_self_reported=True,
    ),
    case(
        "mdpp-says-gdm-does-not-count",
        "mdpp",
        MDPP,
        "Blood test",
        "Gestational diabetes history and the risk test do not qualify for Medicare DPP.",
        a1c_percent=None,
        lab_test_date=None,
        gestational_diabetes_history=True,
    ),
    case(
        "mdpp-part-b-missing-named",
        "mdpp",
        MDPP,
        "Medicare Part B",
        "Medicare Part B enrollment is not recorded.",
        medicare_part_b=None,
    ),
    case(
        "youth-not-cleared-reason",
        "youth",
        CLEARED,
        "Medical clearance",
        "not cleared for exercise",
        cleared_for_exercise=False,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("program_type, base, changes, rule, text", REASON_CASES)
def test_reason(program_type, base, changes, rule, text):
    result = check_eligibility(make_referral(program_type, base, **changes))
    assert text in outcome_for(result, rule).reason


# --- Overall status and label ---------------------------------------------------------------------------------

OVERALL_CASES = [
    pytest.param({}, "eligible", "Eligible", id="all-met-eligible"),
    pytest.param({"pregnant": None}, "needs_information", "Needs information", id="one-unknown-needs-information"),
    pytest.param({"pregnant": True}, "not_eligible", "Not eligible", id="one-not-met-not-eligible"),
    pytest.param(
        {"pregnant": True, "bmi": None, "diabetes_diagnosis": None},
        "not_eligible",
        "Not eligible",
        id="not-met-outweighs-unknown",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("changes, status, label", OVERALL_CASES)
def test_overall_status(changes, status, label):
    result = check_eligibility(make_referral("dpp", DPP, **changes))
    assert (result.status, result.label, result.overridden) == (status, label, False)


OVERRIDE_CASES = [
    pytest.param(
        {"pregnant": True}, True, "Not eligible (overridden)", "Physician cleared her", id="not-eligible-overridden"
    ),
    pytest.param({}, False, "Eligible", "", id="override-ignored-when-eligible"),
    pytest.param({"pregnant": None}, False, "Needs information", "", id="override-ignored-when-needs-information"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("changes, overridden, label, override_reason", OVERRIDE_CASES)
def test_override(changes, overridden, label, override_reason):
    referral = make_referral("dpp", DPP, eligibility_override_reason="  Physician cleared her ", **changes)
    result = check_eligibility(referral)
    assert (result.overridden, result.label, result.override_reason) == (overridden, label, override_reason)


@pytest.mark.django_db
def test_overridden_result_keeps_not_eligible_status_and_outcomes():
    result = check_eligibility(make_referral("dpp", DPP, pregnant=True, eligibility_override_reason="Reviewed"))
    assert result.status == "not_eligible"
    assert outcome_for(result, "Pregnancy").status == "not_met"


# --- Thresholds come from the table, by effective date ---------------------------------------------------------

FPG_105_IN_2030 = {**MDPP, "a1c_percent": None, "fasting_glucose": 105}


@pytest.mark.django_db
@pytest.mark.parametrize("close_old_row", [False, True], ids=["old-row-left-open", "old-row-closed"])
@pytest.mark.parametrize(
    "referral_date, lab_date, expected",
    [
        pytest.param(date(2030, 3, 1), date(2030, 2, 1), "met", id="2030-referral-uses-new-range"),
        pytest.param(date(2026, 9, 1), date(2026, 8, 1), "not_met", id="2026-referral-uses-old-range"),
    ],
)
def test_threshold_effective_later_changes_result(close_old_row, referral_date, lab_date, expected):
    if close_old_row:
        EligibilityThreshold.objects.filter(key="mdpp.fpg_min").update(effective_to=date(2029, 12, 31))
    EligibilityThreshold.objects.create(
        key="mdpp.fpg_min", value=100, effective_from=date(2030, 1, 1), description="Medicare DPP FPG low end"
    )
    referral = make_referral("mdpp", FPG_105_IN_2030, referral_date=referral_date, lab_test_date=lab_date)
    assert outcome_for(check_eligibility(referral), "Blood test").status == expected


@pytest.mark.django_db
def test_missing_threshold_is_a_clear_error():
    EligibilityThreshold.objects.filter(key="dpp.min_age").delete()
    with pytest.raises(MissingThresholdError, match=r"'dpp\.min_age' is effective on 2026-09-01"):
        check_eligibility(make_referral("dpp", DPP))


@pytest.mark.django_db
def test_threshold_not_yet_effective_is_missing():
    with pytest.raises(MissingThresholdError, match="2017-06-01"):
        check_eligibility(make_referral("cr", MI, referral_date=date(2017, 6, 1)))


@pytest.mark.django_db
def test_check_runs_one_query(django_assert_num_queries):
    referral = make_referral("dpp", DPP)
    with django_assert_num_queries(1):
        check_eligibility(referral)


# --- Unsaved referrals as a form builds them ------------------------------------------------------------------


@pytest.mark.django_db
def test_referral_date_left_at_model_default_is_today():
    # The model default is timezone.now(), a datetime, until the referral is saved.
    referral = Referral(program=Program(program_type="youth"), cleared_for_exercise=True)
    assert check_eligibility(referral).status == "eligible"


@pytest.mark.django_db
def test_float_values_are_compared_exactly():
    # 6.4 as a float is 6.4000000000000003…; it must not read as above the range's top.
    result = check_eligibility(make_referral("dpp", DPP, a1c_percent=6.4, bmi=25.0))
    assert result.status == "eligible"


# --- Rules start when they started (dated rows, referrals/migrations/0008_dated_conditions.py) -------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "program_type, base, changes, rule, text",
    [
        pytest.param(
            "mdpp", MDPP, {"referral_date": date(2018, 2, 15), "lab_test_date": date(2018, 1, 10)},
            "Program in force", "Medicare DPP began on 2018-04-01; the referral date 2018-02-15 is before it.",
            id="mdpp-february-2018",
        ),
        pytest.param(
            "pr", {**COVID, "covid_symptom_weeks": 6},
            {"referral_date": date(2020, 6, 1)}, "Qualifying condition",
            "Post-COVID persistent symptoms qualifies for pulmonary rehab from 2022-01-01",
            id="post-covid-pr-june-2020",
        ),
        pytest.param(
            "icr", HF, {"referral_date": date(2018, 6, 1)}, "Qualifying condition",
            "Stable chronic heart failure qualifies for intensive cardiac rehab from 2019-01-01",
            id="icr-heart-failure-june-2018",
        ),
    ],
)  # fmt: skip
def test_a_rule_does_not_apply_before_it_started(program_type, base, changes, rule, text):
    result = check_eligibility(make_referral(program_type, base, **changes))
    assert outcome_for(result, rule).status == "not_met"
    assert text in outcome_for(result, rule).reason
    assert result.status == "not_eligible"


@pytest.mark.django_db
def test_heart_failure_qualifies_for_cardiac_rehab_from_february_2014_in_the_data():
    from referrals.models import EligibilityThreshold

    row = EligibilityThreshold.objects.get(key="cr.condition.heart_failure")
    assert row.effective_from == date(2014, 2, 18)


# --- Judged at the rule's own date: enrollment, the first session ------------------------------------------


def started(referral: Referral, *, enrolled: date, first_session: date | None = None) -> Referral:
    """The referral of a patient enrolled on `enrolled` whose first session was on `first_session`."""
    first_session_at = (
        timezone.make_aware(datetime.datetime.combine(first_session, datetime.time(9))) if first_session else None
    )
    referral.enrollment = Enrollment(start_date=enrolled, first_session_at=first_session_at)
    return referral


@pytest.mark.django_db
def test_a_cardiac_event_window_runs_to_the_first_session():
    referral = started(
        make_referral("cr", MI, qualifying_event_date=date(2025, 10, 1)),
        enrolled=date(2026, 9, 15), first_session=date(2026, 10, 5),
    )  # fmt: skip
    outcome = outcome_for(check_eligibility(referral), "Qualifying event")
    assert (outcome.status, outcome.reason) == (
        "not_met",
        "MI on 2025-10-01 is more than 12 months before the first session 2026-10-05.",
    )


@pytest.mark.django_db
def test_a_medicare_dpp_blood_test_must_fall_within_12_months_before_the_first_session():
    referral = started(
        make_referral("mdpp", MDPP, lab_test_date=date(2025, 10, 1)),
        enrolled=date(2026, 9, 15), first_session=date(2026, 10, 5),
    )  # fmt: skip
    outcome = outcome_for(check_eligibility(referral), "Blood test")
    assert outcome.status == "not_met"
    assert "before the first session 2026-10-05" in outcome.reason


@pytest.mark.django_db
def test_a_blood_test_drawn_after_the_referral_but_before_the_first_session_counts():
    referral = started(
        make_referral("mdpp", MDPP, lab_test_date=date(2026, 9, 20)),
        enrolled=date(2026, 9, 15), first_session=date(2026, 10, 5),
    )  # fmt: skip
    assert outcome_for(check_eligibility(referral), "Blood test").status == "met"


@pytest.mark.django_db
def test_cdc_dpp_judges_age_at_enrollment():
    referral = started(make_referral("dpp", DPP, patient_date_of_birth=date(2008, 9, 10)), enrolled=date(2026, 9, 15))
    outcome = outcome_for(check_eligibility(referral), "Age")
    assert (outcome.status, outcome.reason) == ("met", "Age 18 at enrollment is at least 18.")


@pytest.mark.django_db
def test_medicare_dpp_without_a_weight_at_the_first_session_needs_information():
    referral = started(make_referral("mdpp", MDPP), enrolled=date(2026, 9, 15), first_session=date(2026, 10, 5))
    outcome = outcome_for(check_eligibility(referral), "BMI")
    assert outcome.status == "unknown"
    assert "the first session 2026-10-05" in outcome.reason


def test_medicare_dpp_counts_the_bmi_measured_at_the_first_session(clinic_a, patient_a, team_a):
    program = make_program(clinic_a, "mdpp", name="Medicare DPP")
    enrollment = Enrollment.objects.create(
        clinic=clinic_a, patient=patient_a, program=program, start_date=date(2026, 9, 15),
        first_session_at=timezone.make_aware(datetime.datetime(2026, 10, 5, 9)),
    )  # fmt: skip
    referral = make_referral("mdpp", MDPP, bmi=Decimal("27.0"), height_cm=Decimal("170"))
    referral.clinic, referral.patient, referral.program, referral.enrollment = clinic_a, patient_a, program, enrollment
    Observation.objects.create(
        clinic=clinic_a, patient=patient_a, enrollment=enrollment, measure=Measure.objects.get(code="29463-7"),
        value=Decimal("70.0"), unit="kg", observed_at=enrollment.first_session_at, source="session", source_id=1,
        recorded_by=team_a["physiologist"].membership,
    )  # fmt: skip
    outcome = outcome_for(check_eligibility(referral), "BMI")
    assert (outcome.status, outcome.reason) == ("not_met", "At the first session 2026-10-05: BMI 24.22 is below 25.")


def test_the_floor_sheet_warns_of_a_medicare_dpp_patient_not_eligible_at_the_first_session(clinic_a, patient_a):
    from referrals.selectors import medicare_dpp_warnings_at_first_session

    program = make_program(clinic_a, "mdpp", name="Medicare DPP")
    first_session = timezone.make_aware(datetime.datetime(2026, 10, 5, 9))
    late, on_time = (
        Enrollment.objects.create(
            clinic=clinic_a,
            patient=patient_a,
            program=program,
            start_date=date(2026, 9, 15),
            first_session_at=first_session,
        )
        for _ in range(2)
    )
    fields = {**MDPP, "bmi": None, "referral_date": REFERRAL_DATE}
    saved_referral(clinic_a, patient_a, program, late, {**fields, "lab_test_date": date(2025, 10, 1)})
    saved_referral(clinic_a, patient_a, program, on_time, {**fields, "lab_test_date": date(2026, 6, 1)})
    warnings = medicare_dpp_warnings_at_first_session(clinic=clinic_a, enrollment_ids=[late.pk, on_time.pk])
    assert list(warnings) == [late.pk]
    assert warnings[late.pk].startswith(
        "Not eligible for Medicare DPP at the first session: Blood test from 2025-10-01"
    )


def saved_referral(clinic, patient, program, enrollment, fields):
    from tests.conftest import make_referral as save_referral

    return save_referral(clinic, patient, program=program, enrollment=enrollment, **fields)


@pytest.mark.parametrize("patients", [1, 6])
def test_the_floor_sheet_judges_medicare_dpp_patients_in_three_queries_however_many(
    clinic_a, team_a, patients, django_assert_max_num_queries
):
    """The referrals, the thresholds of their dates (each on its own day) and the first-session weights; every
    other patient weighed in under a BMI of 25 at the first session and is warned."""
    from referrals.selectors import medicare_dpp_warnings_at_first_session
    from tests.conftest import make_patient

    program = make_program(clinic_a, "mdpp", name="Medicare DPP")
    weight = Measure.objects.get(code="29463-7", clinic=None)
    enrollments, light = [], []
    for number in range(patients):
        patient = make_patient(clinic_a, mrn=f"MDPP{number}")
        first_session = timezone.make_aware(datetime.datetime(2026, 10, 5 + number, 9))
        enrollment = Enrollment.objects.create(
            clinic=clinic_a, patient=patient, program=program, start_date=date(2026, 9, 15),
            first_session_at=first_session,
        )  # fmt: skip
        fields = {**MDPP, "height_cm": Decimal("170"), "referral_date": REFERRAL_DATE + datetime.timedelta(number)}
        saved_referral(clinic_a, patient, program, enrollment, fields)
        kilograms = Decimal("70.0") if number % 2 == 0 else Decimal("80.0")  # BMI 24.22 or 27.68
        Observation.objects.create(
            clinic=clinic_a, patient=patient, enrollment=enrollment, measure=weight, value=kilograms, unit="kg",
            observed_at=first_session, source="session", source_id=number, recorded_by=team_a["admin"].membership,
        )  # fmt: skip
        enrollments.append(enrollment.pk)
        if number % 2 == 0:
            light.append(enrollment.pk)
    with django_assert_max_num_queries(3):
        warnings = medicare_dpp_warnings_at_first_session(clinic=clinic_a, enrollment_ids=enrollments)
    assert sorted(warnings) == sorted(light)
    assert all("BMI 24.22 is below 25" in warnings[pk] for pk in light)
