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
def floor_row_fields(form):
    """Every fieldset of a floor-sheet row (RowForm.GROUPS), built here in one tag rather than through widget
    templates or a tag per input: a class of twenty has some six hundred inputs, and the template engine's
    work per input was most of the page's time. Every value is escaped."""
    errors = form.errors  # empty, without validating, for an unbound form
    fieldsets = []
    for legend, group_class, fields in form.GROUPS:
        shown = [(name, cls) for name, cls in fields if name in form.fields]
        inputs = "".join(_labelled_input(form[name], cls, errors.get(name)) for name, cls in shown)
        if inputs:
            fieldsets.append(f'<fieldset class="{" ".join(["grp", *group_class.split()])}"><legend>{legend}</legend>'
                             f"{inputs}</fieldset>")  # fmt: skip
    return mark_safe("\n".join(fieldsets))  # noqa: S308


def _labelled_input(field, cls: str, errors) -> str:
    widget = field.field.widget
    # Each input names its patient for screen readers: the labels are short ("HR").
    who = f"{field.form.prefix}-who"
    attrs = {"name": field.html_name, "id": field.auto_id, **widget.attrs, "aria-describedby": who}
    classes = ["f", *cls.split()]
    if errors:
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
    shown_errors = f'<span class="errorlist">{escape(" ".join(errors))}</span>' if errors else ""
    label = escape(str(field.label))
    return f'<label class="{" ".join(classes)}"><span>{label}</span>{control}{shown_errors}</label>'
