"""Forms of the treatment plan pages: the plan, one row per service, and the signature."""

from django import forms

from clinic.models import ITP_SIGNATURE_MEANING, TreatmentPlan, TreatmentPlanService
from clinic.treatment_plans.services import SERVICE_FIELDS

BLANK_SERVICE_ROWS = 2


class PlanForm(forms.ModelForm):
    diagnosis_codes = forms.CharField(
        label="ICD-10-CM codes", required=False, help_text="Separated by commas, e.g. I21.4, I25.10."
    )

    class Meta:
        model = TreatmentPlan
        fields = ["diagnosis", "diagnosis_codes", "goals"]
        widgets = {"diagnosis": forms.Textarea(attrs={"rows": 2}), "goals": forms.Textarea(attrs={"rows": 4})}
        help_texts = {"goals": "Measurable where possible: e.g. walk 30 minutes without angina; 6MWT + 50 m."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["diagnosis_codes"] = ", ".join(self.instance.diagnosis_codes)

    def _post_clean(self):
        pass  # the service validates (ICD-10 codes, services) and writes


class ServiceForm(forms.ModelForm):
    class Meta:
        model = TreatmentPlanService
        fields = SERVICE_FIELDS
        labels = {
            "description": "Type of service",
            "minutes_per_session": "Minutes per session",
            "sessions_per_week": "Sessions per week",
            "duration_weeks": "For (weeks)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def _post_clean(self):
        pass


ServiceFormSet = forms.formset_factory(ServiceForm, extra=BLANK_SERVICE_ROWS)


def service_formset(data=None, plan: TreatmentPlan | None = None) -> forms.BaseFormSet:
    initial = [{name: getattr(s, name) for name in SERVICE_FIELDS} for s in plan.services.all()] if plan else []
    return ServiceFormSet(data, initial=initial, prefix="services")


class SignForm(forms.Form):
    password = forms.CharField(
        label="Your password", required=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    mfa_code = forms.CharField(
        label="or a code from your authenticator app",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    agree = forms.BooleanField(label=ITP_SIGNATURE_MEANING, required=True)

    def clean(self):
        data = super().clean()
        if not data.get("password") and not data.get("mfa_code"):
            raise forms.ValidationError("Enter your password or a code from your authenticator app.")
        return data
