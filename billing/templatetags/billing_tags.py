"""`{% patient_coverage patient %}`: the patient's coverage on the chart (clinic/ may not import billing/)."""

from django import template
from django.utils import timezone

from billing import selectors
from clinic.permissions import has_permission

register = template.Library()


@register.inclusion_tag("billing/_patient_coverage.html", takes_context=True)
def patient_coverage(context, patient):
    request = context["request"]
    membership = getattr(request, "membership", None)
    if membership is None or not has_permission(membership, "coverage.view"):
        return {"visible": False}
    return {
        "visible": True, "patient": patient, "request": request, "today": timezone.localdate(),
        "coverages": selectors.coverages_of_patient(clinic=request.clinic, patient=patient),
        "can_manage": has_permission(membership, "coverage.manage"),
        "can_request_packet": has_permission(membership, "packet.request"),
    }  # fmt: skip
