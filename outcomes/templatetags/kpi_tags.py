"""The KPI tables' cells: {% load kpi_tags %}{{ row|kpi_cells }}."""

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def kpi_cells(row) -> str:
    """A table row's cells, as `<td>{% if cell is None %}—{% else %}{{ cell }}{% endif %}</td>` per cell would
    write them (localized, escaped). The dashboard's tables run to some 500 cells, and the template engine's
    loop, condition and variable per cell were the larger part of rendering the page."""
    return mark_safe(  # noqa: S308 (every cell is escaped)
        "".join("<td>—</td>" if cell is None else f"<td>{conditional_escape(localize(cell))}</td>" for cell in row)
    )
