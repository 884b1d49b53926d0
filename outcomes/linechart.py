"""A small line chart drawn as SVG markup: title, value axis with light guides, dated points, legend.

Why not pygal, which drew these charts before: a progress page draws up to fourteen of them, and pygal
took about 10 ms of CPU each (its configuration object alone a quarter of it), so the page cost 150 ms or
more under load. These charts need little of what pygal offers; this draws the same lines in about a
twentieth of the time, and its markup suits both places it goes without rewriting:
- the pages' strict CSP refuses `style` attributes and `<style>` elements, so colours, dashes and fonts are
  SVG presentation attributes (which are not styles), and there is no script;
- WeasyPrint draws the same markup in the PDFs.
Hovering a point shows its value and date (an SVG `<title>`, no script).
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from html import escape

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
TEXT, GUIDE, AXIS = "#1f2933", "#d5dbe1", "#9aa5b1"
TITLE_BAND, LABEL_BAND, LEGEND_ROW = 26, 20, 18
MOST_TICKS = 6  # value labels: more would crowd a chart 220 pixels high
MOST_X_LABELS = 6
CHAR_WIDTH = 7  # a 12-pixel character at most, about: to leave room for labels without measuring text
POINT_INSET = 16


@dataclass(frozen=True)
class Series:
    label: str
    values: list  # one per x label; None leaves a gap
    color: str
    dashed: bool = False
    dots: bool = True


def line_chart_svg(
    *, kind: str, title: str, x_labels: list[str], series: list[Series], places: int = 0,
    width: int = 480, height: int = 220, dot_radius: float = 4,
) -> str:  # fmt: skip
    """The chart's `<svg>` element, classes `medfit-chart <kind>`. The caller escapes nothing: every text
    drawn here is escaped."""
    values = [value for line in series for value in line.values if value is not None]
    ticks = value_ticks(min(values), max(values))
    tick_places = max(places, _places(ticks[1] - ticks[0]) if len(ticks) > 1 else 0)
    tick_labels = [f"{tick:.{tick_places}f}" for tick in ticks]

    legend, legend_rows = _legend_svg(series, width=width, bottom=height)
    left = 10 + CHAR_WIDTH * max(len(label) for label in tick_labels)
    right = width - 12
    top = TITLE_BAND + 8
    bottom = height - LABEL_BAND - legend_rows * LEGEND_ROW - 6
    low, high = ticks[0], ticks[-1]
    # The first and last points sit inside the plot, clear of the value labels and the chart's edge.
    first_x, last_x = left + POINT_INSET, right - POINT_INSET

    def x_at(index: int) -> float:
        if len(x_labels) == 1:
            return (first_x + last_x) / 2
        return first_x + index * (last_x - first_x) / (len(x_labels) - 1)

    def y_at(value) -> float:
        return bottom - (float(value) - low) * (bottom - top) / ((high - low) or 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="medfit-chart {escape(kind)}" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" font-family="{escape(FONT)}" font-size="12" fill="{TEXT}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:g}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for tick, label in zip(ticks, tick_labels, strict=True):
        y = round(y_at(tick), 1)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:g}" y2="{y:g}" stroke="{GUIDE}" stroke-width="0.8"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:g}" text-anchor="end">{label}</text>')
    parts.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="{AXIS}"/>')
    for index in _x_label_indexes(len(x_labels)):
        parts.append(
            f'<text x="{x_at(index):.1f}" y="{bottom + 16}" text-anchor="middle">{escape(x_labels[index])}</text>'
        )
    escaped_labels = [escape(label) for label in x_labels]  # once, not per series
    for line in series:
        parts.append(_series_svg(line, x_at, y_at, escaped_labels, places, dot_radius))
    parts.append(legend)
    parts.append("</svg>")
    return "".join(parts)


def value_ticks(low, high, most: int = MOST_TICKS) -> list[float]:
    """Round values from below `low` to above `high`, at most `most` of them, a step of 1, 2, 2.5 or 5 × 10ⁿ."""
    low, high = float(low), float(high)
    if low == high:
        pad = abs(low) / 10 or 1
        low, high = low - pad, high + pad
    magnitude = 10 ** math.floor(math.log10((high - low) / (most - 1)))
    for step in (multiple * magnitude * scale for scale in (1, 10) for multiple in (1, 2, 2.5, 5)):
        first, last = math.floor(low / step), math.ceil(high / step)
        if last - first <= most - 1:
            break
    places = _places(step)
    return [round(n * step, places) for n in range(first, last + 1)]


def _places(step: float) -> int:
    return max(0, -Decimal(repr(step)).normalize().as_tuple().exponent)


def _x_label_indexes(count: int) -> list[int]:
    """Every label when there are few, else six spread evenly, the first and the last among them."""
    if count <= MOST_X_LABELS:
        return list(range(count))
    return sorted({round(n * (count - 1) / (MOST_X_LABELS - 1)) for n in range(MOST_X_LABELS)})


def _series_svg(line: Series, x_at, y_at, escaped_labels, places, dot_radius) -> str:
    dash = ' stroke-dasharray="6 4"' if line.dashed else ""
    # Each point's place, worked out once for its line and its dot; a gap (None) has none.
    at = [
        None if value is None else (f"{x_at(index):.1f}", f"{y_at(value):.1f}")
        for index, value in enumerate(line.values)
    ]
    # A gap ends one stretch of line and starts the next.
    stretches, current = [], []
    for point in at:
        if point is None:
            stretches.append(current)
            current = []
        else:
            current.append(f"{point[0]},{point[1]}")
    stretches.append(current)
    parts = [f'<g class="series" stroke="{line.color}" fill="{line.color}">']
    for stretch in stretches:
        if len(stretch) > 1:
            parts.append(f'<polyline points="{" ".join(stretch)}" fill="none" stroke-width="2"{dash}/>')
    if line.dots:
        label = escape(line.label)
        for index, (value, point) in enumerate(zip(line.values, at, strict=True)):
            if point is not None:
                parts.append(
                    f'<circle cx="{point[0]}" cy="{point[1]}" r="{dot_radius:g}">'
                    f"<title>{label}: {float(value):.{places}f} on {escaped_labels[index]}</title></circle>"
                )
    parts.append("</g>")
    return "".join(parts)


def _legend_svg(series: list[Series], *, width: int, bottom: int) -> tuple[str, int]:
    """The legend along the bottom, its entries flowing into as many rows as they need, and that count."""
    placed, x, row = [], 8.0, 0
    for line in series:
        entry_width = 24 + CHAR_WIDTH * len(line.label) + 16
        if x > 8 and x + entry_width > width - 8:
            x, row = 8.0, row + 1
        placed.append((line, x, row))
        x += entry_width
    rows = row + 1
    parts = ['<g class="legend">']
    for line, x, row in placed:
        y = bottom - (rows - row) * LEGEND_ROW + 6
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(
            f'<line x1="{x:g}" x2="{x + 18:g}" y1="{y}" y2="{y}" stroke="{line.color}" stroke-width="2"{dash}/>'
        )
        if line.dots:
            parts.append(f'<circle cx="{x + 9:g}" cy="{y}" r="3" fill="{line.color}"/>')
        parts.append(f'<text x="{x + 24:g}" y="{y + 4}">{escape(line.label)}</text>')
    parts.append("</g>")
    return "".join(parts), rows
