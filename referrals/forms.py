import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from clinic.forms import DateInput
from clinic.models import Patient, Program
from referrals import services
from referrals.models import ICD10_PATTERN, Referral, ReferringProvider
from referrals.services import PROGRAM_FIELDS, PROVIDER_FIELDS

LB_PER_KG = Decimal("2.20462")
CM_PER_IN = Decimal("2.54")

CLINICAL_FIELDSETS = [
    (
        "Qualifying event",
        [
            "qualifying_condition",
            "qualifying_event_date",
            "lvef_percent",
            "nyha_class",
            "hf_optimal_therapy_weeks",
            "hf_recent_cv_event",
            "hf_planned_cv_procedure",
            "gold_stage",
            "covid_confirmed_or_suspected",
            "covid_symptom_weeks",
            "fev1_fvc_ratio",
            "fev1_percent_predicted",
        ],
    ),
    (
        "Diabetes prevention",
        [
            "height",
            "weight",
            "bmi",
            "asian_american",
            "a1c_percent",
            "fasting_glucose",
            "ogtt_2h",
            "lab_test_date",
            "lab_self_reported",
            "gestational_diabetes_history",
            "risk_test_score",
            "diabetes_diagnosis",
            "esrd",
            "prior_mdpp",
            "pregnant",
            "medicare_part_b",
        ],
    ),
    (
        "Medical clearance and precautions",
        [
            "cleared_for_exercise",
            "clearance_date",
            "contraindications",
            "beta_blocker",
            "supplemental_oxygen",
            "target_hr_ceiling",
            "weight_bearing_restrictions",
            "range_of_motion_restrictions",
            "precaution_notes",
        ],
    ),
]

PATIENT_FIELDS = [
    "patient_mrn",
    "patient_first_name",
    "patient_last_name",
    "patient_date_of_birth",
    "patient_sex",
    "patient_phone",
    "patient_email",
]
REFERRAL_FIELDS = ["referring_provider", "program", "urgency", "referral_date", "reason", "diagnosis_codes"]
YES_NO_UNKNOWN = [("", "Unknown"), ("true", "Yes"), ("false", "No")]
NULL_BOOLEANS = [
    "hf_recent_cv_event",
    "hf_planned_cv_procedure",
    "covid_confirmed_or_suspected",
    "gestational_diabetes_history",
    "diabetes_diagnosis",
    "esrd",
    "prior_mdpp",
    "pregnant",
    "medicare_part_b",
    "cleared_for_exercise",
]


# Which program types each optional section is for; other sections always show.
SECTION_PROGRAM_TYPES = {"Qualifying event": "cr icr pr", "Diabetes prevention": "dpp mdpp"}


class ProgramSelect(forms.Select):
    """Options carry their program type, so the form can show only the sections that type needs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.program_types = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        program_type = self.program_types.get(str(value))
        if program_type:
            option["attrs"]["data-program-type"] = program_type
        return option


class DiagnosisCodesField(forms.CharField):
    """ICD-10-CM codes typed as "I21.4, I25.10"."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [code.strip().upper() for code in text.replace(";", ",").split(",") if code.strip()]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        wrong = [code for code in value if not re.match(ICD10_PATTERN, code)]
        if wrong:
            raise forms.ValidationError(
                f"Not ICD-10-CM: {', '.join(wrong)}. Enter codes like I21.4 or R73.03, separated by commas."
            )


class ReferralForm(forms.ModelForm):
    """The staff referral form. Height and weight are entered in the clinic's units."""

    diagnosis_codes = DiagnosisCodesField(required=False, help_text="ICD-10-CM, comma-separated, e.g. I21.4, I25.10")
    height = forms.DecimalField(required=False, min_value=20, max_value=300, decimal_places=1)
    weight = forms.DecimalField(required=False, min_value=20, max_value=1000, decimal_places=1)
    attachment = forms.FileField(required=False, help_text="The original referral: PDF, PNG or JPEG, up to 10 MB.")

    class Meta:
        model = Referral
        fields = [*REFERRAL_FIELDS, *PATIENT_FIELDS] + [
            name for _, names in CLINICAL_FIELDSETS for name in names if name not in ("height", "weight")
        ]
        widgets = {
            "referral_date": DateInput(),
            "patient_date_of_birth": DateInput(),
            "qualifying_event_date": DateInput(),
            "lab_test_date": DateInput(),
            "clearance_date": DateInput(),
            "reason": forms.Textarea(attrs={"rows": 3}),
            "contraindications": forms.Textarea(attrs={"rows": 2}),
            "weight_bearing_restrictions": forms.Textarea(attrs={"rows": 2}),
            "range_of_motion_restrictions": forms.Textarea(attrs={"rows": 2}),
            "precaution_notes": forms.Textarea(attrs={"rows": 2}),
            **{name: forms.Select(choices=YES_NO_UNKNOWN) for name in NULL_BOOLEANS},
        }

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        if "referring_provider" in self.fields:
            self.fields["referring_provider"].queryset = ReferringProvider.objects.filter(clinic=clinic)
        self.fields["qualifying_condition"].choices = [("", "Choose…"), *Referral.Condition.choices]
        programs = Program.objects.filter(clinic=clinic, is_active=True)
        self.fields["program"].queryset = programs
        self.fields["program"].widget = ProgramSelect(choices=self.fields["program"].choices)
        self.fields["program"].widget.program_types = {str(p.pk): p.program_type for p in programs}
        self.fields["program"].empty_label = "Choose a program…"
        self.fields["height"].label = f"Height ({clinic.length_unit})"
        self.fields["weight"].label = f"Weight ({clinic.weight_unit})"
        if self.instance.pk:
            self.initial["height"] = self._to_clinic_length(self.instance.height_cm)
            self.initial["weight"] = self._to_clinic_weight(self.instance.weight_kg)

    def _to_clinic_length(self, cm):
        if cm is None:
            return None
        return (cm / CM_PER_IN).quantize(Decimal("0.1")) if self.clinic.length_unit == "in" else cm

    def _to_clinic_weight(self, kg):
        if kg is None:
            return None
        return (kg * LB_PER_KG).quantize(Decimal("0.1")) if self.clinic.weight_unit == "lb" else kg

    def clean(self):
        data = super().clean()
        height, weight = data.get("height"), data.get("weight")
        data["height_cm"] = data["weight_kg"] = None  # a cleared field clears the stored value
        if height is not None:
            data["height_cm"] = (height * CM_PER_IN if self.clinic.length_unit == "in" else height).quantize(
                Decimal("0.1")
            )
        if weight is not None:
            data["weight_kg"] = (weight / LB_PER_KG if self.clinic.weight_unit == "lb" else weight).quantize(
                Decimal("0.1")
            )
        return data

    def clean_attachment(self):
        attachment = self.cleaned_data.get("attachment")
        if attachment:
            try:  # size and type, in the same pass as every other field
                services.attachment_content_type(attachment)
            except ValidationError as error:
                raise ValidationError(error.message_dict["attachment"]) from error
        return attachment

    def _post_clean(self):
        # The model's field rules (plausible dates and values) run with the form's own, so every error shows
        # on the first submit. Rules that need the clinic (matching, ownership, uniqueness) stay in the service.
        exclude = self._get_validation_exclusions()
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
            self.instance.clean_fields(exclude=exclude)
        except ValidationError as error:
            self._update_errors(error)

    def sections(self):
        groups = [
            ("Referral", REFERRAL_FIELDS),
            ("Patient", PATIENT_FIELDS),
            *CLINICAL_FIELDSETS,
            ("Referral document", ["attachment"]),
        ]
        return [
            (legend, SECTION_PROGRAM_TYPES.get(legend, ""), [self[name] for name in names if name in self.fields])
            for legend, names in groups
        ]


class PortalReferralForm(ReferralForm):
    """The physician's short form: their own details are filled in, the clinic's program chosen."""

    class Meta(ReferralForm.Meta):
        fields = [name for name in ReferralForm.Meta.fields if name != "referring_provider"]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Referral.Status.choices)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AcceptForm(forms.Form):
    start_date = forms.DateField(widget=DateInput())


class OverrideForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Reason for overriding")


class DischargeForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Discharge reason")
    ended_on = forms.DateField(widget=DateInput(), required=False, label="Discharge date")


class LinkPatientForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=Patient.objects.none(), required=False)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = candidates


class AttachmentForm(forms.Form):
    attachment = forms.FileField()


class ProviderForm(forms.ModelForm):
    class Meta:
        model = ReferringProvider
        fields = PROVIDER_FIELDS

    def _post_clean(self):
        pass


class PhysicianProfileForm(ProviderForm):
    class Meta(ProviderForm.Meta):
        fields = ["credentials", "npi", "specialty", "practice_name", "phone", "fax"]


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = PROGRAM_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "default_length_weeks": "Length (weeks)",
            "default_session_count": "Sessions in all",
            "is_active": "Active",
        }

    def _post_clean(self):
        pass


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("open", "Open"), ("overdue", "Overdue"), *Referral.Status.choices, ("", "All")],
    )
    q = forms.CharField(required=False, max_length=100)


class PortalFilterForm(forms.Form):
    """The filters of "My patients". Without `memberships` (the page of one clinic) there is no clinic choice."""

    clinic = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "All statuses"), *Referral.Status.choices])

    def __init__(self, *args, memberships=None, **kwargs):
        super().__init__(*args, **kwargs)
        if memberships is None:
            del self.fields["clinic"]
        else:
            choices = [(m.clinic.slug, m.clinic.name) for m in memberships]
            self.fields["clinic"].choices = [("", "All clinics"), *choices]
