"""The billing rules table (BillingRule) read once per derivation: the value of a program's key on a date."""

import datetime
from collections import defaultdict
from decimal import Decimal

from billing.models import BillingRule


class MissingRuleError(LookupError):
    """A claim asked for a rule that has no row effective on its date of service: fix the data, not the claim."""


class Rules:
    """Every BillingRule row, grouped by (program type, key), newest first; one query."""

    def __init__(self, rows=None):
        rows = BillingRule.objects.all() if rows is None else rows
        self._rows = defaultdict(list)
        for row in sorted(rows, key=lambda row: row.effective_from, reverse=True):
            self._rows[(row.program_type, row.key)].append(row)
        # A clinic's derivation asks the same few keys of the same days about two million times.
        self._found = {}

    def row(self, program_type: str, key: str, day: datetime.date) -> BillingRule:
        try:
            return self._found[program_type, key, day]
        except KeyError:
            pass
        for row in self._rows.get((program_type, key), ()):
            if row.effective_from <= day and (row.effective_to is None or day <= row.effective_to):
                self._found[program_type, key, day] = row
                return row
        raise MissingRuleError(f"No billing rule {program_type}.{key} is effective on {day.isoformat()}.")

    def get(self, program_type: str, key: str, day: datetime.date, default=None) -> str | None:
        try:
            return self.row(program_type, key, day).value
        except MissingRuleError:
            return default

    def int(self, program_type: str, key: str, day: datetime.date) -> int:
        return int(self.row(program_type, key, day).value)

    def decimal(self, program_type: str, key: str, day: datetime.date) -> Decimal:
        return Decimal(self.row(program_type, key, day).value)


def rules_for_display(program_types=None) -> list[BillingRule]:
    """The rules table for the billing pages, uncertain values marked there as "configurable, verify"."""
    rules = BillingRule.objects.order_by("program_type", "key", "-effective_from")
    if program_types:
        rules = rules.filter(program_type__in=program_types)
    return list(rules)
