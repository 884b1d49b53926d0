"""The chart's "Progress reports" panel: clinic/ may not import outcomes/, so its template asks this tag."""

from django import template

from clinic.permissions import has_permission
from outcomes.reports.views import panel_context

register = template.Library()


@register.inclusion_tag("outcomes/reports/_panel.html", takes_context=True)
def patient_reports(context, patient, enrollments):
    request = context["request"]
    membership = getattr(request, "membership", None)
    if membership is None or not has_permission(membership, "report.view"):
        return {"visible": False}
    return panel_context(request, patient, enrollments=enrollments)
