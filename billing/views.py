"""Billing pages: claim lines with their blockers, export as a batch, batches (download, void), payers, fee
schedules, the rules table, and a patient's coverage. Thin: each resolves, validates, calls one service or
selector. Billing staff see codes, dates, attendance and coverage; never clinical notes."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import claims, forms, selectors, services
from billing.models import ClaimLine
from billing.rules import rules_for_display
from clinic import audit
from clinic import selectors as clinic_selectors
from clinic.models import AuditEntry
from clinic.paging import capped_page
from clinic.permissions import has_permission
from clinic.prescriptions import enrollment_get
from clinic.tenancy import clinic_view
from clinic.views import attach_errors

PAGE_SIZE = 50


# --- Claim lines ---------------------------------------------------------------------------------------------


@clinic_view("billing.view")
def claim_line_list(request):
    clinic = request.clinic
    form = forms.LineFilterForm(request.GET or None)
    lines = selectors.claim_lines(clinic=clinic, filters=form.filters())
    page = capped_page(lines, PAGE_SIZE, request.GET.get("page"))  # a clinic's lines run to hundreds of thousands
    rows = selectors.claim_line_rows(page.object_list)
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=ClaimLine, request=request, object_ids=[line.id for line in rows],
        detail=f"Claim lines, page {page.number}",
    )  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "billing/claim_lines.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode(), "blocker_codes": list(claims.BLOCKERS),
         "can_manage": has_permission(request.membership, "billing.manage")},
    )  # fmt: skip


@require_POST
@clinic_view("billing.manage")
def claim_lines_refresh(request):
    result = claims.claim_lines_derive(clinic=request.clinic)
    messages.success(
        request, f"Claim lines derived: {result.created} new, {result.updated} changed, {result.voided} void."
    )
    return redirect("claim_line_list", clinic_slug=request.clinic.slug)


@require_POST
@clinic_view("billing.manage")
def batch_export(request):
    ids = [value for value in request.POST.getlist("line") if value.isdigit()]
    try:
        batch = services.batch_export(clinic=request.clinic, actor=request.membership, line_ids=ids)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("claim_line_list", clinic_slug=request.clinic.slug)
    messages.success(request, f"Batch {batch.pk} exported: {batch.line_count} lines. Download its CSV below.")
    return redirect("batch_detail", clinic_slug=request.clinic.slug, batch_id=batch.pk)


# --- Batches -------------------------------------------------------------------------------------------------


@clinic_view("billing.view")
def batch_list(request):
    page = Paginator(selectors.batches_of(clinic=request.clinic), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/batches.html", {"page": page})


@clinic_view("billing.view")
def batch_detail(request, batch_id):
    clinic = request.clinic
    batch = selectors.batch_get(clinic=clinic, batch_id=batch_id)
    lines = list(
        ClaimLine.objects.filter(clinic=clinic, pk__in=batch.line_ids).select_related("patient").order_by("id")
    )
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=ClaimLine, request=request, object_ids=[line.pk for line in lines],
        detail=f"Claim batch {batch.pk}",
    )  # fmt: skip
    return render(
        request, "billing/batch_detail.html",
        {"batch": batch, "lines": lines, "void_form": forms.VoidForm(),
         "can_manage": has_permission(request.membership, "billing.manage")},
    )  # fmt: skip


@clinic_view("billing.view")
def batch_download(request, batch_id):
    clinic = request.clinic
    batch = selectors.batch_get(clinic=clinic, batch_id=batch_id)
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=ClaimLine, request=request, object_ids=batch.line_ids,
        detail=f"Claim batch {batch.pk} CSV", event=AuditEntry.Event.EXPORT,
    )  # fmt: skip
    response = HttpResponse(batch.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="claims-batch-{batch.pk}.csv"'
    return response


@require_POST
@clinic_view("billing.manage")
def batch_void(request, batch_id):
    clinic = request.clinic
    batch = selectors.batch_get(clinic=clinic, batch_id=batch_id)
    form = forms.VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the reason for voiding the batch. Nothing was changed.")
    else:
        try:
            services.batch_void(
                clinic=clinic, actor=request.membership, batch=batch, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Batch {batch.pk} is void; its lines can go in a new batch.")
    return redirect("batch_detail", clinic_slug=clinic.slug, batch_id=batch.pk)


# --- Payers, fees, rules --------------------------------------------------------------------------------------


def _edit(request, *, form, save, template, context, done, message):
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, message)
            return done()
    return render(request, template, {"form": form, **context})


@clinic_view("billing.view")
def payer_list(request):
    return render(
        request, "billing/payers.html",
        {"payers": selectors.payers_of(clinic=request.clinic),
         "can_manage": has_permission(request.membership, "billing.manage")},
    )  # fmt: skip


@clinic_view("billing.manage")
def payer_edit(request, payer_id=None):
    clinic = request.clinic
    payer = selectors.payer_get(clinic=clinic, payer_id=payer_id) if payer_id else None
    return _edit(
        request, form=forms.PayerForm(request.POST or None, instance=payer),
        save=lambda data: services.payer_save(clinic=clinic, actor=request.membership, data=data, payer=payer),
        template="billing/payer_form.html", context={"payer": payer}, message="Payer saved.",
        done=lambda: redirect("payer_list", clinic_slug=clinic.slug),
    )  # fmt: skip


@clinic_view("billing.view")
def fee_list(request):
    page = Paginator(selectors.fees_of(clinic=request.clinic), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "billing/fees.html",
        {"page": page, "can_manage": has_permission(request.membership, "billing.manage")},
    )  # fmt: skip


@clinic_view("billing.manage")
def fee_edit(request, fee_id=None):
    clinic = request.clinic
    fee = selectors.fee_get(clinic=clinic, fee_id=fee_id) if fee_id else None
    return _edit(
        request, form=forms.FeeForm(request.POST or None, instance=fee, clinic=clinic),
        save=lambda data: services.fee_save(clinic=clinic, actor=request.membership, data=data, fee=fee),
        template="billing/fee_form.html", context={"fee": fee}, message="Fee saved.",
        done=lambda: redirect("fee_list", clinic_slug=clinic.slug),
    )  # fmt: skip


@clinic_view("billing.view")
def rule_list(request):
    return render(request, "billing/rules.html", {"rules": rules_for_display()})


# --- Coverage on the patient's chart -------------------------------------------------------------------------


@clinic_view("coverage.manage")
def coverage_edit(request, patient_id, coverage_id=None):
    clinic = request.clinic
    patient = clinic_selectors.patient_get(membership=request.membership, patient_id=patient_id)
    coverage = selectors.coverage_get(clinic=clinic, coverage_id=coverage_id, patient=patient) if coverage_id else None
    if request.method == "GET":
        audit.record_access(clinic=clinic, actor=request.user, obj=coverage or patient, request=request,
                            detail="Coverage form")  # fmt: skip
    return _edit(
        request, form=forms.CoverageForm(request.POST or None, instance=coverage, clinic=clinic),
        save=lambda data: services.coverage_save(
            clinic=clinic, actor=request.membership, patient=patient, data=data, coverage=coverage
        ),
        template="billing/coverage_form.html", context={"patient": patient, "coverage": coverage},
        message="Coverage saved.",
        done=lambda: redirect("patient_detail", clinic_slug=clinic.slug, patient_id=patient.pk),
    )  # fmt: skip


# --- Medical-necessity notes (KX) ----------------------------------------------------------------------------


@clinic_view("necessity_note.view")
def necessity_notes(request, patient_id, enrollment_id):
    """An enrollment's medical-necessity notes; clinicians add one here. Billing staff see that a note exists,
    by whom, when and for which sessions, not its text."""
    clinic, membership = request.clinic, request.membership
    enrollment = enrollment_get(membership=membership, patient_id=patient_id, enrollment_id=enrollment_id)
    may_write = has_permission(membership, "necessity_note.write")
    form = forms.NecessityNoteForm(request.POST or None, initial={"written_on": timezone.localdate()})
    if request.method == "POST":
        if not may_write:
            raise Http404
        if form.is_valid():
            try:
                services.necessity_note_add(clinic=clinic, actor=membership, enrollment=enrollment, **form.cleaned_data)
            except ValidationError as error:
                attach_errors(form, error)
            else:
                messages.success(request, "Note saved. The enrollment's claim lines are being derived again.")
                return redirect("necessity_notes", clinic_slug=clinic.slug, patient_id=patient_id,
                                enrollment_id=enrollment.pk)  # fmt: skip
    with_text = has_permission(membership, "necessity_note.view_clinical")
    notes = selectors.necessity_notes_of(clinic=clinic, enrollment=enrollment, with_text=with_text)
    audit.record_access(clinic=clinic, actor=request.user, obj=enrollment, request=request,
                        detail="Medical-necessity notes")  # fmt: skip
    return render(
        request, "billing/necessity_notes.html",
        {"patient": enrollment.patient, "enrollment": enrollment, "notes": notes, "with_text": with_text,
         "form": form if may_write else None},
    )  # fmt: skip
