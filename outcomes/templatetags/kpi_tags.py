"""The KPI dashboard's tables' rows ({{ table.rows|kpi_rows }}), its tiles ({% kpi_tiles group %}) and its glossary
({% kpi_glossary tiles %}), written here rather than by template loops (issue 11)."""

from decimal import Decimal

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from clinic.html_rows import escape, html_rows, number_writer

register = template.Library()


@register.filter
def kpi_rows(rows) -> str:
    """A table's rows, each cell as `<td>{% if cell is None %}—{% else %}{{ cell }}{% endif %}</td>` would write
    it (localized, escaped). The tables run to some 270 rows and 500 cells: the template engine's loops,
    conditions and variables per cell were the larger part of rendering the page, and the decimal separator's
    look-up per row a tenth of its CPU (issue 11)."""
    number = number_writer()
    return mark_safe("".join(f"<tr>{_cells(row, number)}</tr>" for row in rows))  # noqa: S308 (cells escaped)


def _cells(row, number) -> str:
    return "".join(_cell(cell, number) for cell in row)


def _cell(cell, number) -> str:
    if cell is None:
        return "<td>—</td>"
    if type(cell) is int or type(cell) is Decimal:
        return f"<td>{escape(number(cell))}</td>"
    return f"<td>{conditional_escape(localize(cell))}</td>"


@register.simple_tag
def kpi_tiles(group) -> str:
    """A group's tiles, each (kpi, chart, alt, missing) as views.tile makes it: fourteen tiles of nine variables
    each through the template engine were about as much CPU as the tables' 500 cells. Every value is escaped
    but the chart's `data:` URI, which is base64 (charts.trend_data_uri: nothing in it to escape)."""
    return html_rows(group, _tile)


def _tile(tile) -> str:
    kpi, chart, alt, missing = tile
    key, definition = escape(kpi.key), kpi.definition
    note = ""
    if missing:  # {{ missing|join:" or " }}
        note = f'<p class="kpi-note">Not filtered by {" or ".join(escape(str(name)) for name in missing)}.</p>'
    return (
        f'<article class="kpi-tile" id="kpi-{key}">\n'
        f'<h3 title="{escape(definition.definition)}"><a href="#def-{key}">{escape(definition.label)}</a></h3>\n'
        f'<p class="kpi-value">{escape(kpi.display)}</p>\n'
        f'<p class="muted kpi-count">over {escape(kpi.counted)}</p>\n{note}'
        f'<img class="kpi-chart" src="{chart}" alt="{escape(alt)}" width="420" height="180">\n'
        "</article>\n"
    )


@register.simple_tag
def kpi_glossary(tiles) -> str:
    """Each KPI of the page's tile groups as a term and its definition, with the filters that apply when some do
    not."""
    return html_rows((tile[0].definition for _, group in tiles for tile in group), _glossary_entry)


def _glossary_entry(definition) -> str:
    applies = ""
    if len(definition.filters) < 3:
        filters = ", ".join(escape(str(name)) for name in definition.filters)
        applies = f' <span class="muted">Filters that apply: period, {filters}.</span>'
    return (
        f'<dt id="def-{escape(definition.key)}">{escape(definition.label)}</dt>\n'
        f"<dd>{escape(definition.definition)}{applies}</dd>\n"
    )
