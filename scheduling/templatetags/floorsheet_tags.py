"""The open safety flags of a patient, for the chart: {% load floorsheet_tags %}{% open_safety_flags patient %}."""

from html import escape

from django import forms, template
from django.utils.safestring import mark_safe

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


def _attrs(attrs: dict) -> str:
    return "".join(f' {key}="{escape(str(value))}"' for key, value in attrs.items() if value is not None)


@register.simple_tag
def floor_field(field, cls=""):
    """One labelled input of a floor-sheet row, built here rather than through widget templates: a class
    of twenty has some six hundred inputs, and a template (or format_html) per input would dominate the
    page's time. Every value is escaped."""
    widget = field.field.widget
    attrs = {"name": field.html_name, "id": field.auto_id, **widget.attrs}
    classes = ["f", *cls.split()]
    if field.errors:
        classes.append("has-error")
        attrs["aria-invalid"] = "true"
    value = field.value()
    if isinstance(widget, forms.CheckboxInput):
        classes.append("check")
        control = f'<input type="checkbox"{_attrs(attrs)}{" checked" if value else ""}>'
    elif isinstance(widget, forms.Select):
        selected = "" if value is None else str(value)
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) == selected else ""}>{escape(str(label))}'
            "</option>"
            for key, label in field.field.choices
        )
        control = f"<select{_attrs(attrs)}>{options}</select>"
    else:
        shown = widget.format_value(value)
        if shown is not None and shown != "":
            attrs["value"] = shown
        control = f'<input type="{widget.input_type}"{_attrs(attrs)}>'
    errors = f'<span class="errorlist">{escape(" ".join(field.errors))}</span>' if field.errors else ""
    label = escape(str(field.label))
    return mark_safe(f'<label class="{" ".join(classes)}"><span>{label}</span>{control}{errors}</label>')  # noqa: S308
