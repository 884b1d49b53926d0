import datetime

from django import forms
from django.utils import timezone

from clinic.forms import DateInput


def last_month() -> tuple[datetime.date, datetime.date]:
    first_of_this = timezone.localdate().replace(day=1)
    end = first_of_this - datetime.timedelta(days=1)
    return end.replace(day=1), end


class EnrollmentChoice(forms.ModelChoiceField):
    def label_from_instance(self, enrollment):
        return f"{enrollment.program.name}, from {enrollment.start_date:%m/%d/%Y}"


class PeriodForm(forms.Form):
    period_start = forms.DateField(label="First date of service", widget=DateInput())
    period_end = forms.DateField(label="Last date of service", widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("period_start", last_month()[0])
            self.initial.setdefault("period_end", last_month()[1])


class PacketForm(PeriodForm):
    """One patient's packet: the enrollment (among that patient's) and the period."""

    enrollment = EnrollmentChoice(queryset=None, label="Program enrollment")
    field_order = ["enrollment", "period_start", "period_end"]

    def __init__(self, *args, enrollments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = enrollments


class BatchForm(PeriodForm):
    """Every packet of a program over a period, as one ZIP."""

    program = forms.ModelChoiceField(queryset=None)
    field_order = ["program", "period_start", "period_end"]

    def __init__(self, *args, programs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs
