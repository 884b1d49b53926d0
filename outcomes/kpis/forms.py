"""The dashboard's filters, shared by the page, the exports and the API (as query parameters)."""

import datetime

from django import forms

from clinic.forms import DateInput, PlainSelect
from clinic.selectors import full_name_or_email
from outcomes.kpis.dashboard import default_filters
from outcomes.kpis.queries import KpiFilters

MAX_DAYS = 366 * 5  # five years of months is as far back as a trend chart stays readable


def _physician_label(last_name: str, first_name: str, credentials: str) -> str:
    name = f"{last_name}, {first_name}"
    return f"{name}, {credentials}" if credentials else name


class KpiFilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=DateInput(), input_formats=["%Y-%m-%d"])
    end = forms.DateField(label="To", required=False, widget=DateInput(), input_formats=["%Y-%m-%d"])
    # PlainSelect: a large clinic's physicians and staff run to a hundred options, each a template render.
    program = forms.TypedChoiceField(label="Program", required=False, coerce=int, empty_value=None, widget=PlainSelect)
    physician = forms.TypedChoiceField(
        label="Referring physician", required=False, coerce=int, empty_value=None, widget=PlainSelect
    )
    staff = forms.TypedChoiceField(
        label="Staff member", required=False, coerce=int, empty_value=None, widget=PlainSelect
    )

    def __init__(self, data=None, *, programs, physicians, staff, today: datetime.date):
        """programs: (id, name); physicians: (id, last name, first name, credentials); staff: (membership id,
        first name, last name, email), as selectors.filter_choices reads them."""
        defaults = default_filters(today)
        super().__init__(data, initial={"start": defaults.start, "end": defaults.end})
        self.today = today
        self.fields["program"].choices = [("", "All programs"), *programs]
        physician_choices = [(pk, _physician_label(*names)) for pk, *names in physicians]
        self.fields["physician"].choices = [("", "All physicians"), *physician_choices]
        self.fields["staff"].choices = [("", "All staff"), *[(pk, full_name_or_email(*names)) for pk, *names in staff]]

    def clean(self):
        data = super().clean()
        defaults = default_filters(self.today)
        start = data.get("start") or defaults.start
        end = data.get("end") or defaults.end
        if "start" in data and "end" in data:
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days > MAX_DAYS:
                raise forms.ValidationError("Choose a period of at most five years.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> KpiFilters:
        """The chosen filters, or the default period with no other filter when the form is invalid."""
        if not self.is_valid():
            return default_filters(self.today)
        data = self.cleaned_data
        return KpiFilters(
            start=data["start"], end=data["end"], program_id=data.get("program"),
            physician_id=data.get("physician"), staff_id=data.get("staff"),
        )  # fmt: skip

    def chosen(self) -> list[tuple[str, str]]:
        """The filters chosen besides the period, as (label, choice) pairs for the PDF snapshot's header and the
        audit trail's export entries."""
        if not self.is_valid():
            return []
        return [
            (field.label, dict(field.choices)[self.cleaned_data[name]])
            for name, field in self.fields.items()
            if name not in ("start", "end") and self.cleaned_data.get(name)
        ]

    def query_string(self) -> str:
        """The filters as a query string for the export links (valid values only)."""
        from urllib.parse import urlencode

        if not self.is_valid():
            return ""
        data = self.cleaned_data
        pairs = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
        pairs.update({name: data[name] for name in ("program", "physician", "staff") if data.get(name)})
        return urlencode(pairs)
