import datetime

from django import forms
from django.utils import timezone

from clinic.forms import PlainSelect
from clinic.models import Enrollment


class ReportRequestForm(forms.Form):
    """The chart's "Generate progress report": which enrollment, which period (default: the last 30 days)."""

    # The patient's few enrollments, read once by the view: a ModelChoiceField would read them again twice
    # (a server-side cursor each) to render its select on every chart (issue 11).
    # PlainSelect: Django renders a template per option (issue 11).
    enrollment = forms.TypedChoiceField(coerce=int, widget=PlainSelect)
    period_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    comment = forms.CharField(
        label="Comment for the physician", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    def __init__(self, *args, enrollments: list[Enrollment], **kwargs):
        today = timezone.localdate()
        kwargs.setdefault("initial", {"period_start": today - datetime.timedelta(days=29), "period_end": today})
        super().__init__(*args, **kwargs)
        self.enrollments = {enrollment.pk: enrollment for enrollment in enrollments}
        self.fields["enrollment"].choices = [
            (e.pk, f"{e.program.name} (from {e.start_date:%m/%d/%Y})") for e in self.enrollments.values()
        ]

    def clean_enrollment(self) -> Enrollment:
        return self.enrollments[self.cleaned_data["enrollment"]]
