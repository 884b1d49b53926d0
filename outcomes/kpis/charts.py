"""Monthly trend charts of the KPIs: pygal renders SVG on the server, without its JavaScript (js=[]).

The page's CSP forbids inline styles, and pygal's SVG carries its own <style>; so the chart is an
<img> of a data: URI (img-src allows data:), where the SVG's style applies to the image alone. The
same markup works in a PDF.
"""

import base64
import functools

import pygal
from pygal.style import Style

from outcomes.kpis.dashboard import Kpi

STYLE = Style(
    background="white", plot_background="white", foreground="#333", foreground_strong="#111",
    foreground_subtle="#ddd", colors=("#1f6f8b",), font_family="sans-serif", label_font_size=11,
    major_label_font_size=11, value_font_size=10, title_font_size=13, no_data_font_size=14,
)  # fmt: skip


def trend_svg(kpi: Kpi, *, width: int = 420, height: int = 180) -> bytes:
    return _render(*_chart_of(kpi, width, height))


def _chart_of(kpi: Kpi, width: int, height: int) -> tuple:
    counts = kpi.definition.unit in ("", "$")  # counts and sums of money (billing/kpis) are bars
    return kpi.definition.label, counts, tuple(kpi.series), width, height


# The same series draws the same chart. A large clinic's dashboard shows the same roll-up figures until the next
# refresh, and drawing its fourteen charts was most of the page's time (about 15 ms each): kept per process.
@functools.lru_cache(maxsize=512)
def _render(label: str, counts: bool, series: tuple, width: int, height: int) -> bytes:
    chart_class = pygal.Bar if counts else pygal.Line
    # margin_right: room for half the last month's label, which pygal centres on the plot's edge.
    chart = chart_class(
        js=[], style=STYLE, width=width, height=height, show_legend=False, explicit_size=True,
        x_label_rotation=0, show_minor_x_labels=False, truncate_label=-1, margin=6, margin_right=18, spacing=6,
        allow_interruptions=True, dots_size=2.5, print_values=False, include_x_axis=counts,
        disable_xml_declaration=True, no_data_text="No data in this period",
    )  # fmt: skip
    labels = [f"{month:%b %y}" for month, _ in series]
    chart.x_labels = labels
    # Every third month labelled when there are many, so the labels stay legible on a tablet.
    step = max(1, len(labels) // 8 + (1 if len(labels) % 8 else 0)) if len(labels) > 8 else 1
    chart.x_labels_major = labels[::step]
    chart.add(label, [None if value is None else float(value) for _, value in series])
    svg = chart.render()
    return svg.encode() if isinstance(svg, str) else svg


def trend_data_uri(kpi: Kpi, *, width: int = 420, height: int = 180) -> str:
    return _data_uri(*_chart_of(kpi, width, height))


# Kept beside the drawing: encoding the fourteen charts' SVG in base64 on every page was about 1 ms of its CPU
# (about 27 KB a chart; with _render, some 25 MB a process when both caches are full).
@functools.lru_cache(maxsize=512)
def _data_uri(label: str, counts: bool, series: tuple, width: int, height: int) -> str:
    svg = _render(label, counts, series, width, height)
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def trend_alt(kpi: Kpi) -> str:
    """The chart in words, for screen readers."""
    return _alt(kpi.definition, tuple(kpi.series))


# Kept with the chart it describes: formatting the twelve months of fourteen KPIs was about 0.7 ms of a page.
@functools.lru_cache(maxsize=512)
def _alt(definition, series: tuple) -> str:
    kpi = Kpi(definition, value=None, months=[])  # Kpi.format reads only the definition
    points = ", ".join(f"{month:%b %Y} {kpi.format(value)}" for month, value in series if value is not None)
    return f"{definition.label} by month: {points or 'no data'}"
