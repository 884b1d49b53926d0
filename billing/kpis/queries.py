"""The financial KPIs in SQL over the clinic's claim lines: a fixed number of statements whatever the clinic's
size or the period's length (two for the tiles and their monthly series, by GROUPING SETS ((month), ()), and
three for the tables). Every statement names the clinic (row-level security is the second wall).
"""

from dataclasses import dataclass
from decimal import Decimal

from clinic.models import Clinic
from outcomes.kpis.queries import KpiFilters, Sql, Value, split_grouping_sets


@dataclass(frozen=True)
class BillingKpiFilters(KpiFilters):
    """The dashboard's period and program, and a payer (the line's: its coverage on the date of service)."""

    payer_id: int | None = None


class BillingSql(Sql):
    def __init__(self, clinic: Clinic, filters: BillingKpiFilters):
        super().__init__(clinic, filters)
        self.params["payer"] = filters.payer_id

    def conditions(self) -> str:
        """Conditions on the claim line `l` for the program and payer filters."""
        conditions = []
        if self.filters.program_id:
            conditions.append(
                "l.enrollment_id IN (SELECT e.id FROM clinic_enrollment e "
                "WHERE e.clinic_id = %(clinic)s AND e.program_id = %(program)s)"
            )
        if self.filters.payer_id:
            conditions.append("l.payer_id = %(payer)s")
        return "".join(f" AND {condition}" for condition in conditions)


# What the tiles and the tables count, as SQL over the line `l` (put in the statements by `statement`).
PIECES = {
    "billed": "count(DISTINCT l.session_log_id) FILTER (WHERE l.status = 'exported')",
    "expected": "sum(l.expected_amount) FILTER (WHERE l.status IN ('ready', 'exported'))",
    "expected_lines": "count(*) FILTER (WHERE l.status IN ('ready', 'exported'))",
    "blocked": "sum(l.expected_amount) FILTER (WHERE l.status = 'blocked')",
    "blocked_lines": "count(*) FILTER (WHERE l.status = 'blocked')",
    "in_period": "l.clinic_id = %(clinic)s AND l.status <> 'void' AND l.date_of_service BETWEEN %(start)s AND %(end)s",
}

LINES_SQL = """
SELECT {month}, {billed}, {expected}, {expected_lines}, {blocked}, {blocked_lines},
       count(*) FILTER (WHERE l.status = 'exported')
FROM billing_claimline l
WHERE {in_period} {conditions}
GROUP BY GROUPING SETS (({month}), ())
"""

EXPORT_DAYS_SQL = """
SELECT {month}, percentile_cont(0.5) WITHIN GROUP (ORDER BY days), percentile_cont(0.9) WITHIN GROUP (ORDER BY days),
       count(*)
FROM (
    SELECT ({exported})::date AS exported_on, ({exported})::date - l.date_of_service AS days
    FROM billing_claimline l
    JOIN billing_claimbatch b ON b.id = l.batch_id AND b.clinic_id = %(clinic)s
    WHERE l.clinic_id = %(clinic)s AND l.status = 'exported' AND b.status = 'exported'
      AND b.created_at >= %(start_at)s AND b.created_at < %(end_at)s {conditions}
) AS exported
GROUP BY GROUPING SETS (({month}), ())
"""


def money(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def lines(sql: BillingSql) -> dict[str, Value]:
    query = statement(LINES_SQL, sql, month=sql.month("l.date_of_service"))
    total, monthly = split_grouping_sets(sql.rows(query), 6)
    billed, expected, expected_lines, blocked, blocked_lines, exported_lines = total

    def value(index, count) -> Value:
        return Value(total[index], {month: values[index] for month, values in monthly.items()}, count or 0)

    return {
        "sessions_billed": Value(billed or 0, {m: v[0] for m, v in monthly.items()}, exported_lines or 0),
        "expected_reimbursement": value(1, expected_lines),
        "blocked_value": value(3, blocked_lines),
    }


def export_days(sql: BillingSql) -> dict[str, Value]:
    query = EXPORT_DAYS_SQL.format(
        month=sql.month("exported_on"), exported=sql.local("b.created_at"), conditions=sql.conditions()
    )
    total, monthly = split_grouping_sets(sql.rows(query), 3)

    def days(index) -> Value:
        def exact(value):
            return None if value is None else Decimal(str(value))

        return Value(exact(total[index]), {m: exact(v[index]) for m, v in monthly.items()}, total[2] or 0)

    return {"days_to_export": days(0), "days_to_export_p90": days(1)}


# --- Tables -------------------------------------------------------------------------------------------------

BY_PAYER_SQL = """
SELECT p.name, {billed}, {expected_lines}, {expected}, {blocked_lines}, {blocked}
FROM billing_claimline l
LEFT JOIN billing_payer p ON p.id = l.payer_id AND p.clinic_id = %(clinic)s
WHERE {in_period} {conditions}
GROUP BY p.id, p.name ORDER BY {expected} DESC NULLS LAST, p.name NULLS LAST
"""

BY_PROGRAM_SQL = """
SELECT pr.name, {billed}, {expected_lines}, {expected}, {blocked_lines}, {blocked}
FROM billing_claimline l
JOIN clinic_enrollment e ON e.id = l.enrollment_id AND e.clinic_id = %(clinic)s
JOIN clinic_program pr ON pr.id = e.program_id AND pr.clinic_id = %(clinic)s
WHERE {in_period} {conditions}
GROUP BY pr.id, pr.name ORDER BY {expected} DESC NULLS LAST, pr.name
"""

# A line blocked for two reasons counts under each (the reasons' rows add up to more than the blocked total).
BY_REASON_SQL = """
SELECT reason.code, count(*), sum(l.expected_amount), count(*) FILTER (WHERE l.expected_amount IS NULL)
FROM billing_claimline l
CROSS JOIN LATERAL (SELECT DISTINCT b ->> 'code' AS code FROM jsonb_array_elements(l.blockers) AS b) AS reason
WHERE {in_period} AND l.status = 'blocked' {conditions}
GROUP BY reason.code ORDER BY sum(l.expected_amount) DESC NULLS LAST, count(*) DESC, reason.code
"""


def statement(template: str, sql: BillingSql, **parts) -> str:
    return template.format(**PIECES, conditions=sql.conditions(), **parts)


def by_payer(sql: BillingSql) -> list[tuple]:
    return sql.rows(statement(BY_PAYER_SQL, sql))


def by_program(sql: BillingSql) -> list[tuple]:
    return sql.rows(statement(BY_PROGRAM_SQL, sql))


def by_reason(sql: BillingSql) -> list[tuple]:
    return sql.rows(statement(BY_REASON_SQL, sql))


def compute(*, clinic: Clinic, filters: BillingKpiFilters) -> tuple[dict[str, Value], BillingSql]:
    """Every financial KPI's value and monthly series: two statements."""
    sql = BillingSql(clinic, filters)
    return {**lines(sql), **export_days(sql)}, sql
