"""Administrators' pages for the clinic's measures (/c/<clinic>/measures/) and assessment batteries
(/c/<clinic>/batteries/). Shared measures and batteries are shown read-only; a shared battery is edited
through the clinic's own copy."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clinic.tenancy import clinic_view
from clinic.views import attach_errors
from outcomes import computed, services
from outcomes import selectors as sel
from outcomes.forms import BatteryForm, MeasureForm


@clinic_view("measure.manage")
def measure_list(request):
    measures = list(sel.measures_for(clinic=request.clinic))
    return render(
        request,
        "outcomes/measure_list.html",
        {"own": [m for m in measures if m.clinic_id], "shared": [m for m in measures if not m.clinic_id],
         "unit_label": computed.unit_label},
    )  # fmt: skip


def _measure_form(request, measure):
    form = MeasureForm(request.POST or None, instance=measure)
    if request.method == "POST" and form.is_valid():
        try:
            services.measure_save(
                clinic=request.clinic, actor=request.membership, data=form.cleaned_data, measure=measure
            )
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Measure saved.")
            return redirect("measure_list", clinic_slug=request.clinic.slug)
    return render(request, "outcomes/measure_form.html", {"form": form, "measure": measure})


@clinic_view("measure.manage")
def measure_create(request):
    return _measure_form(request, None)


@clinic_view("measure.manage")
def measure_edit(request, measure_id):
    measure = sel.measure_get(clinic=request.clinic, measure_id=measure_id)
    if measure.clinic_id is None:
        messages.info(request, "Shared measures are read-only.")
        return redirect("measure_list", clinic_slug=request.clinic.slug)
    return _measure_form(request, measure)


@clinic_view("battery.manage")
def battery_list(request):
    return render(request, "outcomes/battery_list.html", {"batteries": sel.batteries_for(clinic=request.clinic)})


@require_POST
@clinic_view("battery.manage")
def battery_copy(request, battery_id):
    battery = sel.battery_get(clinic=request.clinic, battery_id=battery_id)
    try:
        copy = services.battery_copy(clinic=request.clinic, actor=request.membership, battery=battery)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("battery_list", clinic_slug=request.clinic.slug)
    messages.success(request, f"{copy.name} is now your clinic's own: edit it below.")
    return redirect("battery_edit", clinic_slug=request.clinic.slug, battery_id=copy.pk)


def _posted_items(post, battery) -> list[tuple[int, bool]]:
    """The battery's measures as posted: each kept row with its order number and required box, and a
    measure to add at the end. Bad numbers sort last; the service refuses unknown measures."""
    rows = []
    for position, item in enumerate(battery.items.all()):
        key = f"item-{item.measure_id}"
        if post.get(f"{key}-remove"):
            continue
        try:
            order = int(post.get(f"{key}-order", ""))
        except ValueError:
            order = 10_000 + position
        rows.append((order, position, item.measure_id, bool(post.get(f"{key}-required"))))
    rows.sort()
    items = [(measure_id, required) for _, _, measure_id, required in rows]
    added = post.get("add_measure", "")
    if added.isdigit():
        items.append((int(added), bool(post.get("add_required"))))
    return items


@clinic_view("battery.manage")
def battery_edit(request, battery_id):
    battery = sel.battery_get(clinic=request.clinic, battery_id=battery_id)
    initial = {"name": battery.name, "timepoints": battery.timepoints, "is_active": battery.is_active}
    editable = battery.clinic_id is not None
    form = BatteryForm(request.POST if request.method == "POST" and editable else None, initial=initial)
    if request.method == "POST" and editable and form.is_valid():
        try:
            services.battery_save(
                clinic=request.clinic, actor=request.membership, battery=battery, data=form.cleaned_data,
                items=_posted_items(request.POST, battery),
            )  # fmt: skip
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Battery saved.")
            return redirect("battery_edit", clinic_slug=request.clinic.slug, battery_id=battery.pk)
    in_battery = {item.measure_id for item in battery.items.all()}
    addable = [m for m in sel.measures_for(clinic=request.clinic).filter(is_active=True) if m.pk not in in_battery]
    return render(
        request,
        "outcomes/battery_form.html",
        {"battery": battery, "form": form, "editable": editable, "addable": addable,
         "computed_codes": computed.COMPUTED},
    )  # fmt: skip
