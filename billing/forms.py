from django import forms

from billing import selectors
from billing.claims import BLOCKERS
from billing.models import ClaimLine, Coverage, FeeScheduleEntry, MedicalNecessityNote, Payer
from billing.selectors import LineFilters
from billing.services import COVERAGE_FIELDS, FEE_FIELDS, PAYER_FIELDS
from clinic.forms import DateInput, PlainSelect
from clinic.models import ProgramType

BILLED_PROGRAM_CHOICES = [
    (value, label) for value, label in ProgramType.choices if value in ("cr", "icr", "pr", "mdpp")
]


class LineFilterForm(forms.Form):
    patient = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    # PlainSelect: Django renders a template per option (the reasons alone are BLOCKERS' dozens).
    program_type = forms.ChoiceField(
        label="Program", required=False, choices=[("", "All"), *BILLED_PROGRAM_CHOICES], widget=PlainSelect
    )
    status = forms.ChoiceField(required=False, choices=[("", "All"), *ClaimLine.Status.choices], widget=PlainSelect)
    blocker = forms.ChoiceField(
        label="Reason", required=False, choices=[("", "Any"), *[(c, c) for c in BLOCKERS]], widget=PlainSelect
    )
    date_from = forms.DateField(label="From", required=False, widget=DateInput())
    date_to = forms.DateField(label="To", required=False, widget=DateInput())

    def filters(self) -> LineFilters:
        if not self.is_valid():
            return LineFilters()
        return LineFilters(**{name: value for name, value in self.cleaned_data.items() if value not in (None, "")})


class PayerForm(forms.ModelForm):
    class Meta:
        model = Payer
        fields = PAYER_FIELDS

    def _post_clean(self):
        pass  # the service validates


class CoverageForm(forms.ModelForm):
    class Meta:
        model = Coverage
        fields = COVERAGE_FIELDS
        widgets = {"starts_on": DateInput(), "ends_on": DateInput()}
        help_texts = {"member_id": "For Medicare, the 11-character MBI (e.g. 1EG4-TE5-MK73)."}

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = selectors.payers_of(clinic=clinic).filter(is_active=True)

    def _post_clean(self):
        pass


class FeeForm(forms.ModelForm):
    class Meta:
        model = FeeScheduleEntry
        fields = FEE_FIELDS
        widgets = {"effective_from": DateInput(), "effective_to": DateInput()}
        labels = {"payer": "Payer (empty: any payer)", "code": "HCPCS / CPT code"}

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = selectors.payers_of(clinic=clinic)
        self.fields["payer"].required = False

    def _post_clean(self):
        pass


class VoidForm(forms.Form):
    reason = forms.CharField(label="Reason for voiding", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class DprpExportForm(forms.Form):
    program = forms.ModelChoiceField(label="Program", queryset=None, empty_label="— choose —")
    org_code = forms.CharField(label="DPRP organization code", max_length=25)
    period_start = forms.DateField(label="Sessions from", widget=DateInput())
    period_end = forms.DateField(label="to", widget=DateInput())

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs


class NecessityNoteForm(forms.ModelForm):
    class Meta:
        model = MedicalNecessityNote
        fields = ["first_session", "last_session", "written_on", "text"]
        widgets = {"written_on": DateInput(), "text": forms.Textarea(attrs={"rows": 5})}
        help_texts = {
            "text": "The patient's status and why further monitored sessions are medically necessary.",
            "first_session": "Session numbers count from the enrollment's first attended session.",
        }

    def _post_clean(self):
        pass  # the service validates
