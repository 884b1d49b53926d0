"""The KPI tables' cells (outcomes/templatetags/kpi_tags.py): what `{{ cell }}` would write, with a dash for None."""

import datetime
from decimal import Decimal

from django.utils.formats import localize

from outcomes.templatetags.kpi_tags import kpi_cells


def test_whole_numbers_are_written_as_localize_writes_them():
    for number in (0, 7, -12, 1234567):
        assert kpi_cells([number]) == f"<td>{localize(number)}</td>"


def test_whole_numbers_take_thousands_separators_when_the_settings_ask(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    assert kpi_cells([1234567]) == "<td>1,234,567</td>"


def test_decimals_are_written_as_localize_writes_them():
    for number in (Decimal("12.5"), Decimal("-0.4"), Decimal("0.0"), Decimal("100"), Decimal("1234567.25")):
        assert kpi_cells([number]) == f"<td>{localize(number)}</td>"


def test_decimals_take_thousands_separators_when_the_settings_ask(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    assert kpi_cells([Decimal("1234567.25")]) == "<td>1,234,567.25</td>"


def test_missing_values_are_a_dash_and_other_values_are_localized_and_escaped():
    cells = kpi_cells([None, Decimal("12.5"), datetime.date(2026, 11, 1), "<b>Dr. X</b>", True])
    assert cells == (
        f"<td>—</td><td>{localize(Decimal('12.5'))}</td><td>{localize(datetime.date(2026, 11, 1))}</td>"
        f"<td>&lt;b&gt;Dr. X&lt;/b&gt;</td><td>{localize(True)}</td>"
    )
