"""Assessment pages, under /c/<clinic>/patients/<id>/enrollments/<id>/assessments/, and acknowledging a
clinical alert. Physiologists and admins record; physicians read their own patients'; billing has no access."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import alerts, audit
from clinic import prescriptions as rx
from clinic.permissions import has_permission
from clinic.tenancy import clinic_view
from outcomes import computed, services
from outcomes import selectors as sel
from outcomes.forms import AssessmentForm, entry_unit, field_name
from outcomes.models import Timepoint


def _enrollment(request, patient_id, enrollment_id):
    return rx.enrollment_get(membership=request.membership, patient_id=patient_id, enrollment_id=enrollment_id)


def _with_results(clinic, assessments):
    observations = sel.observations_of(clinic=clinic, assessment_ids=[a.pk for a in assessments])
    return [
        (a, sel.assessment_results(clinic=clinic, assessment=a, observations=observations.get(a.pk, [])))
        for a in assessments
    ]


@clinic_view("assessment.view")
def assessment_list(request, patient_id, enrollment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    assessments = sel.assessments_of(clinic=request.clinic, enrollment=enrollment)
    for assessment in assessments:
        assessment.patient = enrollment.patient
    batteries = sel.batteries_for(clinic=request.clinic, program_type=enrollment.program.program_type, active_only=True)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=enrollment, request=request,
        detail=f"Assessments {[a.pk for a in assessments]}",
    )  # fmt: skip
    recorded = {(a.battery_id, a.timepoint) for a in assessments}
    return render(
        request,
        "outcomes/assessment_list.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "rows": _with_results(request.clinic, assessments),
         "batteries": batteries, "recorded": recorded,
         "can_record": has_permission(request.membership, "assessment.record")},
    )  # fmt: skip


def _next_timepoint(battery, recorded) -> str:
    for timepoint in (Timepoint.BASELINE, Timepoint.INTERIM, Timepoint.DISCHARGE):
        if timepoint in battery.timepoints and (
            timepoint == Timepoint.INTERIM or (battery.pk, timepoint) not in recorded
        ):
            return timepoint
    return battery.timepoints[0] if battery.timepoints else ""


@clinic_view("assessment.record")
def assessment_new(request, patient_id, enrollment_id, battery_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    battery = sel.battery_get(clinic=request.clinic, battery_id=battery_id)
    recorded = {(a.battery_id, a.timepoint) for a in sel.assessments_of(clinic=request.clinic, enrollment=enrollment)}
    wanted = request.GET.get("timepoint")
    initial = {
        "timepoint": wanted if wanted in battery.timepoints else _next_timepoint(battery, recorded),
        "assessed_on": timezone.localdate(),
    }
    return _entry(request, enrollment, battery, initial=initial, assessment=None)


@clinic_view("assessment.record")
def assessment_edit(request, patient_id, enrollment_id, assessment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    assessment = sel.assessment_get(membership=request.membership, assessment_id=assessment_id, enrollment=enrollment)
    battery = sel.battery_get(clinic=request.clinic, battery_id=assessment.battery_id)
    observations = sel.observations_of(clinic=request.clinic, assessment_ids=[assessment.pk]).get(assessment.pk, [])
    initial = {"timepoint": assessment.timepoint, "assessed_on": assessment.assessed_on, "notes": assessment.notes}
    for observation in observations:
        measure = observation.measure
        unit = entry_unit(measure, request.clinic)
        initial[field_name(measure)] = computed.from_measure_unit(
            observation.value, measure.unit, unit, measure.decimal_places
        )
    if request.method == "GET":
        audit.record_access(
            clinic=request.clinic, actor=request.user, obj=assessment, request=request, detail="Assessment, edit form"
        )
    return _entry(request, enrollment, battery, initial=initial, assessment=assessment)


def _entry(request, enrollment, battery, *, initial, assessment):
    post = request.POST if request.method == "POST" else None
    form = AssessmentForm(post, battery=battery, clinic=request.clinic, initial=initial)
    if post is not None and form.is_valid():
        try:
            saved = services.assessment_record(
                clinic=request.clinic, actor=request.membership, enrollment=enrollment, battery=battery,
                timepoint=form.cleaned_data["timepoint"], assessed_on=form.cleaned_data["assessed_on"],
                values=form.values(), notes=form.cleaned_data["notes"], assessment=assessment,
            )  # fmt: skip
        except ValidationError as error:
            form.attach(error)
        else:
            messages.success(request, f"{battery.name} saved.")
            return redirect(
                "assessment_detail", clinic_slug=request.clinic.slug, patient_id=enrollment.patient_id,
                enrollment_id=enrollment.pk, assessment_id=saved.pk,
            )  # fmt: skip
    return render(
        request,
        "outcomes/assessment_form.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "battery": battery, "form": form,
         "assessment": assessment},
    )  # fmt: skip


@clinic_view("assessment.view")
def assessment_detail(request, patient_id, enrollment_id, assessment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    assessment = sel.assessment_get(membership=request.membership, assessment_id=assessment_id, enrollment=enrollment)
    [(_, results)] = _with_results(request.clinic, [assessment])
    audit.record_access(clinic=request.clinic, actor=request.user, obj=assessment, request=request, detail="Assessment")
    return render(
        request,
        "outcomes/assessment_detail.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "assessment": assessment, "results": results,
         "alerts": alerts.open_alerts_for_patient(clinic=request.clinic, patient=enrollment.patient),
         "can_record": has_permission(request.membership, "assessment.record")},
    )  # fmt: skip


@require_POST
@clinic_view("alert.acknowledge")
def alert_acknowledge(request, alert_id):
    alert = alerts.alert_get(membership=request.membership, alert_id=alert_id)
    try:
        alerts.alert_acknowledge(
            clinic=request.clinic, actor=request.membership, alert=alert, note=request.POST.get("note", ""),
            request=request,
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Alert acknowledged.")
    back = request.POST.get("next", "")
    if back == "today":
        return redirect("today", clinic_slug=request.clinic.slug)
    return redirect("patient_detail", clinic_slug=request.clinic.slug, patient_id=alert.patient_id)
