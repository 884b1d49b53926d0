"""The KPI catalog: what each number on the administrators' dashboard means, in one place.

The definition text is shown on the tile (hover) and in the page's glossary, and exported with the
values, so what the page says and what outcomes/kpis/queries.py computes must be kept together.
"""

from dataclasses import dataclass

CLINICAL, UTILIZATION = "clinical", "utilization"
PERCENT, DAYS, COUNT, MMHG = "%", "days", "", "mmHg"

# The filters that can narrow each family of KPIs (see queries.py); the others do not apply.
ENROLLMENT_FILTERS = ("program", "physician", "staff")
SESSION_FILTERS = ("program", "physician", "staff")
CLASS_FILTERS = ("program", "staff")
REFERRAL_FILTERS = ("program", "physician")


@dataclass(frozen=True)
class KpiDefinition:
    key: str
    label: str
    group: str
    unit: str
    definition: str
    filters: tuple[str, ...]
    places: int = 0
    higher_is_better: bool | None = True
    counts: tuple[str, str] = ("enrollment", "enrollments")  # what "counted over" counts


OUTCOME_PAIR = (
    "Each enrollment's baseline is its first value of the measure and its latest the last one up to the end "
    "of the period (assessment values are preferred to session values when both exist); an enrollment counts "
    "when its latest value falls in the period and comes after its baseline. Monthly: by the month of the "
    "latest value."
)

KPIS = [
    KpiDefinition(
        "sixmwt_mcid", "Reached the 6MWT MCID", CLINICAL, PERCENT,
        "Share of enrollments whose 6-minute walk distance rose by at least the measure's MCID (25 m in the "
        "catalog) from baseline to latest. " + OUTCOME_PAIR, ENROLLMENT_FILTERS,
    ),
    KpiDefinition(
        "sbp_change", "Mean change in systolic BP", CLINICAL, MMHG,
        "Mean of latest minus baseline resting systolic blood pressure (assessments and pre-exercise session "
        "readings; negative is a fall). " + OUTCOME_PAIR, ENROLLMENT_FILTERS, places=1, higher_is_better=False,
    ),
    KpiDefinition(
        "weight_change", "Mean weight change (DPP/MDPP)", CLINICAL, PERCENT,
        "Mean of (latest − baseline) / baseline × 100 of body weight, in CDC DPP and Medicare DPP enrollments "
        "only (negative is a loss; the programs aim for −5 %). " + OUTCOME_PAIR, ENROLLMENT_FILTERS, places=1,
        higher_is_better=False,
    ),
    KpiDefinition(
        "phq9_improved", "PHQ-9 improved", CLINICAL, PERCENT,
        "Share of enrollments whose PHQ-9 score fell by at least the measure's MCID (5 points) from baseline to "
        "latest. " + OUTCOME_PAIR, ENROLLMENT_FILTERS,
    ),
    KpiDefinition(
        "completion_rate", "Completion rate", CLINICAL, PERCENT,
        "Enrollments completed ÷ enrollments that ended (completed or discharged) with an end date in the "
        "period. Monthly: by the month of the end date.", ENROLLMENT_FILTERS,
        counts=("ended enrollment", "ended enrollments"),
    ),
    KpiDefinition(
        "attendance_rate", "Attendance rate", UTILIZATION, PERCENT,
        "Booked places in classes held in the period (up to now) that the floor sheet recorded present, late "
        "or make-up ÷ all those booked places (places the floor sheet marked cancelled are left out; a place "
        "with nothing recorded counts as not attended).", SESSION_FILTERS, counts=("booked place", "booked places"),
    ),
    KpiDefinition(
        "no_show_rate", "No-show rate", UTILIZATION, PERCENT,
        "Booked places the floor sheet recorded absent ÷ the attendance rate's booked places.", SESSION_FILTERS,
        higher_is_better=False, counts=("booked place", "booked places"),
    ),
    KpiDefinition(
        "late_cancel_rate", "Late-cancellation rate", UTILIZATION, PERCENT,
        "Bookings cancelled late (inside the clinic's late-cancellation window) ÷ all bookings (kept, cancelled "
        "or cancelled late; waitlist places and classes the clinic cancelled are left out) for classes in the "
        "period.", SESSION_FILTERS, places=1, higher_is_better=False, counts=("booking", "bookings"),
    ),
    KpiDefinition(
        "capacity_use", "Class capacity use", UTILIZATION, PERCENT,
        "Places booked ÷ places offered, over the classes and appointments held (not cancelled) in the period.",
        CLASS_FILTERS, counts=("place offered", "places offered"),
    ),
    KpiDefinition(
        "referrals", "Referrals received", UTILIZATION, COUNT,
        "Referrals with a referral date in the period.", REFERRAL_FILTERS, higher_is_better=None,
        counts=("referral", "referrals"),
    ),
    KpiDefinition(
        "enrollment_rate", "Enrollment rate", UTILIZATION, PERCENT,
        "Referrals accepted ÷ referrals received, for referrals dated in the period.", REFERRAL_FILTERS,
        counts=("referral", "referrals"),
    ),
    KpiDefinition(
        "days_to_first_session", "Referral to first session (median)", UTILIZATION, DAYS,
        "Median days from the referral date to the first attended session, for patients whose first session "
        "was in the period (monthly: by the month of the first session).", REFERRAL_FILTERS, places=1,
        higher_is_better=False, counts=("first session", "first sessions"),
    ),
    KpiDefinition(
        "days_to_first_session_p90", "Referral to first session (90th percentile)", UTILIZATION, DAYS,
        "The 90th percentile of the same days: nine patients in ten started within this many days.",
        REFERRAL_FILTERS, places=1, higher_is_better=False, counts=("first session", "first sessions"),
    ),
    KpiDefinition(
        "active_patients", "Active patients", UTILIZATION, COUNT,
        "Patients with an enrollment open at some time in the period (started on or before its end, not ended "
        "before its start). Monthly: open at some time in the month.", ENROLLMENT_FILTERS, higher_is_better=None,
        counts=("patient", "patients"),
    ),
]  # fmt: skip

BY_KEY = {kpi.key: kpi for kpi in KPIS}

FILTER_LABELS = {"program": "program", "physician": "physician", "staff": "staff member"}
