"""What a progress report says, and its PDF: templates/outcomes/pdf/progress_report.html.

The numbers come from outcomes/progress.py (the one place change from baseline is computed) and the
charts from outcomes/charts.py, the same code the chart pages use.
"""

import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from clinic import prescriptions as rx
from clinic.pdf import render_pdf
from outcomes import charts, progress
from outcomes.reports.models import ReportRequest
from outcomes.reports.services import referring_physician

MAX_TREND_CHARTS = 3  # with the vitals chart, four charts (two rows) keep the report to two pages


@dataclass
class OutcomeRow:
    name: str
    unit: str
    baseline: str
    baseline_on: object
    latest: str
    latest_on: object
    change: str
    percent_change: str
    classification: str
    label: str
    band: str
    mcid: str


def number(value: Decimal | None, places: int, *, signed: bool = False) -> str:
    """A value as the measure shows it ("410", "1.05", "+35"); an en dash when there is none."""
    if value is None:
        return "–"
    text = f"{value:{'+' if signed else ''}.{places}f}"
    return text.replace("-", "−")


def outcome_row(change: "progress.MeasureChange") -> OutcomeRow:
    measure, places = change.measure, change.measure.decimal_places
    unit = progress.display_unit(measure.unit)
    percent = number(change.percent_change, 1, signed=True) + " %" if change.percent_change is not None else ""
    band = change.latest_band or change.baseline_band
    if change.baseline_band and change.latest_band and change.baseline_band != change.latest_band:
        band = f"{change.baseline_band} → {change.latest_band}"
    mcid = ""
    if measure.mcid is not None:
        mcid = f"{number(measure.mcid, places)} {'%' if measure.mcid_kind == 'percent' else unit}".strip()
    return OutcomeRow(
        name=measure.name, unit=unit,
        baseline=number(change.baseline, places), baseline_on=change.baseline_at and change.baseline_at.date(),
        latest=number(change.latest, places), latest_on=change.latest_at and change.latest_at.date(),
        change=number(change.change, places, signed=True),
        percent_change=percent,
        classification=change.classification, label=change.classification_label,
        band=band, mcid=mcid,
    )  # fmt: skip


CHART_WIDTH, CHART_HEIGHT = 480, 240


def for_print(svg: str) -> str:
    """A chart's SVG for the PDF, marked safe: outcomes/linechart.py escapes every text it draws."""
    return mark_safe(svg)  # noqa: S308


def report_context(report: ReportRequest) -> dict:
    clinic, enrollment = report.clinic, report.enrollment
    result = progress.enrollment_progress(
        clinic=clinic, enrollment=enrollment, period_start=report.period_start, period_end=report.period_end
    )
    # The headline measure first, then the others measured more than once.
    trends = sorted((c for c in result.measures if c.has_change), key=lambda c: c is not result.headline)
    vitals = charts.session_vitals_svg(
        clinic=clinic, enrollment=enrollment, period_start=report.period_start, period_end=report.period_end,
        width=CHART_WIDTH, height=CHART_HEIGHT,
    )  # fmt: skip
    prescription = result.prescription
    return {
        "report": report,
        "clinic": clinic,
        "patient": enrollment.patient,
        "age": rx.age_on(enrollment.patient.date_of_birth, report.period_end),
        "enrollment": enrollment,
        "program": enrollment.program,
        "physician": referring_physician(enrollment.pk),
        "author": report.requested_by,
        "progress": result,
        "attendance": result.attendance,
        "rows": [outcome_row(change) for change in result.measures],
        "headline": outcome_row(result.headline) if result.headline else None,
        # Inline SVG, so WeasyPrint fetches nothing.
        "trend_charts": [
            for_print(charts.measure_trend_svg(change, width=CHART_WIDTH, height=CHART_HEIGHT))
            for change in trends[:MAX_TREND_CHARTS]
        ],
        "vitals_chart": for_print(vitals),
        "prescription": prescription,
        "components": rx.describe(prescription, enrollment) if prescription else [],
        "safety_events": result.safety_events,
        "generated_at": timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(clinic.timezone)),
    }


def report_html(report: ReportRequest) -> str:
    return render_to_string("outcomes/pdf/progress_report.html", report_context(report))


def report_pdf(report: ReportRequest) -> bytes:
    report = ReportRequest.objects.select_related(
        "clinic", "enrollment__patient", "enrollment__program", "requested_by__user"
    ).get(pk=report.pk)
    return render_pdf(report_html(report))
