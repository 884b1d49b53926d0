"""Forms of the exercise prescription page: the heart-rate inputs, and one form per component."""

from django import forms

from clinic.models import ExercisePrescription, PrescriptionComponent
from clinic.prescriptions import COMPONENT_FIELDS, METHODS_BY_KIND, PRESCRIPTION_FIELDS


class PrescriptionForm(forms.ModelForm):
    based_on_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    class Meta:
        model = ExercisePrescription
        fields = PRESCRIPTION_FIELDS
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "hr_max_method": "Age is taken on the day the prescription is saved.",
            "hr_max_measured": "Only with HRmax “measured”: the peak heart rate of the exercise test.",
            "resting_hr": "Needed for % heart-rate reserve (Karvonen).",
        }

    def _post_clean(self):
        pass  # the service validates against the enrollment (precautions, ceiling) and writes


class ComponentForm(forms.ModelForm):
    """One component (aerobic, resistance, …); its prefix is the kind."""

    class Meta:
        model = PrescriptionComponent
        fields = COMPONENT_FIELDS
        widgets = {
            "progression": forms.Textarea(attrs={"rows": 2}),
            "intensity_low": forms.NumberInput(attrs={"step": "0.5"}),
            "intensity_high": forms.NumberInput(attrs={"step": "0.5"}),
            "speed_mph": forms.NumberInput(attrs={"step": "0.1"}),
            "grade_percent": forms.NumberInput(attrs={"step": "0.5"}),
        }
        labels = {
            "intensity_method": "Intensity as",
            "intensity_low": "Intensity from",
            "intensity_high": "to",
            "minutes": "Minutes per session",
        }
        help_texts = {"volume": "e.g. 600 MET·min/week, 8 exercises", "intensity_high": "Leave empty for one value."}

    def __init__(self, *args, kind: str, first: bool = False, **kwargs):
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind, self.first = kind, first
        self.label = PrescriptionComponent.Kind(kind).label
        allowed = METHODS_BY_KIND[kind]
        self.fields["intensity_method"].choices = [("", "—")] + [
            (value, label) for value, label in PrescriptionComponent.Intensity.choices if value in allowed
        ]
        if kind != PrescriptionComponent.Kind.AEROBIC:
            for name in ("speed_mph", "grade_percent"):
                del self.fields[name]
        if kind == PrescriptionComponent.Kind.AEROBIC:
            for name in ("sets", "reps"):
                del self.fields[name]

    def _post_clean(self):
        pass

    @property
    def starts_open(self) -> bool:
        """Shown open: a component with values (typed or from the current version) or errors, and on a
        first prescription the two most prescribed, aerobic and resistance."""
        if self.is_bound:
            return bool(self.errors) or any(self.data.get(self.add_prefix(name)) for name in self.fields)
        if any(value not in (None, "") for value in self.initial.values()):
            return True
        return self.first and self.kind in (PrescriptionComponent.Kind.AEROBIC, PrescriptionComponent.Kind.RESISTANCE)

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in COMPONENT_FIELDS}
