"""The CDC DPRP evaluation export pages (billing/dprp.py): request a file, follow its progress, read the
validation report, accept it or fix the sessions it names, download (audited). Billing and administrators."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing import dprp, forms, selectors
from clinic import audit
from clinic.models import Patient
from clinic.permissions import has_permission
from clinic.tenancy import clinic_view
from clinic.views import attach_errors

RECENT = 20


def _form(request, data=None):
    initial = {}
    last = selectors.dprp_exports_of(clinic=request.clinic).first()
    if last is not None:  # the same organization code and program as last time
        initial = {"org_code": last.org_code, "program": last.program_id}
    programs = selectors.dprp_programs(clinic=request.clinic)
    return forms.DprpExportForm(data, programs=programs, initial=initial)


def _page(request, form, status=200):
    context = {
        "form": form, "exports": selectors.dprp_exports_of(clinic=request.clinic)[:RECENT],
        "columns": dprp.columns(), "unconfirmed": dprp.UNCONFIRMED_COLUMNS,
        "not_recorded": dprp.NOT_RECORDED_COLUMNS, "codes": dprp.codes(),
    }  # fmt: skip
    return render(request, "billing/dprp.html", context, status=status)


@clinic_view("dprp.export")
def dprp_export_list(request):
    if request.method != "POST":
        return _page(request, _form(request))
    form = _form(request, request.POST)
    if form.is_valid():
        try:
            export = dprp.dprp_export_request(clinic=request.clinic, actor=request.membership, **form.cleaned_data)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "The DPRP file is being written; its validation report follows.")
            return redirect("dprp_export_detail", clinic_slug=request.clinic.slug, dprp_export_id=export.pk)
    return _page(request, form, status=400)


@clinic_view("dprp.export")
def dprp_export_detail(request, dprp_export_id):
    clinic = request.clinic
    export = selectors.dprp_export_get(clinic=clinic, export_id=dprp_export_id)
    issues = export.issues
    patients = {}
    if issues:
        # The report names patients (to fix their sessions): one access entry for the patients it shows.
        ids = {issue["patient"] for issue in issues}
        patients = {
            p.pk: p for p in Patient.objects.filter(clinic=clinic, pk__in=ids).only("first_name", "last_name", "mrn")
        }
        audit.record_list_access(
            clinic=clinic, actor=request.user, model=Patient, request=request, object_ids=sorted(patients),
            detail=f"DPRP validation report of export {export.pk}",
        )  # fmt: skip
    rows = [{**issue, "patient_obj": patients.get(issue["patient"])} for issue in issues]
    context = {
        "export": export, "issues": rows, "can_open_floor": has_permission(request.membership, "session.record"),
        "unconfirmed": dprp.UNCONFIRMED_COLUMNS,
    }  # fmt: skip
    template = "billing/_dprp_status.html" if request.htmx else "billing/dprp_detail.html"
    return render(request, template, context)


@require_POST
@clinic_view("dprp.export")
def dprp_export_accept(request, dprp_export_id):
    export = selectors.dprp_export_get(clinic=request.clinic, export_id=dprp_export_id)
    try:
        dprp.dprp_export_accept(clinic=request.clinic, actor=request.membership, export=export, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Validation report accepted: the file keeps the 999s and blanks it lists.")
    return redirect("dprp_export_detail", clinic_slug=request.clinic.slug, dprp_export_id=export.pk)


@clinic_view("dprp.export")
def dprp_export_download(request, dprp_export_id):
    export = selectors.dprp_export_get(clinic=request.clinic, export_id=dprp_export_id)
    return dprp.dprp_export_download(clinic=request.clinic, export=export, request=request)
