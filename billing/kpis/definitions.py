"""The financial KPI catalog: what each number on the billing KPIs page means, in one place.

The definition text is shown on the tile (hover) and in the page's glossary, and exported and answered by the
API with the values, so what the page says and what billing/kpis/queries.py computes stay together. The
definitions reuse outcomes/kpis's KpiDefinition, so its charts and tiles work unchanged.
"""

from outcomes.kpis.definitions import COUNT, DAYS, KpiDefinition

FINANCIAL = "financial"
MONEY = "$"
FILTERS = ("program", "payer")
FILTER_LABELS = {"program": "program", "payer": "payer"}

SERVICE_PERIOD = "Lines with a date of service in the period; void lines are left out. Monthly: by date of service."
EXPORT_PERIOD = "Monthly: by the month of the export."

KPIS = [
    KpiDefinition(
        "sessions_billed", "Sessions billed", FINANCIAL, COUNT,
        "Attended sessions with a claim line exported in a batch (voiding a batch takes its lines back out). "
        + SERVICE_PERIOD, FILTERS, higher_is_better=True, counts=("line", "lines"),
    ),
    KpiDefinition(
        "expected_reimbursement", "Expected reimbursement", FINANCIAL, MONEY,
        "Sum of the expected amounts (the clinic's fee schedule for the line's payer, or for any payer) of ready "
        "and exported lines. Lines whose code has no fee on the date count as nothing. " + SERVICE_PERIOD,
        FILTERS, places=2, counts=("line", "lines"),
    ),
    KpiDefinition(
        "blocked_value", "Value of blocked lines", FINANCIAL, MONEY,
        "Sum of the expected amounts of lines that are blocked (by any reason): what the clinic cannot bill until "
        "the record is fixed. " + SERVICE_PERIOD, FILTERS, places=2, higher_is_better=False,
        counts=("blocked line", "blocked lines"),
    ),
    KpiDefinition(
        "days_to_export", "Service to export (median)", FINANCIAL, DAYS,
        "Median days from a line's date of service to the day (clinic time) its batch was exported, over the lines "
        "of batches exported in the period and not voided. " + EXPORT_PERIOD, FILTERS, places=1,
        higher_is_better=False, counts=("exported line", "exported lines"),
    ),
    KpiDefinition(
        "days_to_export_p90", "Service to export (90th percentile)", FINANCIAL, DAYS,
        "The 90th percentile of the same days: nine lines in ten were exported within this many days of the "
        "service. " + EXPORT_PERIOD, FILTERS, places=1, higher_is_better=False,
        counts=("exported line", "exported lines"),
    ),
]  # fmt: skip

BY_KEY = {kpi.key: kpi for kpi in KPIS}
