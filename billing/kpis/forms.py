"""The financial KPIs' filters: the KPI dashboard's form (period, program) with a payer instead of the
physician and staff member, which claim lines do not have."""

from urllib.parse import urlencode

from django import forms

from billing.kpis.queries import BillingKpiFilters
from outcomes.kpis.dashboard import default_filters
from outcomes.kpis.forms import KpiFilterForm


class BillingKpiFilterForm(KpiFilterForm):
    payer = forms.TypedChoiceField(label="Payer", required=False, coerce=int, empty_value=None)

    def __init__(self, data=None, *, programs, payers, today):
        super().__init__(data, programs=programs, physicians=[], staff=[], today=today)
        del self.fields["physician"], self.fields["staff"]
        self.fields["payer"].choices = [("", "All payers"), *[(p.pk, p.name) for p in payers]]

    def filters(self) -> BillingKpiFilters:
        """The chosen filters, or the default period with no other filter when the form is invalid."""
        if not self.is_valid():
            defaults = default_filters(self.today)
            return BillingKpiFilters(start=defaults.start, end=defaults.end)
        data = self.cleaned_data
        return BillingKpiFilters(
            start=data["start"], end=data["end"], program_id=data.get("program"), payer_id=data.get("payer")
        )

    def query_string(self) -> str:
        if not self.is_valid():
            return ""
        data = self.cleaned_data
        pairs = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
        pairs.update({name: data[name] for name in ("program", "payer") if data.get(name)})
        return urlencode(pairs)
