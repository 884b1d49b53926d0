import datetime

from django import forms
from django.utils import timezone

from clinic.models import Enrollment


class ReportRequestForm(forms.Form):
    """The chart's "Generate progress report": which enrollment, which period (default: the last 30 days)."""

    enrollment = forms.ModelChoiceField(queryset=Enrollment.objects.none(), empty_label=None)
    period_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    comment = forms.CharField(
        label="Comment for the physician", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    def __init__(self, *args, enrollments, **kwargs):
        today = timezone.localdate()
        kwargs.setdefault("initial", {"period_start": today - datetime.timedelta(days=29), "period_end": today})
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = enrollments
        self.fields["enrollment"].label_from_instance = lambda e: f"{e.program.name} (from {e.start_date:%m/%d/%Y})"
