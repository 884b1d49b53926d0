"""What the lists' rows written in Python share (issue 11): a template loop of 25–50 rows, with a dozen
variables, filters and conditions each, was the larger part of a list page's CPU. A row writer escapes
every value with `escape`, as `{{ … }}` does, and `html_rows` joins the rows as safe HTML."""

from decimal import Decimal
from html import escape  # Django's escape is this one, plus a lazy-string wrapper and SafeString per call

from django.conf import settings
from django.utils import numberformat, timezone
from django.utils.formats import get_format, localize
from django.utils.safestring import SafeString, mark_safe

__all__ = ["escape", "html_rows", "local_mdy", "mdy", "number_writer"]


def html_rows(items, row) -> SafeString:
    """`row(item)` for each item, joined. `row` must escape every value it writes."""
    return mark_safe("".join(map(row, items)))  # noqa: S308 (the row writers escape every value)


def mdy(day) -> str:
    """A date as `|date:"m/d/Y"` writes it."""
    return day.strftime("%m/%d/%Y")


def local_mdy(moment) -> str:
    """A moment as `{{ moment|date:"m/d/Y" }}` writes it: its day in the current time zone."""
    return timezone.localtime(moment).strftime("%m/%d/%Y")


def number_writer():
    """A function writing a number as `{{ number }}` does (`localize`), with the decimal separator looked up once
    a page: `localize` looks up three formats for every number. Without thousands separators a whole number is
    its digits and a decimal needs only the separator; anything else goes through `localize`."""
    if settings.USE_THOUSAND_SEPARATOR:
        return localize
    separator = get_format("DECIMAL_SEPARATOR")

    def write(number) -> str:
        if type(number) is int:
            return str(number)
        if type(number) is Decimal:
            # numberformat.format's own path without grouping, in half its CPU: the digits with the separator,
            # or past its 200 digits its scientific notation.
            _, digits, exponent = number.as_tuple()
            if abs(exponent) + len(digits) > 200:
                return numberformat.format(number, separator)
            return f"{number:f}".replace(".", separator)
        return localize(number)

    return write
