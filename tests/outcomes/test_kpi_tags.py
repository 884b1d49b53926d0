"""The KPI dashboard's tags (outcomes/templatetags/kpi_tags.py): the tables' cells are what `{{ cell }}` would
write, with a dash for None; the tiles and the glossary escape what they write."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.utils.formats import localize

from clinic.html_rows import number_writer
from outcomes.templatetags.kpi_tags import kpi_glossary, kpi_rows, kpi_tiles


def kpi_cells(row) -> str:
    """The cells kpi_rows writes for one row."""
    return kpi_rows([row]).removeprefix("<tr>").removesuffix("</tr>")


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


def test_a_tables_rows_are_its_rows_cells_each_in_a_table_row():
    rows = [[1, None], [Decimal("2.5"), "<b>Dr. X</b>"]]
    assert kpi_rows(rows) == (
        f"<tr><td>{localize(1)}</td><td>—</td></tr>"
        f"<tr><td>{localize(Decimal('2.5'))}</td><td>&lt;b&gt;Dr. X&lt;/b&gt;</td></tr>"
    )
    assert kpi_rows([]) == ""


def test_tiles_escape_their_text_and_say_which_chosen_filters_a_kpi_cannot_apply():
    definition = SimpleNamespace(key="k1", label="A & B", definition='Counts "x" <y>')
    kpi = SimpleNamespace(key="k1", definition=definition, display="3 <n>", counted="2 enrollments")
    html = kpi_tiles([(kpi, "data:image/svg+xml;base64,PHN2Zz4=", "A & B by month: no data", ["program", "<staff>"])])
    assert '<h3 title="Counts &quot;x&quot; &lt;y&gt;"><a href="#def-k1">A &amp; B</a></h3>' in html
    assert '<p class="kpi-value">3 &lt;n&gt;</p>' in html
    assert '<p class="kpi-note">Not filtered by program or &lt;staff&gt;.</p>' in html
    assert 'src="data:image/svg+xml;base64,PHN2Zz4=" alt="A &amp; B by month: no data"' in html
    assert "kpi-note" not in kpi_tiles([(kpi, "data:,", "alt", [])])


def test_the_glossary_lists_the_filters_that_apply_when_some_do_not():
    some = SimpleNamespace(key="a", label="<A>", definition="D & E", filters=("program", "staff member"))
    every = SimpleNamespace(key="b", label="B", definition="F", filters=("program", "physician", "staff member"))
    kpi = SimpleNamespace(definition=some)
    html = kpi_glossary(
        [("Clinical", [(kpi, "", "", [])]), ("Utilization", [(SimpleNamespace(definition=every), "", "", [])])]
    )
    assert '<dt id="def-a">&lt;A&gt;</dt>' in html
    assert '<dd>D &amp; E <span class="muted">Filters that apply: period, program, staff member.</span></dd>' in html
    assert "<dd>F</dd>" in html


def test_the_rows_number_writer_writes_as_localize_does(settings):
    for number in (0, 7, -12, Decimal("12.50"), Decimal("-0.4"), Decimal("1234567.25"), 1.5, Decimal("-0.00")):
        assert number_writer()(number) == str(localize(number))
    for number in (Decimal("1E+5"), Decimal("0E-10"), Decimal("1E-250")):  # exponents; past 200 digits, scientific
        assert number_writer()(number) == str(localize(number))
    settings.USE_THOUSAND_SEPARATOR = True
    assert number_writer()(Decimal("1234567.25")) == "1,234,567.25"
