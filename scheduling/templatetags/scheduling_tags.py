"""The patient chart's sessions panel: clinic/ may not import scheduling/, so its template asks this tag."""

from django import template
from django.utils import timezone

from clinic.permissions import has_permission
from scheduling import selectors

register = template.Library()


@register.inclusion_tag("scheduling/_patient_sessions.html", takes_context=True)
def patient_sessions(context, patient):
    """Upcoming and past sessions of a patient whose chart the member is already allowed to see."""
    request = context["request"]
    membership = getattr(request, "membership", None)
    if membership is None or not has_permission(membership, "booking.view"):
        return {"visible": False}
    upcoming, past = selectors.patient_sessions(clinic=request.clinic, patient_id=patient.pk, now=timezone.now())
    return {"visible": True, "upcoming": upcoming, "past": past, "request": request,
            "can_view_classes": has_permission(membership, "schedule.view")}  # fmt: skip
