import zoneinfo
from html import escape

from django import forms
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe

from clinic.models import AuditEntry, Clinic, Patient, Role
from clinic.services import CLINIC_SETTINGS_FIELDS, PATIENT_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class PlainSelect(forms.Select):
    """A select whose options are written here rather than by Django's template per option: a list of a
    clinic's members runs to a hundred options (the load test's clinics), and rendering them through
    templates was most of the audit trail's time. Flat choices only (no groups); every value is escaped (with
    `html.escape`, which Django's `escape` wraps in a lazy-string check and a SafeString per call)."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) in selected else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        final_attrs = flatatt(self.build_attrs({"name": name, **self.attrs}, attrs))
        return mark_safe(f"<select{final_attrs}>{options}</select>")  # noqa: S308


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = PATIENT_FIELDS
        widgets = {"date_of_birth": DateInput(), "consent_date": DateInput()}
        help_texts = {"mbi": "11 characters, e.g. 1EG4-TE5-MK73. Dashes are optional."}

    FIELDSETS = [
        ("Identity", ["mrn", "first_name", "last_name", "date_of_birth", "sex", "preferred_language"]),
        ("Contact", ["phone", "email", "address_line1", "address_line2", "city", "state", "postal_code",
                     "emergency_contact_name", "emergency_contact_phone"]),
        ("Insurance", ["primary_payer", "payer_member_id", "mbi"]),
        ("Consent and communication", ["consent_to_treatment", "consent_date", "email_opt_in", "sms_opt_in"]),
    ]  # fmt: skip

    def fieldsets(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]

    def _post_clean(self):
        # Model validation (MRN uniqueness within the clinic, MBI format, …) runs in the service,
        # which knows the clinic; its errors are attached to this form by the view.
        pass


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "All statuses"), *Patient.Status.choices],
        initial=Patient.Status.ACTIVE,
        widget=PlainSelect,  # Django renders a template per option: a tenth of a one-row search's CPU
    )


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=Role.choices, **kwargs)


class InvitationForm(forms.Form):
    email = forms.EmailField()
    roles = RolesField()


class MembershipRolesForm(forms.Form):
    roles = RolesField()


class AcceptInvitationForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 12 characters, not a common password.")
    password_again = forms.CharField(widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use this token, e.g. “EHR interface”.")


class AuditFilterForm(forms.Form):
    patient = forms.IntegerField(required=False, widget=forms.HiddenInput)
    actor = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="User", widget=PlainSelect)
    event = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *AuditEntry.Event.choices], label="Action", widget=PlainSelect
    )
    date_from = forms.DateField(required=False, widget=DateInput(), label="From")
    date_to = forms.DateField(required=False, widget=DateInput(), label="To")

    def __init__(self, *args, users=(), **kwargs):
        """users: (user id, name) of the clinic's members (selectors.member_user_choices)."""
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "All users"), *users]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data


# US clinics are the common case: their zones first, the rest of the world after, alphabetically.
COMMON_TIME_ZONES = [
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Mountain, no daylight saving (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
]


def time_zone_choices() -> list:
    common = {name for name, _ in COMMON_TIME_ZONES}
    others = sorted(name for name in zoneinfo.available_timezones() if name not in common)
    return [
        ("United States", COMMON_TIME_ZONES),
        ("All time zones", [(name, name.replace("_", " ")) for name in others]),
    ]


class ClinicSettingsForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = CLINIC_SETTINGS_FIELDS
        labels = {
            "timezone": "Time zone",
            "phone": "Phone",
            "email": "Email",
            "tax_id": "Tax ID",
            "mfa_required": "Require two-factor authentication",
            "idle_timeout_minutes": "Idle sign-out (minutes)",
            "logout_on_browser_close": "Sign out when the browser closes",
            "reminder_lead_hours": "Reminder lead time (hours)",
            "reminder_by_email": "Email reminders",
            "reminder_by_sms": "Text message reminders",
            "late_cancel_hours": "Late cancellation (hours)",
        }
        help_texts = {
            "reminder_lead_hours": "1–168 hours before each booked session, to patients who opted in.",
            "late_cancel_hours": "0–168; cancelling this close to the session counts as late.",
        }

    # Shown under their own heading (templates/clinic/settings.html).
    SCHEDULING_FIELDS = ["reminder_by_email", "reminder_by_sms", "reminder_lead_hours", "late_cancel_hours"]

    def general_fields(self):
        return [field for field in self if field.name not in self.SCHEDULING_FIELDS]

    def scheduling_fields(self):
        return [self[name] for name in self.SCHEDULING_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A select rather than free text: a typo in a zone name would only be caught on save.
        self.fields["timezone"].widget = forms.Select(choices=time_zone_choices())
        self.fields["address"].widget.attrs["rows"] = 3
