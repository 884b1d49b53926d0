"""Pages of the floor sheet and the physiologist's "today". Thin: resolve, validate, call, render.

A row saves on its own through htmx and comes back re-rendered (saved, with errors, or with a
conflict and the newer values); without htmx the same posts redirect back to the sheet.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import alerts, audit
from clinic.models import Patient
from clinic.permissions import has_permission
from clinic.tenancy import clinic_view
from clinic.views import attach_errors
from scheduling import floorsheet
from scheduling.floorsheet_forms import OverrideForm, RowForm, StaffForm
from scheduling.models import SessionLog


def _row_context(request, occurrence, row, form, **extra):
    return {
        "occurrence": occurrence,
        "row": row,
        "form": form,
        "override_form": OverrideForm(prefix=f"o{row.booking.pk}") if row.open_holds else None,  # only holds show it
        "can_override": has_permission(request.membership, "safety.override"),
        **extra,
    }


def _back_to_sheet(request, occurrence):
    return redirect("floor_sheet", clinic_slug=request.clinic.slug, occurrence_id=occurrence.pk)


@clinic_view("session.record")
def floor_sheet(request, occurrence_id):
    occurrence = floorsheet.occurrence_get(clinic=request.clinic, occurrence_id=occurrence_id)
    rows = floorsheet.floor_sheet_rows(clinic=request.clinic, occurrence=occurrence)
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=Patient, request=request,
        object_ids=[row.patient.pk for row in rows], detail=f"Floor sheet of {occurrence}",
    )  # fmt: skip
    entries = [_row_context(request, occurrence, row, RowForm(row=row, clinic=request.clinic)) for row in rows]
    return render(
        request,
        "scheduling/floor_sheet.html",
        {
            "occurrence": occurrence,
            "entries": entries,
            "staff_form": StaffForm(clinic=request.clinic, occurrence=occurrence),
            "counts": {
                "booked": len(rows),
                "checked_in": sum(1 for r in rows if r.log and r.log.attendance in SessionLog.ATTENDED),
                "holds": sum(1 for r in rows if r.open_holds),
            },
        },
    )


@require_POST
@clinic_view("session.record")
def floor_row_save(request, occurrence_id, booking_id):
    # The row with its class in one query (the booking's), not the class then the row.
    # Without its flags: a save reads them itself, under its lock, and returns them (one query less).
    row = floorsheet.floor_row_get(
        clinic=request.clinic, occurrence_id=occurrence_id, booking_id=booking_id, with_flags=False
    )
    booking, occurrence = row.booking, row.booking.occurrence
    form = RowForm(request.POST, row=row, clinic=request.clinic)
    extra = {}
    if not form.is_valid():
        row = floorsheet.row_with_flags(clinic=request.clinic, row=row)
    else:
        try:
            log = floorsheet.session_log_save(
                clinic=request.clinic, actor=request.membership, booking=booking, data=form.service_data(),
                version=form.cleaned_data["version"],
            )  # fmt: skip
        except floorsheet.EditConflict as conflict:
            unsaved = form.service_data()
            row = floorsheet.floor_row_get(clinic=request.clinic, occurrence_id=occurrence.pk, booking_id=booking.pk)
            form = RowForm(row=row, clinic=request.clinic)
            extra = {"conflict": str(conflict), "unsaved": _differences(unsaved, row.log)}
        except ValidationError as error:
            attach_errors(form, error)
            row = floorsheet.row_with_flags(clinic=request.clinic, row=row)
        else:
            # The saved log and its flags are in hand: the row is not read again (saves 4 queries).
            row = floorsheet.row_after_save(clinic=request.clinic, row=row, log=log)
            form = RowForm(row=row, clinic=request.clinic)
            extra = {"just_saved": True}
    if not request.htmx:
        if extra.get("conflict"):
            messages.error(request, extra["conflict"])
        elif form.errors:
            messages.error(request, f"{row.patient.full_name}: " + " ".join(_all_errors(form)))
        return _back_to_sheet(request, occurrence)
    return _render_row(request, occurrence, _row_context(request, occurrence, row, form, **extra))


def _render_row(request, occurrence, context):
    """The re-rendered row, and the class summary swapped out of band (htmx)."""
    counts = floorsheet.floor_counts(clinic=request.clinic, occurrence=occurrence)
    return render(request, "scheduling/floor_row_response.html", {"entry": context, "counts": counts})


def _all_errors(form) -> list[str]:
    return [message for errors in form.errors.values() for message in errors]


def _differences(unsaved: dict, log) -> list[tuple[str, object]]:
    """The values this person sent that differ from the newer saved row, to re-enter if still right."""
    if log is None:
        return []
    labels = {f.name: f.verbose_name for f in log._meta.fields}
    diffs = []
    for field in floorsheet.FIELDS:
        if field in unsaved and unsaved[field] not in (None, "") and unsaved[field] != getattr(log, field):
            diffs.append((labels.get(field, field), unsaved[field]))
    return diffs


@require_POST
@clinic_view("session.record")
def floor_sheet_staff(request, occurrence_id):
    occurrence = floorsheet.occurrence_get(clinic=request.clinic, occurrence_id=occurrence_id)
    form = StaffForm(request.POST, clinic=request.clinic, occurrence=occurrence)
    saved = False
    if form.is_valid():
        try:
            floorsheet.occurrence_set_staff(
                clinic=request.clinic, actor=request.membership, occurrence=occurrence,
                supervising_practitioner=form.cleaned_data["supervising_practitioner"],
                coach=form.cleaned_data.get("coach"),
            )  # fmt: skip
            saved = True
        except ValidationError as error:
            attach_errors(form, error)
    if not request.htmx:
        if saved:
            messages.success(request, "Class staff saved.")
        return _back_to_sheet(request, occurrence)
    return render(
        request, "scheduling/floor_staff.html", {"occurrence": occurrence, "staff_form": form, "staff_saved": saved}
    )


@require_POST
@clinic_view("safety.override")
def safety_flag_override(request, flag_id):
    flag = floorsheet.flag_get(clinic=request.clinic, flag_id=flag_id)
    log = flag.session_log
    occurrence = floorsheet.occurrence_get(clinic=request.clinic, occurrence_id=log.occurrence_id)
    override_form = OverrideForm(request.POST, prefix=f"o{log.booking_id}")
    override_form.is_valid()
    error_messages = []
    try:
        floorsheet.safety_flag_override(
            clinic=request.clinic, actor=request.membership, flag=flag,
            reason=override_form.cleaned_data.get("reason", ""), request=request,
        )  # fmt: skip
    except ValidationError as error:
        error_messages = error.messages
    if not request.htmx:
        for message in error_messages:
            messages.error(request, message)
        return _back_to_sheet(request, occurrence)
    try:
        row = floorsheet.floor_row_get(clinic=request.clinic, occurrence_id=occurrence.pk, booking_id=log.booking_id)
    except Http404:  # the booking was cancelled meanwhile: reload the whole sheet
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    context = _row_context(request, occurrence, row, RowForm(row=row, clinic=request.clinic))
    if error_messages:
        context["override_form"] = override_form
        context["override_errors"] = error_messages
        context["override_open_for"] = flag.pk
    return _render_row(request, occurrence, context)


@clinic_view("today.view")
def today(request):
    show_all = request.GET.get("show") == "all"
    day = timezone.localdate()
    occurrences = list(
        floorsheet.today_occurrences(clinic=request.clinic, membership=request.membership, day=day, mine=not show_all)
    )
    flags = floorsheet.patients_with_open_flags(clinic=request.clinic)
    due = floorsheet.enrollments_due_for_reassessment(clinic=request.clinic, today=day)
    urgent = alerts.open_alerts(clinic=request.clinic)
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=Patient, request=request,
        object_ids=sorted({f.patient_id for f in flags} | {e.patient_id for e in due} | {a.patient_id for a in urgent}),
        detail="Today page",
    )  # fmt: skip
    return render(
        request,
        "scheduling/floor_today.html",
        {"day": day, "occurrences": occurrences, "flags": flags, "due": due, "show_all": show_all, "urgent": urgent},
    )
