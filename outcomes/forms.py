"""Forms of the outcomes pages: the entry form built from a battery, a clinic's own measure, a battery's
measures. They check types only; the services check the rules (ranges, dates, units) and write."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from clinic.models import Clinic, Measure
from outcomes import computed
from outcomes.models import Timepoint
from outcomes.services import MEASURE_FIELDS, Entry


def entry_unit(measure: Measure, clinic: Clinic) -> str:
    return computed.clinic_unit(measure.unit, clinic)


def field_name(measure: Measure) -> str:
    return f"m{measure.pk}"


class AssessmentForm(forms.Form):
    timepoint = forms.ChoiceField(choices=Timepoint.choices)
    assessed_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, battery, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.battery, self.clinic = battery, clinic
        self.fields["timepoint"].choices = [(t, Timepoint(t).label) for t in battery.timepoints]
        self.measure_fields = []  # (bound field, measure, unit) in battery order, for the template
        self.computed_items = []
        for item in battery.items.all():
            measure = item.measure
            if measure.code in computed.COMPUTED:
                self.computed_items.append(measure)
                continue
            unit = entry_unit(measure, clinic)
            step = Decimal(1).scaleb(-measure.decimal_places)
            attrs = {"step": str(step), "inputmode": "decimal" if measure.decimal_places else "numeric"}
            name = field_name(measure)
            self.fields[name] = forms.DecimalField(
                label=measure.name, required=item.required, max_digits=9, widget=forms.NumberInput(attrs=attrs),
                help_text=computed.unit_label(unit),
            )  # fmt: skip
            self.measure_fields.append((name, measure, unit))

    @property
    def measure_rows(self):
        """(bound field, unit label, valid range in that unit) per measure, in battery order."""
        return [
            (self[name], computed.unit_label(unit), _range_text(measure, unit))
            for name, measure, unit in self.measure_fields
        ]

    def values(self) -> dict[str, Entry]:
        return {
            measure.code: Entry(value=self.cleaned_data[name], unit=unit)
            for name, measure, unit in self.measure_fields
            if self.cleaned_data.get(name) is not None
        }

    def attach(self, error: ValidationError) -> None:
        """The service's errors (keyed by measure code) on the fields they are about."""
        names = {measure.code: name for name, measure, _ in self.measure_fields}
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            target = names.get(key, key)
            self.add_error(target if target in self.fields else None, messages)


def _range_text(measure: Measure, unit: str) -> str:
    if measure.min_value is None or measure.max_value is None:
        return ""
    factor = computed.CONVERSIONS.get(measure.unit, {}).get(unit, Decimal(1))
    step = Decimal(1).scaleb(-measure.decimal_places)
    low, high = (measure.min_value / factor).quantize(step), (measure.max_value / factor).quantize(step)
    return f"{low}–{high} {computed.unit_label(unit)}"


class MeasureForm(forms.ModelForm):
    class Meta:
        model = Measure
        fields = MEASURE_FIELDS
        labels = {"unit": "Unit (UCUM)", "min_value": "Lowest valid value", "max_value": "Highest valid value"}
        help_texts = {
            "code": "Your own code; it may not be one of the shared catalog's.",
            "unit": "As UCUM writes it: kg, cm, s, m/s, mm[Hg], {score}, %.",
            "mcid": "The smallest change that matters to the patient, in the measure's unit or % (below).",
        }

    def _post_clean(self):
        pass  # the service checks the code against the catalog and writes


class BatteryForm(forms.Form):
    name = forms.CharField(max_length=120)
    timepoints = forms.MultipleChoiceField(choices=Timepoint.choices, widget=forms.CheckboxSelectMultiple)
    is_active = forms.BooleanField(label="In use", required=False)
