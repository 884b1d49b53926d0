"""The dashboard as the page, the API and the exports see it: KPI tiles and tables for one clinic and
one set of filters. Reads only (a selector); the numbers come from queries.py."""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from clinic.models import Clinic, Membership
from outcomes.kpis import queries
from outcomes.kpis.definitions import FILTER_LABELS, KPIS, KpiDefinition
from outcomes.kpis.models import KpiRollup
from outcomes.kpis.rollups import fresh_rollup
from referrals.models import Referral


@dataclass
class Kpi:
    definition: KpiDefinition
    value: queries.Value
    months: list[datetime.date]

    @property
    def key(self) -> str:
        return self.definition.key

    def rounded(self, number) -> Decimal | int | None:
        if number is None:
            return None
        exponent = Decimal(1).scaleb(-self.definition.places)
        return Decimal(number).quantize(exponent, rounding=ROUND_HALF_UP)

    @property
    def total(self):
        return self.rounded(self.value.total)

    @property
    def counted(self) -> str:
        count = self.value.count or 0
        singular, plural = self.definition.counts
        return f"{count:,} {singular if count == 1 else plural}"

    @property
    def display(self) -> str:
        return self.format(self.value.total)

    def format(self, number) -> str:
        rounded = self.rounded(number)
        if rounded is None:
            return "—"
        text = f"{rounded:,}".replace("-", "−")
        unit = self.definition.unit
        if self.definition.key in ("sbp_change", "weight_change") and rounded > 0:
            text = "+" + text
        return f"{text} {unit}".strip() if unit != "%" else f"{text} %"

    @cached_property  # the monthly table reads it once per month and KPI
    def series(self) -> list[tuple[datetime.date, Decimal | int | None]]:
        """One point per month of the period, None where nothing was counted."""
        return [(month, self.rounded(self.value.monthly.get(month))) for month in self.months]

    def unfiltered_by(self, filters: queries.KpiFilters) -> list[str]:
        """The filters chosen that this KPI cannot apply (shown on the tile)."""
        chosen = {"program": filters.program_id, "physician": filters.physician_id, "staff": filters.staff_id}
        return [FILTER_LABELS[name] for name, value in chosen.items() if value and name not in self.definition.filters]


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Dashboard:
    clinic: Clinic
    filters: queries.KpiFilters
    kpis: list[Kpi]
    tables: list[Table]
    rollup: KpiRollup | None = None  # when set, sessions and outcomes are as of its refresh (rollups.py)

    @property
    def is_empty(self) -> bool:
        counts = [kpi.value.count for kpi in self.kpis]
        return not any(counts)

    def kpi(self, key: str) -> Kpi:
        return next(kpi for kpi in self.kpis if kpi.key == key)

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)

    def by_group(self, group: str) -> list[Kpi]:
        return [kpi for kpi in self.kpis if kpi.definition.group == group]


def default_filters(today: datetime.date) -> queries.KpiFilters:
    """The last twelve calendar months, this one included."""
    start = today.replace(day=1)
    for _ in range(11):
        start = (start - datetime.timedelta(days=1)).replace(day=1)
    return queries.KpiFilters(start=start, end=today)


def dashboard_get(*, clinic: Clinic, membership: Membership, filters: queries.KpiFilters) -> Dashboard:
    """Every KPI and table (ten queries, whatever the clinic's size). Aggregates only: no patient is named."""
    if membership.clinic_id != clinic.pk:
        raise ValueError("membership of another clinic")
    rollup = fresh_rollup(clinic=clinic, filters=filters)
    values, sql = queries.compute(clinic=clinic, filters=filters, rollup=rollup)
    months = filters.months()
    kpis = [Kpi(definition, values[definition.key], months) for definition in KPIS]
    return Dashboard(clinic, filters, kpis, tables(kpis, sql, months), rollup)


def dashboard_prepare(*, clinic: Clinic, today: datetime.date) -> int:
    """After a roll-up refresh: compute what the dashboard's first visitors will ask for (the default period,
    whole clinic and per program) so that they read it from the cache. Returns how many were prepared."""
    rollup = fresh_rollup(clinic=clinic, filters=default_filters(today))
    if rollup is None:
        return 0
    default = default_filters(today)
    programs = clinic.programs.order_by("pk").values_list("pk", flat=True)
    prepared = [default] + [queries.KpiFilters(start=default.start, end=default.end, program_id=p) for p in programs]
    for filters in prepared:
        _, sql = queries.compute(clinic=clinic, filters=filters, rollup=rollup)
        queries.referrals_by_source(sql)
        queries.referrals_by_physician(sql)
    return len(prepared)


def percent(part, whole):
    value = queries.ratio(part, whole)
    return None if value is None else value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def tables(kpis: list[Kpi], sql: queries.Sql, months: list[datetime.date]) -> list[Table]:
    sources = dict(Referral.Source.choices)
    by_source = Table(
        "referrals-by-source", "Referrals by source", ["Source", "Referrals", "Accepted", "Enrollment rate (%)"],
        [[sources.get(source, source), count, accepted, percent(accepted, count)]
         for source, count, accepted in queries.referrals_by_source(sql)],
    )  # fmt: skip
    by_physician = Table(
        "referrals-by-physician", "Referrals by physician",
        ["Physician", "Practice", "Referrals", "Accepted", "Enrollment rate (%)",
         "Median days to first session"],
        [[f"{last}, {first}" + (f", {credentials}" if credentials else ""), practice, count, accepted,
          percent(accepted, count), None if median is None else Decimal(str(median)).quantize(Decimal("0.1"))]
         for _id, last, first, credentials, practice, count, accepted, median in queries.referrals_by_physician(sql)],
    )  # fmt: skip
    return [summary_table(kpis, "KPIs"), monthly_table(kpis, months, "KPIs by month"), by_source, by_physician]


def summary_table(kpis: list[Kpi], title: str) -> Table:
    """Every KPI with its value and definition (billing/kpis uses it too)."""
    return Table(
        "kpis", title, ["KPI", "Value", "Unit", "Counted over", "Definition"],
        [[kpi.definition.label, kpi.total, kpi.definition.unit, kpi.value.count, kpi.definition.definition]
         for kpi in kpis],
    )  # fmt: skip


def monthly_table(kpis: list[Kpi], months: list[datetime.date], title: str) -> Table:
    """One row per month, one column per KPI (billing/kpis uses it too)."""
    return Table(
        "monthly", title,
        ["Month"] + [f"{kpi.definition.label} ({kpi.definition.unit or 'n'})" for kpi in kpis],
        [[f"{month:%Y-%m}"] + [kpi.series[index][1] for kpi in kpis] for index, month in enumerate(months)],
    )  # fmt: skip
