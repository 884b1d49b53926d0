"""The open safety flags of a patient, for the chart: {% load floorsheet_tags %}{% open_safety_flags patient %}."""

from django import template

from scheduling import floorsheet

register = template.Library()


@register.inclusion_tag("scheduling/floor_chart_flags.html", takes_context=True)
def open_safety_flags(context, patient):
    request = context.get("request")
    clinic = getattr(request, "clinic", None)
    can = context.get("can", set())
    # Safety flags are clinical: billing does not see them.
    show = clinic is not None and "session.view_clinical" in can
    flags = floorsheet.open_flags_for_patient(clinic=clinic, patient=patient) if show else []
    return {"flags": flags, "request": request, "can": can}
