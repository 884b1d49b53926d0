"""The KPI tables' cells: {% load kpi_tags %}{{ row|kpi_cells }}."""

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import numberformat
from django.utils.formats import get_format, localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def kpi_cells(row) -> str:
    """A table row's cells, as `<td>{% if cell is None %}—{% else %}{{ cell }}{% endif %}</td>` per cell would
    write them (localized, escaped). The dashboard's tables run to some 500 cells, and the template engine's
    loop, condition and variable per cell were the larger part of rendering the page."""
    # Without thousands separators a number needs only the decimal separator: looked up once per row, where
    # localize looks up three formats for each cell (most cells are numbers; about 4 ms of the page's CPU).
    decimal_separator = None if settings.USE_THOUSAND_SEPARATOR else get_format("DECIMAL_SEPARATOR")
    return mark_safe("".join(_cell(cell, decimal_separator) for cell in row))  # noqa: S308 (every cell is escaped)


def _cell(cell, decimal_separator: str | None) -> str:
    if cell is None:
        return "<td>—</td>"
    if decimal_separator is not None:
        if type(cell) is int:
            return f"<td>{cell}</td>"
        if type(cell) is Decimal:  # digits, a sign and the separator: nothing to escape
            return f"<td>{numberformat.format(cell, decimal_separator)}</td>"
    return f"<td>{conditional_escape(localize(cell))}</td>"
