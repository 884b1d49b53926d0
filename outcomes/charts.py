"""Progress charts drawn by pygal on the server as SVG markup, the same for the pages and the PDFs.

The strict CSP (no inline scripts or styles) shapes how: pygal's JavaScript is never referenced
(`js=[]`), and its stylesheet is not left inside the SVG (an inline <style> would be refused on the
pages). Each chart carries the classes `medfit-chart <kind>`, and the rules pygal would have inlined
live in static/css/charts.css, generated from the same configuration by `chart_css()` (a test keeps the
file and the code in step; regenerate it with
`.venv/bin/python manage.py shell -v 0 -c "from outcomes.charts import chart_css; print(chart_css(), end='')"
> static/css/charts.css`).
A PDF template, which has no CSP, passes `inline_css=True` to put the rules back inside the SVG.
"""

import datetime
import html
import re
from decimal import Decimal

import pygal
from django.db.models import Q
from django.utils import timezone
from pygal.style import Style

from clinic.models import Measure
from outcomes.progress import MeasureChange, display_unit
from scheduling.models import SessionLog

STYLE = {
    "background": "white",
    "plot_background": "white",
    "foreground": "#1f2933",
    "foreground_strong": "#1f2933",
    "foreground_subtle": "#d5dbe1",
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
    "label_font_size": 12,
    "major_label_font_size": 12,
    "legend_font_size": 12,
    "title_font_size": 14,
    "value_font_size": 12,
    "tooltip_font_size": 12,
    "opacity": "1",
    "opacity_hover": "1",
    "stroke_width": "2",
}
DASHED = {"width": 2, "dasharray": "6, 4"}
# pygal prefixes its rules with the chart's id; the page's stylesheet uses the kind's class instead.
_PREFIX_ID = "medfit"
PATIENT, TARGET, RISK, AMBER = "#0b6e6e", "#1c7c3a", "#b42318", "#a15c00"
# Each kind of chart has its series in a fixed order, and so its colours (a series' colour is its place):
# the patient's values, then the MCID target line and the risk line, dashed; a trend with no MCID has
# only the risk line. Session vitals: resting and peak HR, resting and peak SBP.
_KINDS = {
    "trend": ((PATIENT, TARGET, RISK), True),
    "trend-risk": ((PATIENT, RISK), True),
    "vitals": ((PATIENT, TARGET, RISK, AMBER), False),
}


def _line_chart(kind: str, *, width: int, height: int, inline_css: bool, **extra) -> pygal.Line:
    def finish(root):
        # Classes for the page's stylesheet; no id (several charts share a page); pygal's inline style
        # and script elements out, unless a PDF wants the style in.
        root.attrib.pop("id", None)
        for parent in list(root.iter()):
            for child in list(parent):
                # The tooltip exists for pygal's script and carries a style attribute the CSP refuses.
                if "tooltip" in child.attrib.get("class", "").split():
                    parent.remove(child)
        for element in root.iter():
            # Ids are for pygal's script, and would repeat with several charts on a page.
            if element is not root:
                element.attrib.pop("id", None)
        for defs in [element for element in root.iter() if _local_name(element) == "defs"]:
            for child in list(defs):
                tag = _local_name(child)
                if tag == "script" or (tag == "style" and not inline_css):
                    defs.remove(child)
                elif tag == "style":
                    child.text = _scoped(child.text or "", kind)
        return root

    config = {
        "width": width,
        "height": height,
        "style": Style(**STYLE, colors=_KINDS[kind][0]),
        "js": [],
        "disable_xml_declaration": True,
        "classes": ["pygal-chart", "medfit-chart", kind],
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "margin": 8,
        "spacing": 8,
        "show_minor_x_labels": False,
        # At most about six value labels: more would crowd a 220-pixel-high chart (TUG in tenths of a second).
        "max_scale": 6,
        "tooltip_border_radius": 4,
        "pretty_print": False,
        **extra,
    }
    return pygal.Line(**config).add_xml_filter(finish)


def _local_name(element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _scoped(css: str, kind: str) -> str:
    return css.replace(f"#chart-{_PREFIX_ID} ", f".medfit-chart.{kind} ").replace(
        f"#chart-{_PREFIX_ID}", f".medfit-chart.{kind}"
    )


def _render(chart) -> str:
    chart.uuid = _PREFIX_ID  # a fixed prefix, so the rules are the same for every chart of a kind
    # pygal keeps room for (series // columns) legend rows, one short when they do not divide evenly, and
    # the last row falls off the bottom: choose columns that divide the series (1-3 in a row, or 2 × 2).
    count = len(chart.raw_series)
    chart.legend_at_bottom_columns = count if count <= 3 else 2
    svg = chart.render(is_unicode=True)
    # pygal stamps the day it drew the chart in a comment: leave it out so the same data gives the same markup.
    return re.sub(r"<!--.*?-->", "", svg)


def _float(value: Decimal) -> float:
    return float(value)


def _date_label(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%m/%d")


def _target(change: MeasureChange) -> Decimal | None:
    """The value the patient must reach for a meaningful improvement (baseline ± MCID), if the measure
    has one."""
    measure = change.measure
    if change.baseline is None or measure.mcid is None or measure.direction == Measure.Direction.CONTEXT:
        return None
    step = measure.mcid
    if measure.mcid_kind == Measure.McidKind.PERCENT:
        step = abs(change.baseline) * measure.mcid / 100
    return change.baseline + step if measure.direction == Measure.Direction.HIGHER else change.baseline - step


def _risk_threshold(change: MeasureChange) -> tuple[Decimal, str] | None:
    """The edge of the risk band the patient was in at baseline (e.g. TUG 12 s), to show the way out."""
    if not change.baseline_at_risk:
        return None
    for band in change.measure.bands.all():
        if band.label == change.baseline_band:
            edge = band.low if change.measure.direction == Measure.Direction.LOWER else band.high
            edge = edge if edge is not None else (band.high if band.low is None else band.low)
            return (edge, band.label) if edge is not None else None
    return None


def measure_trend_svg(change: MeasureChange, *, width=480, height=220, inline_css=False) -> str:
    """One measure over time, with the line a meaningful improvement must cross (baseline ± MCID) and the
    edge of the baseline's risk band. "" when there is nothing to draw."""
    if not change.points:
        return ""
    measure = change.measure
    unit = display_unit(measure.unit)
    places = measure.decimal_places
    target = _target(change)
    risk = _risk_threshold(change)
    chart = _line_chart(
        "trend" if target is not None or risk is None else "trend-risk", width=width, height=height,
        inline_css=inline_css, title=f"{measure.name}" + (f" ({unit})" if unit else ""),
        value_formatter=lambda v: f"{v:.{places}f}", dots_size=4, x_labels_major_count=6,
    )  # fmt: skip
    chart.x_labels = [_date_label(moment) for moment, _ in change.points]
    chart.add("Patient", [_float(value) for _, value in change.points])
    count = len(change.points)
    if target is not None:
        chart.add("MCID from baseline", [_float(target)] * count, stroke_style=DASHED, show_dots=False)
    if risk is not None:
        chart.add("Risk threshold", [_float(risk[0])] * count, stroke_style=DASHED, show_dots=False)
    return _render(chart)


def session_vitals_svg(
    *, clinic, enrollment, period_start=None, period_end=None, width=480, height=220, inline_css=False
) -> str:
    """Resting and peak heart rate and systolic pressure at each attended session of the period (one
    query). "" when no session recorded them."""
    logs = SessionLog.objects.filter(
        Q(pre_hr__isnull=False) | Q(peak_hr__isnull=False) | Q(pre_sbp__isnull=False) | Q(peak_sbp__isnull=False),
        clinic=clinic, enrollment=enrollment, attendance__in=SessionLog.ATTENDED,
    )  # fmt: skip
    if period_start:
        logs = logs.filter(occurrence__starts_at__date__gte=period_start)
    if period_end:
        logs = logs.filter(occurrence__starts_at__date__lte=period_end)
    # The five values a point needs, not a session log and its class per session (a chart of every session).
    logs = list(
        logs.order_by("occurrence__starts_at", "id").values_list(
            "occurrence__starts_at", "pre_hr", "peak_hr", "pre_sbp", "peak_sbp", named=True
        )
    )
    if not logs:
        return ""
    chart = _line_chart(
        "vitals", width=width, height=height, inline_css=inline_css, title="Session vitals",
        value_formatter=lambda v: f"{v:.0f}", dots_size=3, x_labels_major_count=6,
    )  # fmt: skip
    chart.x_labels = [_date_label(log.occurrence__starts_at) for log in logs]
    chart.add("Resting HR (bpm)", [log.pre_hr for log in logs])
    chart.add("Peak HR (bpm)", [log.peak_hr for log in logs])
    chart.add("Resting SBP (mmHg)", [log.pre_sbp for log in logs])
    chart.add("Peak SBP (mmHg)", [log.peak_sbp for log in logs])
    return _render(chart)


def chart_css() -> str:
    """The rules pygal would inline, scoped by kind, for static/css/charts.css. Drawn from a chart of each
    kind with every series it can have, so every series' colour and dash is in the file."""
    sheets = []
    for kind, (colors, dashed_after_first) in _KINDS.items():
        chart = _line_chart(kind, width=480, height=220, inline_css=True)
        for index in range(len(colors)):
            dashed = dashed_after_first and index > 0
            chart.add(f"s{index}", [1, 2], **({"stroke_style": DASHED} if dashed else {}))
        svg = _render(chart)
        # The rules come out of XML text, escaped ("&gt;"); a stylesheet file holds them as they are.
        css = html.unescape(re.search(r"<style[^>]*>(.*?)</style>", svg, re.S).group(1))
        sheets.append(f"/* {kind} charts */\n{css.strip()}\n")
    header = "/* Generated by outcomes/charts.py chart_css(): do not edit by hand. */\n"
    return header + "\n".join(sheets)
