"""Progress report pages: the chart's panel (generate, watch, download), the inbox, the download.

The PDF is only ever served by `report_download`: signed in, role-checked (physicians their own patients',
billing none), audited; the stored file has no URL of its own (MEDIA_ROOT is private, nothing serves it).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.models import AuditEntry, Enrollment
from clinic.permissions import has_permission
from clinic.selectors import patient_get
from clinic.tenancy import activate_member_clinics, clinic_view
from outcomes.reports import selectors, services
from outcomes.reports.forms import ReportRequestForm
from outcomes.reports.models import ReportRequest
from referrals.selectors import physician_memberships


def patient_enrollments(patient) -> list[Enrollment]:
    return list(
        Enrollment.objects.filter(clinic_id=patient.clinic_id, patient=patient)
        .select_related("program")
        .order_by("-start_date")
    )


def panel_context(request, patient, form=None, enrollments=None) -> dict:
    """The chart's "Progress reports" panel (templates/outcomes/reports/_panel.html). `enrollments`: the
    patient's, newest first, if the caller has read them already (the chart has)."""
    membership = request.membership
    can_request = has_permission(membership, "report.request")
    if enrollments is None:
        enrollments = patient_enrollments(patient)
    if can_request and form is None:
        form = ReportRequestForm(enrollments=enrollments)
    return {
        "visible": True,
        "request": request,
        "patient": patient,
        "reports": selectors.reports_of_patient(membership=membership, patient=patient),
        "form": form if can_request and enrollments else None,
        "can_request": can_request,
    }


@require_POST
@clinic_view("report.request")
def report_create(request, patient_id):
    patient = patient_get(membership=request.membership, patient_id=patient_id)
    form = ReportRequestForm(request.POST, enrollments=patient_enrollments(patient))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.report_request_create(
                clinic=request.clinic, actor=request.membership, enrollment=data["enrollment"],
                period_start=data["period_start"], period_end=data["period_end"], comment=data["comment"],
            )  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if not request.htmx:
                messages.success(request, "Progress report requested. It will be ready in a moment.")
                return redirect("patient_detail", request.clinic.slug, patient.pk)
            form = None
    if not request.htmx and form is not None:
        messages.error(request, "The report was not requested: " + "; ".join(
            str(message) for errors in form.errors.values() for message in errors))  # fmt: skip
        return redirect("patient_detail", request.clinic.slug, patient.pk)
    return render(request, "outcomes/reports/_panel.html", panel_context(request, patient, form))


@clinic_view("report.view")
def report_status(request, report_id):
    """One report's row on the chart; htmx asks again every few seconds until it is ready or failed."""
    report = selectors.report_get(membership=request.membership, report_id=report_id)
    return render(request, "outcomes/reports/_row.html", {"request": request, "report": report})


@clinic_view("report.view")
def report_download(request, report_id):
    report = selectors.ready_report_get(membership=request.membership, report_id=report_id)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=report, request=request, event=AuditEntry.Event.EXPORT,
        detail=f"Downloaded {report} (PDF)",
    )  # fmt: skip
    name = f"progress-report-{report.patient.mrn}-{report.period_end:%Y-%m-%d}.pdf".replace('"', "")
    response = FileResponse(report.file.open("rb"), content_type="application/pdf", as_attachment=True, filename=name)
    response["Cache-Control"] = "no-store"
    return response


@clinic_view("report.view")
def report_inbox(request):
    """Ready reports, newest first: for a physician, the inbox of their own patients' reports."""
    page = Paginator(selectors.report_inbox(membership=request.membership), 25).get_page(request.GET.get("page"))
    if page.object_list:
        audit.record_list_access(
            clinic=request.clinic, actor=request.user, model=ReportRequest, request=request,
            object_ids=[report.pk for report in page], detail=f"Progress reports, page {page.number}",
        )  # fmt: skip
    return render(request, "outcomes/reports/inbox.html", {"page": page})


@login_required
def portal_reports(request):
    """The physician's progress reports from every clinic where they are a physician (no clinic chosen),
    with an access entry in the audit trail of each clinic whose reports the page shows."""
    memberships = physician_memberships(activate_member_clinics(request))
    reports = selectors.portal_report_inbox(memberships=memberships)
    page = Paginator(reports, 25).get_page(request.GET.get("page"))
    for membership in memberships:
        shown = [report.pk for report in page if report.clinic_id == membership.clinic_id]
        if shown:
            audit.record_list_access(
                clinic=membership.clinic, actor=request.user, model=ReportRequest, request=request,
                object_ids=shown, detail=f"Progress reports, all clinics, page {page.number}",
            )  # fmt: skip
    return render(request, "outcomes/reports/portal_inbox.html", {"page": page, "memberships": memberships})
