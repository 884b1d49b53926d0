"""The financial KPIs as the page, the API and the exports see them (a selector: reads only, aggregates only,
no patient named). Tiles and tables are outcomes/kpis's Kpi and Table, so its charts and exports work as they are.
"""

from decimal import Decimal

from billing.claims import BLOCKERS
from billing.kpis import queries
from billing.kpis.definitions import FILTER_LABELS, KPIS, MONEY
from clinic.models import Clinic, Membership
from outcomes.kpis.dashboard import Dashboard, Kpi, Table, monthly_table, summary_table

# The reason's message without its placeholders, for the table ("Session {number} is beyond…" reads badly).
REASON_LABELS = {
    "itp_missing": "No signed treatment plan covers the date of service",
    "session_limit": "Beyond the program's billable sessions",
    "kx_note_missing": "KX session without a medical-necessity note",
    "daily_limit": "More sessions on one day than the program allows",
    "duration_short": "Too few minutes for the sessions of the day",
    "time_missing": "No start and end time recorded",
    "not_eligible": "Referral not eligible, no override",
    "weight_missing": "No weight recorded (MDPP)",
    "coach_npi_missing": "Coach without an NPI (MDPP)",
    "lifetime_limit": "MDPP once-per-lifetime or 22-session limit",
    "coverage_missing": "No active coverage on the date of service",
    "supervisor_missing": "No supervising practitioner",
    "icr_not_approved": "Program not a CMS-approved ICR program",
    "rule_missing": "No billing rule in force",
}
assert set(REASON_LABELS) == set(BLOCKERS), "every blocker needs a label on the KPIs page"


class BillingKpi(Kpi):
    def format(self, number) -> str:
        rounded = self.rounded(number)
        if rounded is not None and self.definition.unit == MONEY:
            return f"${rounded:,}"
        return super().format(number)

    def unfiltered_by(self, filters: queries.BillingKpiFilters) -> list[str]:
        chosen = {"program": filters.program_id, "payer": filters.payer_id}
        return [FILTER_LABELS[name] for name, value in chosen.items() if value and name not in self.definition.filters]


def board_get(*, clinic: Clinic, membership: Membership, filters: queries.BillingKpiFilters) -> Dashboard:
    """Every financial KPI and table: five statements whatever the clinic's size."""
    if membership.clinic_id != clinic.pk:
        raise ValueError("membership of another clinic")
    values, sql = queries.compute(clinic=clinic, filters=filters)
    months = filters.months()
    kpis = [BillingKpi(definition, values[definition.key], months) for definition in KPIS]
    return Dashboard(clinic, filters, kpis, tables(kpis, sql, months))


def cents(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def tables(kpis: list[BillingKpi], sql: queries.BillingSql, months) -> list[Table]:
    money_header = ["Sessions billed", "Ready or exported lines", "Expected ($)", "Blocked lines", "Blocked ($)"]
    by_payer = Table(
        "by-payer", "Expected reimbursement by payer", ["Payer", *money_header],
        [[name or "No coverage", billed, lines, cents(expected), blocked_lines, cents(blocked)]
         for name, billed, lines, expected, blocked_lines, blocked in queries.by_payer(sql)],
    )  # fmt: skip
    by_program = Table(
        "by-program", "Expected reimbursement by program", ["Program", *money_header],
        [[name, billed, lines, cents(expected), blocked_lines, cents(blocked)]
         for name, billed, lines, expected, blocked_lines, blocked in queries.by_program(sql)],
    )  # fmt: skip
    by_reason = Table(
        "blocked-by-reason", "Blocked lines by reason",
        ["Reason code", "Reason", "Blocked lines", "Value ($)", "Lines without a fee"],
        [[code, REASON_LABELS.get(code, code), count, cents(value), no_fee]
         for code, count, value, no_fee in queries.by_reason(sql)],
    )  # fmt: skip
    summary = summary_table(kpis, "Financial KPIs")
    return [summary, monthly_table(kpis, months, "Financial KPIs by month"), by_payer, by_program, by_reason]
