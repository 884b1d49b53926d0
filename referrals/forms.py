import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance
from django.forms.utils import ErrorDict

from clinic.forms import DateInput, PlainSelect
from clinic.models import Patient, Program, ProgramType
from clinic.selectors import measures_for
from referrals import services
from referrals.models import ICD10_PATTERN, Referral, ReferringProvider
from referrals.services import PROGRAM_FIELDS, PROVIDER_FIELDS

LB_PER_KG = Decimal("2.20462")
CM_PER_IN = Decimal("2.54")

# The clinical sections of the referral form. Each program-specific section is shown only for the
# program types that need it (the facts referrals/eligibility.py reads for that type); the form of
# another program has none of its fields, so values posted for them are never saved.
CARDIAC_FIELDS = [
    "qualifying_condition",
    "qualifying_event_date",
    "lvef_percent",
    "nyha_class",
    "hf_optimal_therapy_weeks",
    "hf_recent_cv_event",
    "hf_planned_cv_procedure",
]
PULMONARY_FIELDS = [
    "qualifying_condition",
    "gold_stage",
    "fev1_fvc_ratio",
    "fev1_percent_predicted",
    "covid_confirmed_or_suspected",
    "covid_symptom_weeks",
]
BODY_AND_BLOOD_TEST_FIELDS = [
    "height",
    "weight",
    "bmi",
    "asian_american",
    "a1c_percent",
    "fasting_glucose",
    "ogtt_2h",
    "lab_test_date",
]
DPP_FIELDS = [
    *BODY_AND_BLOOD_TEST_FIELDS,
    "gestational_diabetes_history",
    "risk_test_score",
    "diabetes_diagnosis",
    "pregnant",
]
MDPP_FIELDS = [
    *BODY_AND_BLOOD_TEST_FIELDS,
    "lab_self_reported",
    "medicare_part_b",
    "diabetes_diagnosis",
    "esrd",
    "prior_mdpp",
]
CLEARANCE_FIELDS = [
    "cleared_for_exercise",
    "clearance_date",
    "contraindications",
    "beta_blocker",
    "supplemental_oxygen",
    "target_hr_ceiling",
    "weight_bearing_restrictions",
    "range_of_motion_restrictions",
    "precaution_notes",
]

# (key, legend, program types, fields)
PROGRAM_SECTIONS = [
    ("cardiac", "Cardiac qualifying event", {ProgramType.CR, ProgramType.ICR}, CARDIAC_FIELDS),
    ("pulmonary", "Pulmonary qualifying condition", {ProgramType.PR}, PULMONARY_FIELDS),
    ("dpp", "Diabetes prevention", {ProgramType.DPP}, DPP_FIELDS),
    ("mdpp", "Diabetes prevention (Medicare)", {ProgramType.MDPP}, MDPP_FIELDS),
]
PROGRAM_SECTION_FIELDS = {name for _, _, _, names in PROGRAM_SECTIONS for name in names}

# The conditions offered in each section: those its programs accept (migration 0008), and "Other".
Condition = Referral.Condition
SECTION_CONDITIONS = {
    "cardiac": [
        Condition.MI,
        Condition.CABG,
        Condition.STABLE_ANGINA,
        Condition.VALVE,
        Condition.PCI,
        Condition.TRANSPLANT,
        Condition.HEART_FAILURE,
        Condition.OTHER,
    ],
    "pulmonary": [Condition.COPD, Condition.POST_COVID, Condition.OTHER],
}
# The program types whose eligibility turns on the qualifying condition (eligibility.qualifying_condition_rule):
# without it the result can only be "needs information", so the form asks for it.
CONDITION_REQUIRED_FOR = {ProgramType.CR, ProgramType.ICR, ProgramType.PR}

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


class Preview:
    """A bound form shown again as it was typed, without judging it: the program changed, so other
    fields are on screen and nothing is saved. Call `show_as_typed()` before rendering it."""

    preview = False

    @property
    def errors(self):
        return ErrorDict() if self.preview else super().errors

    def is_valid(self):
        return not self.preview and super().is_valid()

    def show_as_typed(self) -> None:
        self.preview = True


class ProviderSelect(forms.Select):
    """Options carry what a search box matches them by: name, credentials, NPI and practice."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        provider = getattr(value, "instance", None)
        if provider is not None:
            words = [
                provider.first_name,
                provider.last_name,
                provider.credentials,
                provider.npi,
                provider.practice_name,
            ]
            option["attrs"]["data-search"] = " ".join(word for word in words if word).lower()
        return option


class ProviderChoiceField(forms.ModelChoiceField):
    widget = ProviderSelect

    def label_from_instance(self, provider):
        return f"{provider} · {provider.practice_name}" if provider.practice_name else str(provider)


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


class NewProviderForm(Preview, forms.ModelForm):
    """A referring provider typed on the referral form, saved in the same transaction as the referral.
    Looked at only when something is typed in it."""

    use_required_attribute = False  # required only when adding a provider

    class Meta:
        model = ReferringProvider
        fields = ["first_name", "last_name", "credentials", "npi", "practice_name", "phone", "fax", "email"]
        labels = {
            "first_name": "Provider's first name",
            "last_name": "Provider's last name",
            "practice_name": "Practice",
            "phone": "Provider's phone",
            "fax": "Provider's fax",
            "email": "Provider's email",
        }

    def has_input(self) -> bool:
        return self.is_bound and any(str(self.data.get(self.add_prefix(name), "")).strip() for name in self.fields)

    def _post_clean(self):
        # The NPI check digit and the email's form on the first submit; whether the NPI is free in the
        # clinic is the service's to say (it needs the clinic).
        try:
            instance = construct_instance(self, self.instance, self._meta.fields)
            instance.clean_fields(exclude=self._get_validation_exclusions())
        except ValidationError as error:
            self._update_errors(error)


class ReferralForm(Preview, forms.ModelForm):
    """The staff referral form: the referral, the patient, the clinical sections of the chosen program
    and clearance. Height and weight are entered in the clinic's units.

    The chosen program (posted, or `initial["program"]`, or the referral's) decides which clinical
    sections the form has. With `new_provider=True` a provider missing from the list can be typed in
    `self.new_provider` instead of choosing one.
    """

    diagnosis_codes = DiagnosisCodesField(required=False, help_text="ICD-10-CM, comma-separated, e.g. I21.4, I25.10")
    height = forms.DecimalField(required=False, min_value=20, max_value=300, decimal_places=1)
    weight = forms.DecimalField(required=False, min_value=20, max_value=1000, decimal_places=1)
    attachment = forms.FileField(required=False, help_text="The original referral: PDF, PNG or JPEG, up to 10 MB.")

    class Meta:
        model = Referral
        fields = [*REFERRAL_FIELDS, *PATIENT_FIELDS] + [
            name
            for name in dict.fromkeys(
                [*CARDIAC_FIELDS, *PULMONARY_FIELDS, *DPP_FIELDS, *MDPP_FIELDS, *CLEARANCE_FIELDS]
            )
            if name not in ("height", "weight")
        ]
        field_classes = {"referring_provider": ProviderChoiceField}
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

    def __init__(self, *args, clinic, new_provider=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        programs = list(Program.objects.filter(clinic=clinic, is_active=True))
        self.fields["program"].queryset = Program.objects.filter(clinic=clinic, is_active=True)
        self.fields["program"].empty_label = "Choose a program…"
        self.chosen_program = self._chosen_program(programs)
        program_type = self.chosen_program.program_type if self.chosen_program else ""
        self.program_sections = [section for section in PROGRAM_SECTIONS if program_type in section[2]]
        shown = {name for _, _, _, names in self.program_sections for name in names}
        for name in PROGRAM_SECTION_FIELDS - shown:
            del self.fields[name]
        if "qualifying_condition" in self.fields:
            self._offer_conditions(program_type)
        if "height" in self.fields:
            self.fields["height"].label = f"Height ({clinic.length_unit})"
            self.fields["weight"].label = f"Weight ({clinic.weight_unit})"
            if self.instance.pk:
                self.initial["height"] = self._to_clinic_length(self.instance.height_cm)
                self.initial["weight"] = self._to_clinic_weight(self.instance.weight_kg)
        if self.instance.pk:
            del self.fields["attachment"]  # documents are added on the referral's page
        self.new_provider = None
        if "referring_provider" in self.fields:
            self.fields["referring_provider"].queryset = ReferringProvider.objects.filter(clinic=clinic)
            self.fields["referring_provider"].empty_label = "Choose a provider…"
            if new_provider:
                self.fields["referring_provider"].required = False
                self.new_provider = NewProviderForm(self.data if self.is_bound else None, prefix="new_provider")

    def _chosen_program(self, programs):
        chosen = self.data.get(self.add_prefix("program")) if self.is_bound else self.initial.get("program")
        for program in programs:
            if str(program.pk) == str(chosen):
                return program
        # An inactive program keeps its referral's sections on the edit form.
        if self.instance.program_id and str(self.instance.program_id) == str(chosen):
            return self.instance.program
        return None

    def _offer_conditions(self, program_type):
        field = self.fields["qualifying_condition"]
        offered = [condition for key, _, _, _ in self.program_sections for condition in SECTION_CONDITIONS.get(key, [])]
        current = self.instance.qualifying_condition
        if current and current not in offered:
            offered.append(Referral.Condition(current))  # a value from the API or FHIR stays choosable
        field.choices = [("", "Choose…"), *[(condition.value, condition.label) for condition in offered]]
        field.required = program_type in CONDITION_REQUIRED_FOR

    @property
    def sections_key(self) -> str:
        """Which program sections are on screen; a form posted with others is shown again, not saved."""
        return " ".join(key for key, _, _, _ in self.program_sections)

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
        if "height" in self.fields:
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
        if self.new_provider is not None:
            self._clean_provider_choice(data)
        return data

    def _clean_provider_choice(self, data):
        if self.has_error("referring_provider"):
            return
        chosen, typed = data.get("referring_provider"), self.new_provider.has_input()
        if chosen and typed:
            self.add_error("referring_provider", "Choose a provider from the list or add a new one below, not both.")
        elif not chosen and not typed:
            self.add_error("referring_provider", "Choose the referring provider, or add a new one below.")
        elif typed and not self.new_provider.is_valid():
            self.add_error("referring_provider", "Correct the new provider's details below.")
        elif typed:
            data["new_provider"] = self.new_provider.cleaned_data

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

    def add_service_errors(self, error: ValidationError) -> None:
        """A service's refusal, shown by the field it names: this form's, else the new provider's, else on top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, errors in error.error_dict.items():
            if field in self.fields:
                self.add_error(field, errors)
            elif self.new_provider is not None and field in self.new_provider.fields:
                self.new_provider.add_error(field, errors)
                self.add_error("referring_provider", "Correct the new provider's details below.")
            else:
                self.add_error(None, errors)

    def show_as_typed(self) -> None:
        super().show_as_typed()
        if self.new_provider is not None:
            self.new_provider.show_as_typed()

    def general_sections(self):
        return self._sections([("Referral", REFERRAL_FIELDS), ("Patient", PATIENT_FIELDS)])

    def clinical_sections(self):
        """The chosen program's own sections (swapped when the program changes)."""
        return self._sections([(legend, names) for _, legend, _, names in self.program_sections])

    def closing_sections(self):
        return self._sections(
            [("Medical clearance and precautions", CLEARANCE_FIELDS), ("Referral document", ["attachment"])]
        )

    def _sections(self, groups):
        sections = [(legend, [self[name] for name in names if name in self.fields]) for legend, names in groups]
        return [(legend, fields) for legend, fields in sections if fields]

    def carried_values(self):
        """Values typed in another program's sections, kept in hidden inputs so that switching back shows
        them again. The form never reads them: they are not its fields."""
        if not self.is_bound:
            return []
        names = sorted(PROGRAM_SECTION_FIELDS - set(self.fields))
        values = [(name, self.data.get(name)) for name in names]
        return [(name, value) for name, value in values if value not in (None, "")]

    def attachment_to_attach_again(self) -> str:
        """The name of a file chosen for a submit that failed: browsers do not keep a file input's choice
        on the page shown again, so the page names the file and asks for it once more."""
        if not self.is_bound or "attachment" not in self.fields:
            return ""
        upload = self.files.get("attachment")
        if upload is not None:
            return "" if self.has_error("attachment") else upload.name[:255]
        return self.data.get("attachment_chosen", "")[:255]


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


class PhysicianProfileForm(Preview, ProviderForm):
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
            "headline_measure": "Headline measure",
            "is_active": "Active",
        }

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["headline_measure"]
        field.queryset = measures_for(clinic=clinic)
        # Empty means something else on a new program (program_save gives it its type's usual measure).
        field.empty_label = (
            "None: the first measure with a classified change" if self.instance.pk else "The usual one for the type"
        )

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

    # PlainSelect: Django renders a template per option, about a tenth of the page's CPU (issue 11).
    clinic = forms.ChoiceField(required=False, widget=PlainSelect)
    status = forms.ChoiceField(
        required=False, choices=[("", "All statuses"), *Referral.Status.choices], widget=PlainSelect
    )

    def __init__(self, *args, memberships=None, **kwargs):
        super().__init__(*args, **kwargs)
        if memberships is None:
            del self.fields["clinic"]
        else:
            choices = [(m.clinic.slug, m.clinic.name) for m in memberships]
            self.fields["clinic"].choices = [("", "All clinics"), *choices]
