"""Is a referred patient eligible for the program they were referred to?

One small function per program type turns the referral's clinical fields into a list of rule outcomes a clinician
can read ("BMI 24.9 is below 25."). The numbers the rules compare against live in EligibilityThreshold rows with
an effective date range, because CMS and CDC change them from year to year; none are written here. Sources for
every value are in referrals/migrations/0002_eligibility_thresholds.py and the domain reference (§1.2, §2.3, §3.2).

The result is advice for staff, not a gate: staff can override a not-eligible result with a written reason.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Q
from django.utils.timezone import localdate

from clinic.compiled import CompiledQuery
from referrals.models import EligibilityThreshold, Referral

MET = "met"
NOT_MET = "not_met"
UNKNOWN = "unknown"

ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not_eligible"
NEEDS_INFORMATION = "needs_information"

STATUS_LABELS = {
    ELIGIBLE: "Eligible",
    NOT_ELIGIBLE: "Not eligible",
    NEEDS_INFORMATION: "Needs information",
}

# GOLD has four stages; stage 4 (very severe) is the top of the scale, not a payer threshold.
HIGHEST_GOLD_STAGE = 4

NYHA_NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV"}

BODY_WEIGHT_LOINC = "29463-7"  # the floor sheet's weight observations (clinic/migrations/0011_floor_sheet_measures.py)


@dataclass(frozen=True)
class RuleOutcome:
    rule: str  # short name, e.g. "Qualifying event", "BMI", "Blood test"
    status: str  # MET | NOT_MET | UNKNOWN
    reason: str  # a sentence a clinician reads, with the numbers


@dataclass(frozen=True)
class Eligibility:
    status: str  # ELIGIBLE | NOT_ELIGIBLE | NEEDS_INFORMATION
    outcomes: list[RuleOutcome]
    overridden: bool  # staff overrode a not-eligible result
    override_reason: str

    @property
    def label(self) -> str:
        if self.overridden:
            return "Not eligible (overridden)"
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class JudgedAt:
    """The day a time window or an age is judged at, and how the reason names it.

    Before the patient starts, that is the referral date. The rules then move it (42 CFR 410.79; NCD 20.10):
    a CR/ICR qualifying event's 12-month window and a Medicare DPP blood test's 12 months run to the first
    session; CDC DPP judges age and the blood test at enrollment. `latest_lab_day` is the last day a blood
    test may be drawn: a test taken after the referral but before the first session counts.
    """

    day: date
    name: str  # "the referral date", "the first session", "enrollment"
    latest_lab_day: date

    def __str__(self):
        return f"{self.name} {self.day.isoformat()}"


class MissingThresholdError(LookupError):
    """A rule asked for a threshold that has no row effective on the referral date: fix the data, not the patient."""


class Thresholds(dict):
    """The thresholds effective on one date, by key. Asking for a key that is not there raises MissingThresholdError."""

    def __init__(self, values: dict, on_date: date):
        super().__init__(values)
        self.on_date = on_date

    def __missing__(self, key):
        raise MissingThresholdError(
            f"No eligibility threshold {key!r} is effective on {self.on_date.isoformat()}. "
            "Add an EligibilityThreshold row for it (see referrals/migrations/0002_eligibility_thresholds.py)."
        )


def load_thresholds(on_date: date) -> Thresholds:
    """All thresholds effective on the date, in one query."""
    return load_thresholds_on({on_date})[on_date]


# The thresholds in force at some time between two dates, compiled once (clinic.compiled: through the ORM,
# compiling it was most of the referral page's eligibility check; issue 11). The samples: two dates no rule has.
THRESHOLDS_BETWEEN = CompiledQuery(
    lambda first, last: EligibilityThreshold.objects.filter(effective_from__lte=last)
    .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=first))
    .order_by("key", "effective_from")
    .values_list("key", "value", "effective_from", "effective_to"),
    first=date(1, 1, 1), last=date(1, 1, 2),
)  # fmt: skip


def load_thresholds_on(days: set[date]) -> dict[date, Thresholds]:
    """All thresholds effective on each of these dates, in one query whatever their number."""
    rows = THRESHOLDS_BETWEEN.rows(first=min(days), last=max(days))
    # Oldest first, so if someone adds a new row without closing the old one, the newer rule wins.
    in_force = {day: {} for day in days}
    for key, value, start, end in rows:
        for day in days:
            if start <= day and (end is None or end >= day):
                in_force[day][key] = value
    return {day: Thresholds(values, day) for day, values in in_force.items()}


@dataclass(frozen=True)
class Preloaded:
    """What judging many referrals at once reads in bulk instead of per referral (the floor sheet's Medicare
    DPP rows): the thresholds by referral date, and the first-session weights by (patient id, day)."""

    thresholds: dict[date, Thresholds]
    weights: dict[tuple[int, date], Decimal]


def check_eligibility(referral: Referral, preloaded: Preloaded | None = None) -> Eligibility:
    on_date = referral_day(referral)
    thresholds = preloaded.thresholds[on_date] if preloaded else load_thresholds(on_date)
    weights = preloaded.weights if preloaded else None
    program_type = referral.program.program_type
    judged_at = judgment_day(referral)

    if program_type in ("cr", "icr"):
        outcomes = cardiac_rehab_rules(referral, on_date, judged_at, thresholds)
    elif program_type == "pr":
        outcomes = pulmonary_rehab_rules(referral, thresholds)
    elif program_type == "dpp":
        outcomes = cdc_dpp_rules(referral, judged_at, thresholds)
    elif program_type == "mdpp":
        outcomes = medicare_dpp_rules(referral, on_date, judged_at, thresholds, weights)
    else:
        # Post-rehab, chronic disease, falls prevention and the other community programs have no payer rules:
        # the only question is whether a physician cleared the patient to exercise.
        outcomes = [medical_clearance_rule(referral)]

    status = overall_status(outcomes)
    override_reason = (referral.eligibility_override_reason or "").strip()
    # An override only means something against a not-eligible result; if the data later changes so the patient
    # qualifies (or information is missing again), the computed result speaks for itself.
    overridden = status == NOT_ELIGIBLE and bool(override_reason)
    return Eligibility(
        status=status,
        outcomes=outcomes,
        overridden=overridden,
        override_reason=override_reason if overridden else "",
    )


def overall_status(outcomes: list[RuleOutcome]) -> str:
    statuses = {outcome.status for outcome in outcomes}
    if NOT_MET in statuses:
        return NOT_ELIGIBLE
    if UNKNOWN in statuses:
        return NEEDS_INFORMATION
    return ELIGIBLE


def eligibility_or_unknown(referral: Referral, preloaded: Preloaded | None = None) -> Eligibility:
    """check_eligibility for pages and the API: a referral dated before any rule is on record shows
    "needs information" with the reason, instead of failing."""
    try:
        return check_eligibility(referral, preloaded)
    except MissingThresholdError:
        reason = (
            f"No eligibility rules are on record for {referral_day(referral).isoformat()}; check the referral date."
        )
        return Eligibility(
            status=NEEDS_INFORMATION,
            outcomes=[RuleOutcome(rule="Eligibility rules", status=UNKNOWN, reason=reason)],
            overridden=False,
            override_reason="",
        )


def judgment_day(referral: Referral) -> JudgedAt:
    """Where the program's time windows end; see JudgedAt."""
    referred = referral_day(referral)
    enrollment = referral.enrollment  # None, without a query, when there is none
    program_type = referral.program.program_type
    if program_type in ("cr", "icr", "mdpp") and enrollment and enrollment.first_session_at:
        first = localdate(enrollment.first_session_at)
        return JudgedAt(first, "the first session", first)
    if program_type == "dpp" and enrollment:
        return JudgedAt(enrollment.start_date, "enrollment", enrollment.start_date)
    return JudgedAt(referred, "the referral date", max(referred, localdate()))


def referral_day(referral: Referral) -> date:
    value = referral.referral_date
    # The model's default is timezone.now(), so an unsaved referral carries a datetime until it is saved.
    if isinstance(value, datetime):
        return localdate(value)
    if value is None:
        return localdate()
    return value


# --- Cardiac rehab (CR and ICR) -------------------------------------------------------------------------------


def cardiac_rehab_rules(
    referral: Referral, on_date: date, judged_at: JudgedAt, thresholds: Thresholds
) -> list[RuleOutcome]:
    condition = referral.qualifying_condition
    program_type = referral.program.program_type
    program_name = "intensive cardiac rehab" if program_type == "icr" else "cardiac rehab"
    outcomes = [qualifying_condition_rule(condition, program_type, program_name, on_date, thresholds)]
    if condition == "mi":
        outcomes.append(mi_window_rule(referral, judged_at, thresholds))
    elif condition == "heart_failure":
        outcomes += heart_failure_rules(referral, thresholds)
    outcomes.append(medical_clearance_rule(referral))
    return outcomes


def mi_window_rule(referral: Referral, judged_at: JudgedAt, thresholds: Thresholds) -> RuleOutcome:
    rule = "Qualifying event"
    months = int(thresholds["cr.mi_window_months"])
    event_date = referral.qualifying_event_date
    if event_date is None:
        return RuleOutcome(rule, UNKNOWN, "The MI date is missing; CR covers an MI within the preceding 12 months.")
    if event_date > judged_at.day:
        return RuleOutcome(rule, NOT_MET, f"MI on {event_date.isoformat()} is after {judged_at}.")
    # Calendar months, inclusive: an MI on 2025-09-01 still counts for a referral dated 2026-09-01.
    if event_date < judged_at.day - relativedelta(months=months):
        return RuleOutcome(
            rule, NOT_MET, f"MI on {event_date.isoformat()} is more than {months} months before {judged_at}."
        )
    return RuleOutcome(rule, MET, f"MI on {event_date.isoformat()} is within {months} months before {judged_at}.")


def heart_failure_rules(referral: Referral, thresholds: Thresholds) -> list[RuleOutcome]:
    """Stable chronic heart failure: LVEF ≤ 35% and NYHA II–IV despite ≥ 6 weeks of optimal therapy (NCD 20.10.1)."""
    max_lvef = thresholds["cr.hf_max_lvef"]
    min_nyha = int(thresholds["cr.hf_min_nyha"])
    min_weeks = thresholds["cr.hf_min_optimal_therapy_weeks"]
    outcomes = []

    lvef = referral.lvef_percent
    if lvef is None:
        outcomes.append(RuleOutcome("LVEF", UNKNOWN, "LVEF is missing."))
    elif lvef <= max_lvef:
        outcomes.append(RuleOutcome("LVEF", MET, f"LVEF {lvef}% is at or below {num(max_lvef)}%."))
    else:
        outcomes.append(RuleOutcome("LVEF", NOT_MET, f"LVEF {lvef}% is above {num(max_lvef)}%."))

    nyha = referral.nyha_class
    if nyha is None:
        outcomes.append(RuleOutcome("NYHA class", UNKNOWN, "NYHA class is missing."))
    elif nyha >= min_nyha:
        outcomes.append(
            RuleOutcome(
                "NYHA class", MET, f"NYHA class {nyha_numeral(nyha)} is class {nyha_numeral(min_nyha)} or worse."
            )
        )
    else:
        outcomes.append(
            RuleOutcome(
                "NYHA class", NOT_MET, f"NYHA class {nyha_numeral(nyha)} is below class {nyha_numeral(min_nyha)}."
            )
        )

    outcomes.append(heart_failure_stability_rule(referral, thresholds))

    weeks = referral.hf_optimal_therapy_weeks
    if weeks is None:
        outcomes.append(RuleOutcome("Optimal therapy", UNKNOWN, "Weeks of optimal heart-failure therapy are missing."))
    elif weeks >= min_weeks:
        outcomes.append(
            RuleOutcome(
                "Optimal therapy", MET, f"{weeks} weeks of optimal heart-failure therapy is at least {num(min_weeks)}."
            )
        )
    else:
        outcomes.append(
            RuleOutcome(
                "Optimal therapy",
                NOT_MET,
                f"{weeks} weeks of optimal heart-failure therapy is fewer than {num(min_weeks)}.",
            )
        )
    return outcomes


def heart_failure_stability_rule(referral: Referral, thresholds: Thresholds) -> RuleOutcome:
    """Stable means no major cardiovascular hospitalization or procedure in the past 6 weeks and none
    planned in the next 6 months (NCD 20.10.1)."""
    rule = "Heart-failure stability"
    weeks = num(thresholds["cr.hf_stable_no_event_weeks"])
    months = num(thresholds["cr.hf_stable_none_planned_months"])
    recent, planned = referral.hf_recent_cv_event, referral.hf_planned_cv_procedure
    unstable = []
    if recent:
        unstable.append(f"a major cardiovascular hospitalization or procedure in the past {weeks} weeks")
    if planned:
        unstable.append(f"one planned in the next {months} months")
    if unstable:
        return RuleOutcome(rule, NOT_MET, f"Not stable: {' and '.join(unstable)}.")
    if recent is None or planned is None:
        return RuleOutcome(
            rule,
            UNKNOWN,
            f"Stability is not recorded: any major cardiovascular hospitalization or procedure in the past "
            f"{weeks} weeks, or one planned in the next {months} months.",
        )
    return RuleOutcome(
        rule,
        MET,
        f"No major cardiovascular hospitalization or procedure in the past {weeks} weeks, none planned in the next "
        f"{months} months.",
    )


# --- Pulmonary rehab ------------------------------------------------------------------------------------------


def pulmonary_rehab_rules(referral: Referral, thresholds: Thresholds) -> list[RuleOutcome]:
    condition = referral.qualifying_condition
    outcomes = [qualifying_condition_rule(condition, "pr", "pulmonary rehab", referral_day(referral), thresholds)]
    if condition == "copd":
        outcomes.append(gold_stage_rule(referral, thresholds))
        outcomes.append(spirometry_rule(referral, thresholds))
    elif condition == "post_covid":
        outcomes.append(covid_diagnosis_rule(referral))
        outcomes.append(covid_symptoms_rule(referral, thresholds))
    outcomes.append(medical_clearance_rule(referral))
    return outcomes


def gold_stage_rule(referral: Referral, thresholds: Thresholds) -> RuleOutcome:
    min_gold = int(thresholds["pr.copd_min_gold"])
    gold = referral.gold_stage
    if gold is None:
        return RuleOutcome("GOLD stage", UNKNOWN, "COPD GOLD stage is missing.")
    if min_gold <= gold <= HIGHEST_GOLD_STAGE:
        return RuleOutcome("GOLD stage", MET, f"COPD GOLD stage {gold} is within GOLD {min_gold}–{HIGHEST_GOLD_STAGE}.")
    return RuleOutcome(
        "GOLD stage", NOT_MET, f"COPD GOLD stage {gold} is outside GOLD {min_gold}–{HIGHEST_GOLD_STAGE}."
    )


def spirometry_rule(referral: Referral, thresholds: Thresholds) -> RuleOutcome:
    """The MAC articles ask for PFTs showing obstruction: FEV1/FVC < 0.70 and FEV1 < 80% predicted."""
    max_ratio = thresholds["pr.copd_max_fev1_fvc"]
    max_percent = thresholds["pr.copd_max_fev1_percent"]
    ratio = to_decimal(referral.fev1_fvc_ratio)
    percent = referral.fev1_percent_predicted
    met, failed, missing = [], [], []

    if ratio is None:
        missing.append("FEV1/FVC")
    elif ratio < max_ratio:
        met.append(f"FEV1/FVC {ratio:.2f} is below {max_ratio:.2f}.")
    else:
        failed.append(f"FEV1/FVC {ratio:.2f} is not below {max_ratio:.2f}.")

    if percent is None:
        missing.append("FEV1 % predicted")
    elif percent < max_percent:
        met.append(f"FEV1 {percent}% predicted is below {num(max_percent)}%.")
    else:
        failed.append(f"FEV1 {percent}% predicted is not below {num(max_percent)}%.")

    if failed:
        return RuleOutcome("Spirometry", NOT_MET, " ".join(failed))
    if missing:
        sentences = [f"Spirometry is incomplete: {' and '.join(missing)} missing.", *met]
        return RuleOutcome("Spirometry", UNKNOWN, " ".join(sentences))
    return RuleOutcome("Spirometry", MET, " ".join(met))


def covid_diagnosis_rule(referral: Referral) -> RuleOutcome:
    rule = "COVID-19 diagnosis"
    if referral.covid_confirmed_or_suspected is None:
        return RuleOutcome(rule, UNKNOWN, "Whether COVID-19 was confirmed or suspected is not recorded.")
    if referral.covid_confirmed_or_suspected:
        return RuleOutcome(rule, MET, "Confirmed or suspected COVID-19.")
    return RuleOutcome(rule, NOT_MET, "Post-COVID pulmonary rehab needs confirmed or suspected COVID-19.")


def covid_symptoms_rule(referral: Referral, thresholds: Thresholds) -> RuleOutcome:
    min_weeks = thresholds["pr.covid_min_symptom_weeks"]
    weeks = referral.covid_symptom_weeks
    if weeks is None:
        return RuleOutcome("COVID symptoms", UNKNOWN, "Weeks of persistent post-COVID symptoms are missing.")
    if weeks >= min_weeks:
        return RuleOutcome("COVID symptoms", MET, f"{weeks} weeks of persistent symptoms is at least {num(min_weeks)}.")
    return RuleOutcome(
        "COVID symptoms", NOT_MET, f"{weeks} weeks of persistent symptoms is fewer than {num(min_weeks)}."
    )


# --- CDC National DPP -----------------------------------------------------------------------------------------


def cdc_dpp_rules(referral: Referral, judged_at: JudgedAt, thresholds: Thresholds) -> list[RuleOutcome]:
    return [
        age_rule(referral, judged_at, thresholds),
        bmi_rule(referral, thresholds["dpp.min_bmi"], thresholds["dpp.min_bmi_asian"]),
        no_diabetes_rule(referral),
        no_diabetes_range_lab_rule(referral, thresholds),
        not_pregnant_rule(referral),
        prediabetes_basis_rule(referral, judged_at, thresholds),
    ]


def diabetes_range_results(referral: Referral, thresholds: Thresholds) -> list[str]:
    """Sentences for each blood-test result in the diabetes range, whatever else qualifies."""
    sentences = []
    for name, value, key, unit, decimals in lab_results(referral):
        low = thresholds[f"diabetes.{key}_min"]
        if value is not None and value >= low:
            sentences.append(
                f"{name} {value:.{decimals}f}{unit} is in the diabetes range ({low:.{decimals}f}{unit} or more)."
            )
    return sentences


def no_diabetes_range_lab_rule(referral: Referral, thresholds: Thresholds) -> RuleOutcome:
    """CDC DPP is for prediabetes: a result in the diabetes range rules the patient out, even beside
    previous gestational diabetes or a high risk-test score."""
    rule = "Diabetes-range blood test"
    sentences = diabetes_range_results(referral, thresholds)
    if sentences:
        return RuleOutcome(rule, NOT_MET, " ".join([*sentences, "Refer for diabetes care instead."]))
    return RuleOutcome(rule, MET, "No blood test result in the diabetes range.")


def age_rule(referral: Referral, judged_at: JudgedAt, thresholds: Thresholds) -> RuleOutcome:
    min_age = thresholds["dpp.min_age"]
    birth_date = referral.patient_date_of_birth
    if birth_date is None:
        return RuleOutcome("Age", UNKNOWN, "Date of birth is missing.")
    age = relativedelta(judged_at.day, birth_date).years
    if age >= min_age:
        return RuleOutcome("Age", MET, f"Age {age} at {judged_at.name} is at least {num(min_age)}.")
    return RuleOutcome("Age", NOT_MET, f"Age {age} at {judged_at.name} is below {num(min_age)}.")


def prediabetes_basis_rule(referral: Referral, judged_at: JudgedAt, thresholds: Thresholds) -> RuleOutcome:
    """CDC accepts any one of: a recent blood test in range, previous gestational diabetes, a high risk-test score."""
    rule = "Prediabetes basis"
    lab_status, lab_sentences = blood_test_findings(referral, judged_at, thresholds, "dpp", "CDC DPP")
    met, failed = [], []
    if lab_status == MET:
        met += lab_sentences
    elif lab_status == NOT_MET:
        failed += lab_sentences

    if referral.gestational_diabetes_history:
        met.append("Previous gestational diabetes.")

    min_score = thresholds["dpp.min_risk_score"]
    score = referral.risk_test_score
    if score is not None and score >= min_score:
        met.append(f"Prediabetes risk test score {score} is at least {num(min_score)}.")
    elif score is not None:
        failed.append(f"Prediabetes risk test score {score} is below {num(min_score)}.")

    if met:
        return RuleOutcome(rule, MET, " ".join(met))
    if lab_status == UNKNOWN:
        # A blood test without a date may still qualify once the date is known.
        return RuleOutcome(rule, UNKNOWN, " ".join(lab_sentences + failed))
    if failed:
        if referral.gestational_diabetes_history is False:
            failed.append("No previous gestational diabetes.")
        return RuleOutcome(rule, NOT_MET, " ".join(failed))
    # "No gestational diabetes" on its own rules nothing out: a blood test or the risk test may still qualify.
    return RuleOutcome(
        rule,
        UNKNOWN,
        "No prediabetes basis recorded: enter a blood test, previous gestational diabetes or a risk test score.",
    )


# --- Medicare DPP ---------------------------------------------------------------------------------------------


def medicare_dpp_rules(
    referral: Referral, on_date: date, judged_at: JudgedAt, thresholds: Thresholds, weights: dict | None = None
) -> list[RuleOutcome]:
    # No age rule: Medicare Part B enrollment already covers who can take part.
    return [
        program_started_rule("mdpp.program_start", "Medicare DPP", on_date, thresholds),
        medicare_part_b_rule(referral),
        medicare_bmi_rule(referral, judged_at, thresholds, weights),
        medicare_blood_test_rule(referral, judged_at, thresholds),
        no_diabetes_rule(referral),
        no_esrd_rule(referral),
        no_prior_mdpp_rule(referral),
    ]


def medicare_part_b_rule(referral: Referral) -> RuleOutcome:
    if referral.medicare_part_b is None:
        return RuleOutcome("Medicare Part B", UNKNOWN, "Medicare Part B enrollment is not recorded.")
    if referral.medicare_part_b:
        return RuleOutcome("Medicare Part B", MET, "Enrolled in Medicare Part B.")
    return RuleOutcome("Medicare Part B", NOT_MET, "Not enrolled in Medicare Part B.")


def medicare_bmi_rule(
    referral: Referral, judged_at: JudgedAt, thresholds: Thresholds, weights: dict | None = None
) -> RuleOutcome:
    """Medicare counts the BMI measured at the first core session (42 CFR 410.79(c)(1)(i)); until then the
    referral's BMI stands in for it. `weights`: first_session_weights(), when read in bulk."""
    low, low_asian = thresholds["mdpp.min_bmi"], thresholds["mdpp.min_bmi_asian"]
    if judged_at.name != "the first session":
        return bmi_rule(referral, low, low_asian)
    height_cm = to_decimal(referral.height_cm)
    if weights is None:
        weight_kg = first_session_weight_kg(referral, judged_at.day)
    else:
        weight_kg = weights.get((referral.patient_id, judged_at.day))
    if weight_kg is None or not height_cm:
        missing = "weight" if weight_kg is None else "height"
        return RuleOutcome(
            "BMI", UNKNOWN, f"No {missing} on record for {judged_at}; Medicare counts the BMI measured there."
        )
    height_m = height_cm / 100
    outcome = bmi_rule_for(weight_kg / (height_m * height_m), referral.asian_american, low, low_asian)
    return RuleOutcome(outcome.rule, outcome.status, f"At {judged_at}: {outcome.reason}")


def first_session_weight_kg(referral: Referral, day: date) -> Decimal | None:
    """The body weight recorded on the floor sheet on the day of the first session (clinic.Observation)."""
    from clinic.models import Observation

    observation = (
        Observation.objects.filter(
            clinic_id=referral.clinic_id, patient_id=referral.patient_id, measure__code=BODY_WEIGHT_LOINC,
            observed_at__date=day,
        )
        .order_by("observed_at")
        .first()
    )  # fmt: skip
    return observation.value if observation else None


def first_session_weights(clinic_id: int, patient_days: set[tuple[int, date]]) -> dict[tuple[int, date], Decimal]:
    """first_session_weight_kg for many (patient id, day) pairs in one query: the earliest weight of each."""
    from clinic.models import Observation

    if not patient_days:
        return {}
    observations = Observation.objects.filter(
        clinic_id=clinic_id, patient_id__in={patient for patient, _ in patient_days}, measure__code=BODY_WEIGHT_LOINC,
        observed_at__date__in={day for _, day in patient_days},
    ).order_by("observed_at")  # fmt: skip
    weights = {}
    for observation in observations:
        key = (observation.patient_id, localdate(observation.observed_at))
        if key in patient_days:
            weights.setdefault(key, observation.value)
    return weights


def medicare_blood_test_rule(referral: Referral, judged_at: JudgedAt, thresholds: Thresholds) -> RuleOutcome:
    """Medicare accepts only a lab blood test (42 CFR 410.79(c)); gestational diabetes and risk tests do not count."""
    rule = "Blood test"
    if not has_lab_values(referral):
        reason = "No blood test result (A1c, fasting glucose or 2-h OGTT) is recorded."
        if referral.gestational_diabetes_history or referral.risk_test_score is not None:
            reason += " Gestational diabetes history and the risk test do not qualify for Medicare DPP."
        return RuleOutcome(rule, UNKNOWN, reason)
    if referral.lab_self_reported:
        return RuleOutcome(
            rule, NOT_MET, "The blood test result is self-reported; Medicare does not accept self-reported results."
        )
    status, sentences = blood_test_findings(referral, judged_at, thresholds, "mdpp", "Medicare DPP")
    if status == MET:
        # One result in range qualifies; another in the diabetes range is worth a second look.
        warnings = diabetes_range_results(referral, thresholds)
        if warnings:
            sentences += ["Warning:", *warnings, "Confirm that the patient does not have diabetes."]
    return RuleOutcome(rule, status, " ".join(sentences))


def no_esrd_rule(referral: Referral) -> RuleOutcome:
    if referral.esrd is None:
        return RuleOutcome("ESRD", UNKNOWN, "Whether the patient has end-stage renal disease is not recorded.")
    if referral.esrd:
        return RuleOutcome("ESRD", NOT_MET, "Has end-stage renal disease; Medicare DPP excludes ESRD.")
    return RuleOutcome("ESRD", MET, "No end-stage renal disease.")


def no_prior_mdpp_rule(referral: Referral) -> RuleOutcome:
    if referral.prior_mdpp is None:
        return RuleOutcome(
            "Prior MDPP", UNKNOWN, "Whether the patient has received Medicare DPP before is not recorded."
        )
    if referral.prior_mdpp:
        return RuleOutcome(
            "Prior MDPP", NOT_MET, "Has received Medicare DPP before; it is a once-per-lifetime benefit."
        )
    return RuleOutcome("Prior MDPP", MET, "Has not received Medicare DPP before.")


# --- Rules shared by several programs -------------------------------------------------------------------------


def accepted_conditions(program_type: str, thresholds: Thresholds) -> list[str]:
    """The conditions that qualify for the program on the thresholds' date (rows "<type>.condition.<code>"),
    in the order of Referral.Condition."""
    return [code for code in Referral.Condition.values if f"{program_type}.condition.{code}" in thresholds]


def first_accepted_on(key: str, after: date) -> date | None:
    """When a condition or program that does not count yet on `after` starts to count, if it does."""
    later = EligibilityThreshold.objects.filter(key=key, effective_from__gt=after).order_by("effective_from")
    return later.values_list("effective_from", flat=True).first()


def qualifying_condition_rule(
    condition: str, program_type: str, program_name: str, on_date: date, thresholds: Thresholds
) -> RuleOutcome:
    rule = "Qualifying condition"
    if not condition:
        return RuleOutcome(rule, UNKNOWN, "The qualifying condition is missing.")
    label = condition_label(condition)
    accepted = accepted_conditions(program_type, thresholds)
    if condition in accepted:
        return RuleOutcome(rule, MET, f"{label} is a qualifying condition for {program_name}.")
    starts = first_accepted_on(f"{program_type}.condition.{condition}", on_date)
    if starts is not None:
        return RuleOutcome(
            rule,
            NOT_MET,
            f"{label} qualifies for {program_name} from {starts.isoformat()}; "
            f"the referral date {on_date.isoformat()} is before that.",
        )
    accepted_labels = ", ".join(condition_label(value) for value in accepted)
    return RuleOutcome(
        rule, NOT_MET, f"{label} is not a qualifying condition for {program_name} (accepted: {accepted_labels})."
    )


def program_started_rule(key: str, program_name: str, on_date: date, thresholds: Thresholds) -> RuleOutcome:
    rule = "Program in force"
    if key in thresholds:
        return RuleOutcome(rule, MET, f"{program_name} is covered on the referral date {on_date.isoformat()}.")
    starts = first_accepted_on(key, on_date)
    began = f" began on {starts.isoformat()}" if starts else " is not on record"
    return RuleOutcome(rule, NOT_MET, f"{program_name}{began}; the referral date {on_date.isoformat()} is before it.")


def medical_clearance_rule(referral: Referral) -> RuleOutcome:
    if referral.cleared_for_exercise is None:
        return RuleOutcome("Medical clearance", UNKNOWN, "Medical clearance for exercise is not recorded.")
    if referral.cleared_for_exercise:
        return RuleOutcome("Medical clearance", MET, "Cleared for exercise.")
    return RuleOutcome("Medical clearance", NOT_MET, "The patient is not cleared for exercise.")


def bmi_rule(referral: Referral, min_bmi: Decimal, min_bmi_asian: Decimal) -> RuleOutcome:
    bmi = referral_bmi(referral)
    if bmi is None:
        return RuleOutcome("BMI", UNKNOWN, "BMI is missing: record the BMI, or height and weight.")
    return bmi_rule_for(bmi, referral.asian_american, min_bmi, min_bmi_asian)


def bmi_rule_for(bmi: Decimal, asian_american: bool | None, min_bmi: Decimal, min_bmi_asian: Decimal) -> RuleOutcome:
    if asian_american:
        threshold, whose = min_bmi_asian, " for Asian American patients"
    else:
        threshold, whose = min_bmi, ""
    # Compared unrounded: 24.97 from height and weight is below 25. Shown truncated to two decimals,
    # so the text never reads "25.0 is below 25".
    shown = num(bmi.quantize(Decimal("0.01"), rounding=ROUND_DOWN))
    if bmi >= threshold:
        return RuleOutcome("BMI", MET, f"BMI {shown} is at least {num(threshold)}{whose}.")
    return RuleOutcome("BMI", NOT_MET, f"BMI {shown} is below {num(threshold)}{whose}.")


def referral_bmi(referral: Referral) -> Decimal | None:
    """The recorded BMI, else kg / m² from height and weight (unrounded), else None."""
    bmi = to_decimal(referral.bmi)
    if bmi is not None:
        return bmi
    height_cm = to_decimal(referral.height_cm)
    weight_kg = to_decimal(referral.weight_kg)
    if not height_cm or not weight_kg:
        return None
    height_m = height_cm / 100
    return weight_kg / (height_m * height_m)


def no_diabetes_rule(referral: Referral) -> RuleOutcome:
    if referral.diabetes_diagnosis is None:
        return RuleOutcome("Diabetes", UNKNOWN, "Whether the patient has diagnosed diabetes is not recorded.")
    if referral.diabetes_diagnosis:
        return RuleOutcome("Diabetes", NOT_MET, "Has a diagnosis of type 1 or type 2 diabetes.")
    return RuleOutcome("Diabetes", MET, "No diagnosis of type 1 or type 2 diabetes.")


def not_pregnant_rule(referral: Referral) -> RuleOutcome:
    if referral.pregnant is None:
        return RuleOutcome("Pregnancy", UNKNOWN, "Whether the patient is pregnant is not recorded.")
    if referral.pregnant:
        return RuleOutcome("Pregnancy", NOT_MET, "The patient is pregnant.")
    return RuleOutcome("Pregnancy", MET, "Not pregnant.")


def lab_results(referral: Referral) -> list[tuple]:
    """(name, value, threshold key, unit, decimals): A1c is written with one decimal (6.0%), glucose in whole mg/dL."""
    return [
        ("A1c", to_decimal(referral.a1c_percent), "a1c", "%", 1),
        ("Fasting glucose", to_decimal(referral.fasting_glucose), "fpg", " mg/dL", 0),
        ("2-h OGTT", to_decimal(referral.ogtt_2h), "ogtt", " mg/dL", 0),
    ]


def has_lab_values(referral: Referral) -> bool:
    return any(value is not None for value in (referral.a1c_percent, referral.fasting_glucose, referral.ogtt_2h))


def blood_test_findings(
    referral: Referral, judged_at: JudgedAt, thresholds: Thresholds, prefix: str, program_name: str
) -> tuple[str | None, list[str]]:
    """Judge the blood test against the "dpp." or "mdpp." ranges.

    Returns (None, []) when no result is recorded, else a status and the sentences explaining it. Any one result in
    range within the window qualifies; self-reporting is the caller's business (CDC accepts it, Medicare does not).
    """
    if not has_lab_values(referral):
        return None, []
    test_date = referral.lab_test_date
    if test_date is None:
        return UNKNOWN, ["The blood test date is missing."]
    if test_date > judged_at.latest_lab_day:
        return NOT_MET, [f"Blood test from {test_date.isoformat()} is after {judged_at}."]
    months = int(thresholds[f"{prefix}.lab_max_age_months"])
    # Calendar months, inclusive: a test on 2025-09-01 still counts for a referral dated 2026-09-01.
    if test_date < judged_at.day - relativedelta(months=months):
        return NOT_MET, [f"Blood test from {test_date.isoformat()} is more than {months} months before {judged_at}."]

    in_range, out_of_range = [], []
    for name, value, key, unit, decimals in lab_results(referral):
        if value is None:
            continue
        low, high = thresholds[f"{prefix}.{key}_min"], thresholds[f"{prefix}.{key}_max"]
        shown = f"{name} {value:.{decimals}f}{unit}"
        span = f"the {program_name} range {low:.{decimals}f}–{high:.{decimals}f}{unit}"
        if value < low:
            out_of_range.append(f"{shown} is below {span}.")
        elif value > high:
            out_of_range.append(f"{shown} is above {span}.")
        else:
            in_range.append(f"{shown} on {test_date.isoformat()} is in {span}.")
    if in_range:
        return MET, in_range
    return NOT_MET, out_of_range


# --- Formatting -----------------------------------------------------------------------------------------------


def to_decimal(value) -> Decimal | None:
    """Saved rows hold Decimals, but an unsaved referral may hold ints, floats or strings from a form."""
    if value is None or value == "":
        return None
    # Through str() so 6.4 (a float) stays 6.4 and does not become 6.4000000000000003552….
    return Decimal(str(value))


def num(value) -> str:
    """Thresholds are stored with two decimals; show 5.70 as "5.7" and 100.00 as "100"."""
    text = f"{to_decimal(value):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def nyha_numeral(value) -> str:
    return NYHA_NUMERALS.get(int(value), str(value))


def condition_label(value: str) -> str:
    try:
        return Referral.Condition(value).label  # the enum's own look-up: building the choices cost 35 µs a referral
    except ValueError:
        return value
