"""Progress pieces for templates: values in a measure's precision and unit, the MCID badge, and the
physician portal's rows with their progress (referrals' templates may load this library; referrals/ may
not import outcomes/, as clinic/'s pages load referrals' tags)."""

from decimal import Decimal

from django import template

from outcomes.progress import display_unit, format_value, headline_progress

register = template.Library()


@register.filter
def measure_value(value: Decimal | None, measure) -> str:
    """72.5 kg, 410 m, 9 (a score): the measure's decimal places and display unit; — when missing."""
    if value is None:
        return "—"
    unit = display_unit(measure.unit)
    text = format_value(value, measure.decimal_places)
    return f"{text} {unit}" if unit and unit != "%" else f"{text}{unit}"


@register.filter
def signed_change(value: Decimal | None, measure) -> str:
    """+42 m, −3.5 kg (a true minus sign)."""
    if value is None:
        return "—"
    text = measure_value(abs(value), measure)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


@register.filter
def signed_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "−" if value < 0 else "±") + f"{abs(value):.1f} %"


@register.inclusion_tag("outcomes/_mcid_badge.html")
def mcid_badge(change):
    return {"change": change}


@register.simple_tag
def rows_with_progress(referrals):
    """[(referral, progress or None)] for a page of "My patients": attendance and the headline change of
    each referral's enrollment, in a fixed number of queries for the whole page (headline_progress). Only
    where the physician may open the chart (the referral's `chart_visible`)."""
    referrals = list(referrals)
    enrollments = [r.enrollment for r in referrals if r.enrollment_id and getattr(r, "chart_visible", False)]
    progress = headline_progress(enrollments)
    return [(r, progress.get(r.enrollment_id) if r.enrollment_id else None) for r in referrals]
