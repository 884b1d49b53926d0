"""The chart's urgent clinical alerts: {% load outcomes_tags %}{% clinical_alerts patient %}."""

from django import template

from clinic import alerts

register = template.Library()


@register.inclusion_tag("outcomes/_alert_banner.html", takes_context=True)
def clinical_alerts(context, patient):
    request = context.get("request")
    clinic = getattr(request, "clinic", None)
    can = context.get("can", set())
    # Clinical: billing does not see them.
    show = clinic is not None and "alert.view" in can
    return {
        "alerts": alerts.open_alerts_for_patient(clinic=clinic, patient=patient) if show else [],
        "request": request,
        "can": can,
        "csrf_token": context.get("csrf_token"),
    }
