"""The floor sheet's rows ({% floor_row entry %}) and, for the chart, a patient's open safety flags
({% open_safety_flags patient %}); {% load floorsheet_tags %}.

A row is written here in Python rather than by a template: a class of twenty is some six hundred inputs and
two hundred badges, links and messages, and the template engine's work on them (variable look-ups, tags,
widget templates) was most of the page's CPU (`floor_row.html` and a tag for its inputs: about 20 of the 47 ms
a class of 20 took on a loaded machine; this about 2.5 ms). Every value is escaped, as `{{ }}` would.
"""

import dataclasses
import datetime
import functools
from decimal import Decimal
from html import escape

from django import forms, template
from django.template.base import render_value_in_context
from django.template.defaultfilters import floatformat
from django.template.defaulttags import CsrfTokenNode
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import time_format
from django.utils.html import conditional_escape
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


# --- A row of the floor sheet -------------------------------------------------------------------------

_CSRF_INPUT = CsrfTokenNode()  # {% csrf_token %}
ONE_PLACE = Decimal("0.1")


@register.simple_tag(takes_context=True)
def floor_row(context, entry: dict):
    """One booked patient's row: header (name, badges, precautions, targets), flags with the hold's override
    form, and the row's form. `entry` is floorsheet_views._row_context's: occurrence, row, form, override_form,
    can_override, and after a save just_saved, conflict and unsaved, or override_errors and override_open_for."""
    row, form, occurrence = entry["row"], entry["form"], entry["occurrence"]
    pk = row.booking.pk
    slug = context["request"].clinic.slug
    csrf = _csrf_input(context)
    state = " on-hold" if row.open_holds else " flagged" if row.open_flags else ""
    save_url = escape(_row_save_url(context, slug, occurrence.pk, pk))
    return mark_safe(  # noqa: S308 (every part escaped)
        f'<article class="floor-row{state}" id="row-{pk}" aria-labelledby="b{pk}-who">\n'
        f"{_header(row)}\n"
        f"{_flags(entry, slug, csrf)}\n"
        f'<form class="inline-form row-form" method="post" action="{save_url}" hx-post="{save_url}"'
        f' hx-target="#row-{pk}" hx-swap="outerHTML" hx-sync="this:queue last">\n'
        f'{csrf}<input type="hidden" name="{escape(form.add_prefix("version"))}"'
        f' value="{_text(form["version"].value(), context)}">\n'
        f"{_errors(form.non_field_errors())}\n"
        f"{_row_fields(form)}\n"
        f'<div class="save">\n<button type="submit" class="button">Save</button>\n'
        f'<span class="status" role="status">\n{_status(context, entry)}\n</span>\n</div>\n'
        "</form>\n</article>\n"
    )


def _csrf_input(context) -> str:
    """{% csrf_token %}'s input, masked once a page rather than once a row (each masking about 15 µs): any
    masking of the request's secret is accepted, and the page's other forms each have their own."""
    key = "floor_row_csrf"
    if key not in context.render_context:
        context.render_context[key] = _CSRF_INPUT.render(context)
    return context.render_context[key]


def _row_save_url(context, slug: str, occurrence_pk: int, booking_pk: int) -> str:
    """reverse("floor_row_save", args=[slug, occurrence_pk, booking_pk]). A class's rows differ only in the
    last segment, so it is reversed once a page and each booking's id put in its place (20 reversals took
    0.5 ms of CPU)."""
    key = ("floor_row_save", slug, occurrence_pk)
    if key not in context.render_context:
        context.render_context[key] = reverse("floor_row_save", args=[slug, occurrence_pk, 0]).removesuffix("0/")
    return f"{context.render_context[key]}{booking_pk}/"


def _header(row) -> str:
    patient, enrollment, log = row.patient, row.enrollment, row.log
    pk = row.booking.pk
    parts = [f'<header class="who">\n<h2 id="b{pk}-who">{escape(patient.last_name)}, {escape(patient.first_name)}</h2>']
    if log and log.session_number:
        parts.append(f'<span class="badge">Session {log.session_number}</span>')
    if row.booking.is_makeup:
        parts.append('<span class="badge">Make-up</span>')
    if enrollment.beta_blocker:
        parts.append(
            '<span class="badge prec" title="Heart-rate targets unreliable: use RPE">Beta-blocker · use RPE</span>'
        )
    if enrollment.supplemental_oxygen:
        parts.append('<span class="badge prec">O2</span>')
    if ceiling := row.hr_ceiling:
        parts.append(f'<span class="badge prec">HR ≤ {ceiling}</span>')
    if enrollment.has_diabetes:
        parts.append('<span class="badge prec">Diabetes · check glucose</span>')
    parts.append(f'<span class="targets">{_targets(row.aerobic, enrollment)}</span>')
    if enrollment.precaution_notes:
        parts.append(f'<p class="prec-notes">{escape(enrollment.precaution_notes)}</p>')
    if row.eligibility_warning:
        parts.append(f'<p class="eligibility-warning" role="note">{escape(row.eligibility_warning)}</p>')
    parts.append("</header>")
    return "\n".join(parts)


def _targets(aerobic, enrollment) -> str:
    """The current aerobic prescription's targets: heart rate (not with a beta-blocker), intensity, minutes."""
    if not aerobic:
        return '<span class="muted">No current prescription</span>'
    a = aerobic
    parts = ["Target:"]
    if a.target_hr_low and not enrollment.beta_blocker:
        parts.append(f"HR {a.target_hr_low}–{_text(a.target_hr_high)}")
    method = a.intensity_method
    if method in ("rpe", "cr10"):
        parts.append(f"RPE {_number(a.intensity_low)}–{_number(a.intensity_high)}")
    elif method in ("mets", "watts"):
        unit = "METs" if method == "mets" else "W"
        parts.append(f"{_number(a.intensity_low)}–{_number(a.intensity_high)} {unit}")
    elif method == "speed_grade" and a.speed_mph:
        parts.append(f"{_number(a.speed_mph)} mph, {_number(a.grade_percent or 0)} %")
    amount = f"· {a.minutes} min" if a.minutes else ""
    if a.modality:
        amount += f" · {escape(a.modality)}"
    parts.append(amount)
    return "\n".join(parts) + "\n"


def _number(value) -> str:
    """`{{ value|floatformat:"-1" }}`: 13.0 as 13, 13.5 as 13.5. A decimal of one place at most (the targets'
    columns) is written here: `floatformat` took 30 µs each, for its localization (no locale but en-us here)."""
    if isinstance(value, Decimal) and value == value.quantize(ONE_PLACE):
        if value == value.to_integral_value():
            return f"{value:.0f}" if value else "0"  # not "-0"
        return f"{value:.1f}"
    return floatformat(value, -1)


def _flags(entry: dict, slug: str, csrf: str) -> str:
    """The session's open and overridden flags; an open hold carries its override form for those who may."""
    row = entry["row"]
    if not row.flags:
        return ""
    items = []
    for flag in row.flags:
        severity = flag.get_severity_display()
        overridden = " overridden" if flag.status == "overridden" else ""
        emphasis = "urgent" if flag.severity == "hold" else "warn" if flag.severity == "warn" else ""
        item = [
            f'<li class="flag {escape(flag.severity)} {escape(flag.status)}">',
            f'<span class="badge sev-{escape(flag.severity)} {emphasis}">{escape(severity)}{overridden}</span>',
            f'{escape(flag.message)} <small class="muted">Source: {escape(flag.rule.source)}</small>',
        ]
        if overridden:
            item.append(
                f'<small class="muted">Overridden by {escape(_full_name(flag.overridden_by))}, acknowledged by '
                f"{escape(_full_name(flag.acknowledged_by))}: “{escape(flag.override_reason)}”</small>"
            )
        if flag.status == "open" and flag.severity == "hold" and entry["can_override"]:
            item.append(_override_form(entry, flag, slug, csrf))
        item.append("</li>")
        items.append("\n".join(item))
    return '<ul class="flags">\n' + "\n".join(items) + "\n</ul>"


def _override_form(entry: dict, flag, slug: str, csrf: str) -> str:
    pk = entry["row"].booking.pk
    is_open = entry.get("override_open_for") == flag.pk
    url = escape(reverse("safety_flag_override", args=[slug, flag.pk]))
    reason = entry["override_form"]["reason"]
    supervisor = entry["occurrence"].supervising_practitioner
    acknowledged = escape(_full_name(supervisor) or supervisor.user.email) if supervisor else "none chosen"
    errors = entry.get("override_errors")
    shown_errors = _errors(errors) if errors and is_open else ""
    return (
        f'<details class="override"{" open" if is_open else ""}>\n<summary>Override hold</summary>\n'
        f'<form class="inline-form override-form" method="post" action="{url}" hx-post="{url}"'
        f' hx-target="#row-{pk}" hx-swap="outerHTML">\n{csrf}\n'
        f'<label class="f wide"><span>{conditional_escape(reason.label)}</span>{reason}</label>\n'
        f'<p class="muted">Acknowledged by the supervising practitioner: <strong>{acknowledged}</strong></p>\n'
        f'{shown_errors}\n<button type="submit" class="button danger">Override with this reason</button>\n'
        "</form>\n</details>"
    )


def _status(context, entry: dict) -> str:
    """Beside the Save button: a conflict, the form's errors, when and by whom the row was saved, or nothing yet."""
    form, log = entry["form"], entry["row"].log
    if conflict := entry.get("conflict"):
        shown = f'<strong class="conflict">{conditional_escape(conflict)}</strong>'
        if unsaved := entry.get("unsaved"):
            values = ", ".join(f"{_text(label, context)} {_text(value, context)}" for label, value in unsaved)
            shown += f" Not saved from your copy: {values}."
        return shown
    if form.errors:
        return '<strong class="error">Not saved: fix the values marked in red.</strong>'
    if log and log.updated_at:
        user = log.updated_by.user if log.updated_by else None
        initial, last_name = (escape(user.first_name[:1]), escape(user.last_name)) if user else ("", "")
        when = time_format(timezone.localtime(log.updated_at), "H:i")
        just = " just" if entry.get("just_saved") else ""
        return f'<span class="saved{just}">Saved {when} by {initial}. {last_name}</span>'
    return '<span class="muted">Not recorded yet</span>'


def _full_name(membership) -> str:
    return membership.user.get_full_name() if membership else ""


def _errors(messages) -> str:
    if not messages:
        return ""
    return '<ul class="errorlist">' + "".join(f"<li>{conditional_escape(m)}</li>" for m in messages) + "</ul>"


def _text(value, context=None) -> str:
    """`{{ value }}`: a string or a whole number as it is (no thousands separators here), escaped; anything else
    (a decimal, a date and time) localized as the template engine does."""
    if isinstance(value, str):
        return conditional_escape(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return render_value_in_context(value, context or template.Context())


# --- The row's inputs ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Control:
    """What the inputs of one field have in common on every row, escaped once per process rather than for each
    of the page's 600 inputs (RowForm's fields and widgets are shared by its forms)."""

    kind: str  # "checkbox", "select", or the <input>'s type
    label: str
    attrs: str  # the widget's own attributes: ' inputmode="numeric" class="num"'
    options: dict  # a select's options by the selected value; under None, none selected


@functools.cache
def _control(widget, label) -> _Control:
    attrs = "".join(f' {key}="{escape(str(value))}"' for key, value in widget.attrs.items() if value is not None)
    label = escape(str(label))
    if isinstance(widget, forms.CheckboxInput):
        return _Control("checkbox", label, attrs, {})
    if isinstance(widget, forms.Select):
        choices = [(str(key), escape(str(text))) for key, text in widget.choices]
        options = {
            selected: "".join(
                f'<option value="{escape(key)}"{" selected" if key == selected else ""}>{text}</option>'
                for key, text in choices
            )
            for selected in [None, *(key for key, _ in choices)]
        }
        return _Control("select", label, attrs, options)
    return _Control(widget.input_type, label, attrs, {})


def _row_fields(form) -> str:
    """Every fieldset of a floor-sheet row (RowForm.GROUPS), built here rather than through widget templates."""
    errors = form.errors  # empty, without validating, for an unbound form
    prefix = escape(form.prefix)
    fieldsets = []
    for legend, group_class, fields in form.GROUPS:
        inputs = "".join(
            _labelled_input(form, prefix, name, cls, errors.get(name)) for name, cls in fields if name in form.fields
        )
        if inputs:
            fieldsets.append(f'<fieldset class="{" ".join(["grp", *group_class.split()])}"><legend>{legend}</legend>'
                             f"{inputs}</fieldset>")  # fmt: skip
    return "\n".join(fieldsets)


_MOMENTS = (datetime.datetime, datetime.time)


def _labelled_input(form, prefix: str, name: str, cls: str, errors) -> str:
    """The field's label and input as Django would write them for RowForm: its name is the row's prefix and the
    field's ("b12-pre_hr"), its id Django's default ("id_b12-pre_hr")."""
    field = form.fields[name]
    control = _control(field.widget, field.label)
    html_name = f"{prefix}-{name}"
    # What BoundField.value() gives; an unbound form (every row of the page) needs no BoundField for it, and
    # reads its initial value as get_initial_for_field does, which only alters a callable or a time (540 calls).
    if form.is_bound:
        value = form[name].value()
    else:
        value = form.initial.get(name, field.initial)
        if callable(value) or isinstance(value, _MOMENTS):
            value = form.get_initial_for_field(field, name)
    # Each input names its patient for screen readers: the labels are short ("HR").
    attrs = f' name="{html_name}" id="id_{html_name}"{control.attrs} aria-describedby="{prefix}-who"'
    classes = "f " + cls if cls else "f"
    if errors:
        classes += " has-error"
        attrs += ' aria-invalid="true"'
    if control.kind == "checkbox":
        classes += " check"
        tag = f'<input type="checkbox"{attrs}{" checked" if value else ""}>'
    elif control.kind == "select":
        options = control.options.get("" if value is None else str(value), control.options[None])
        tag = f"<select{attrs}>{options}</select>"
    else:
        shown = None if value is None or value == "" else field.widget.format_value(value)
        value_attr = f' value="{escape(str(shown))}"' if shown is not None and shown != "" else ""
        tag = f'<input type="{control.kind}"{attrs}{value_attr}>'
    shown_errors = f'<span class="errorlist">{escape(" ".join(errors))}</span>' if errors else ""
    return f'<label class="{classes}"><span>{control.label}</span>{tag}{shown_errors}</label>'
