"""`{% reminder_history patient %}`: the patient's session reminders on the chart."""

from django import template

from clinic.permissions import has_permission
from scheduling.reminders import chart_reminders

register = template.Library()


@register.inclusion_tag("scheduling/_reminder_history.html", takes_context=True)
def reminder_history(context, patient):
    membership = getattr(context["request"], "membership", None)
    if membership is None or not has_permission(membership, "reminder.view"):
        return {"visible": False}
    return {
        "visible": True,
        "patient": patient,
        "reminders": chart_reminders(membership=membership, patient=patient),
    }
