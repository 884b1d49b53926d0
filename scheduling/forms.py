import datetime

from django import forms

from clinic.forms import DateInput
from clinic.models import Program
from scheduling import selectors
from scheduling.models import Authorization, ClassTemplate, DeliveryMode
from scheduling.services import AUTHORIZATION_FIELDS, TEMPLATE_FIELDS


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


def _staff_label(membership):
    return membership.user.get_full_name() or membership.user.email


def _enrollment_label(enrollment):
    patient = enrollment.patient
    return f"{patient.last_name}, {patient.first_name} ({patient.mrn}) · {enrollment.program.name}"


class ClassTemplateForm(forms.ModelForm):
    class Meta:
        model = ClassTemplate
        fields = TEMPLATE_FIELDS
        widgets = {"start_time": TimeInput(), "starts_on": DateInput(), "ends_on": DateInput()}
        labels = {
            "weekday": "Day of the week",
            "duration_minutes": "Length (minutes)",
            "staff": "Staff member",
            "starts_on": "First date",
            "ends_on": "Last date",
            "is_active": "Running",
        }
        help_texts = {"ends_on": "Leave empty for a class that runs until further notice."}

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(clinic=clinic, is_active=True).order_by("name")
        self.fields["staff"].queryset = selectors.schedule_staff(clinic=clinic)
        self.fields["staff"].label_from_instance = _staff_label
        self.fields["delivery_mode"].required = False
        self.fields["delivery_mode"].help_text = "For DPP and Medicare DPP classes; a participant's row may differ."

    def clean_delivery_mode(self):
        return self.cleaned_data["delivery_mode"] or DeliveryMode.IN_PERSON

    def _post_clean(self):
        pass  # the service validates with the clinic in hand


class CancelOccurrenceForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Reason", help_text="E.g. holiday, staff illness.")


class BookingForm(forms.Form):
    enrollment = forms.ModelChoiceField(queryset=None, label="Patient")
    waitlist = forms.BooleanField(required=False, label="Put on the waitlist if the class is full")
    is_makeup = forms.BooleanField(required=False, label="Make-up session")

    def __init__(self, *args, enrollments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = enrollments
        self.fields["enrollment"].label_from_instance = _enrollment_label


class StandingBookingForm(forms.Form):
    enrollment = forms.ModelChoiceField(queryset=None, label="Patient")
    starts_on = forms.DateField(required=False, widget=DateInput(), label="From", help_text="Today if left empty.")

    def __init__(self, *args, enrollments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = enrollments
        self.fields["enrollment"].label_from_instance = _enrollment_label


class CancelBookingForm(forms.Form):
    reason = forms.CharField(max_length=200, required=False, label="Reason")


class AppointmentForm(forms.Form):
    enrollment = forms.ModelChoiceField(queryset=None, label="Patient")
    date = forms.DateField(widget=DateInput())
    start_time = forms.TimeField(widget=TimeInput(), label="Time")
    duration_minutes = forms.IntegerField(min_value=5, max_value=480, initial=60, label="Length (minutes)")
    room = forms.CharField(max_length=100, required=False)
    staff = forms.ModelChoiceField(queryset=None, required=False, label="Staff member")
    name = forms.CharField(max_length=150, required=False, label="Title", help_text="E.g. individual assessment.")

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = selectors.enrollments_for_booking(clinic=clinic)
        self.fields["enrollment"].label_from_instance = _enrollment_label
        self.fields["staff"].queryset = selectors.schedule_staff(clinic=clinic)
        self.fields["staff"].label_from_instance = _staff_label


class CalendarFilterForm(forms.Form):
    view = forms.ChoiceField(choices=[("week", "Week"), ("day", "Day")], required=False)
    date = forms.DateField(required=False, widget=DateInput(), input_formats=["%Y-%m-%d"])
    room = forms.ChoiceField(required=False)
    staff = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Staff member")

    def __init__(self, *args, rooms, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].choices = [("", "All rooms"), *[(room, room) for room in rooms]]
        self.fields["staff"].choices = [("", "All staff"), *[(m.pk, _staff_label(m)) for m in staff]]

    def values(self, today: datetime.date):
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("view") or "week", data.get("date") or today, data.get("room") or "", data.get("staff")


class AuthorizationForm(forms.ModelForm):
    enrollment = forms.ModelChoiceField(queryset=None, label="Patient and program")

    class Meta:
        model = Authorization
        fields = ["enrollment", *AUTHORIZATION_FIELDS]
        widgets = {"starts_on": DateInput(), "ends_on": DateInput()}
        labels = {"starts_on": "First date", "ends_on": "Last date"}

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = selectors.enrollments_for_booking(clinic=clinic)
        self.fields["enrollment"].label_from_instance = _enrollment_label
        if self.instance.pk:
            del self.fields["enrollment"]

    def _post_clean(self):
        pass
