"""Packet pages under /c/<slug>/billing/packets/: the requests with their status (htmx polls the unfinished),
the forms to ask for one patient's packet or a program's ZIP, and the audited downloads."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.packets import selectors, services
from billing.packets.forms import BatchForm, PacketForm
from billing.packets.models import PacketRequest
from clinic import audit
from clinic import selectors as clinic_selectors
from clinic.models import AuditEntry, Enrollment
from clinic.tenancy import clinic_view

PAGE_SIZE = 25


def _patient(request, patient_id):
    """The patient a packet form is for (?patient= or the posted field); None when there is none."""
    if not str(patient_id or "").isdigit():
        return None
    return clinic_selectors.patient_get(membership=request.membership, patient_id=int(patient_id))


def _page(request, *, patient=None, packet_form=None, batch_form=None, status=200):
    clinic = request.clinic
    if packet_form is None and patient is not None:
        packet_form = PacketForm(enrollments=selectors.packet_enrollments(clinic=clinic, patient=patient))
    page = Paginator(selectors.packets_of(clinic=clinic), PAGE_SIZE).get_page(request.GET.get("page"))
    audit.record_list_access(
        clinic=clinic, actor=request.user, model=PacketRequest, request=request,
        object_ids=[packet.pk for packet in page], detail=f"Packet requests, page {page.number}",
    )  # fmt: skip
    if patient is not None:
        audit.record_access(clinic=clinic, actor=request.user, obj=patient, request=request, detail="Packet form")
    context = {
        "page": page, "patient": patient, "packet_form": packet_form,
        "batch_form": batch_form or BatchForm(programs=selectors.packet_programs(clinic=clinic)),
    }  # fmt: skip
    return render(request, "billing/packets/list.html", context, status=status)


@clinic_view("packet.request")
def packet_list(request):
    return _page(request, patient=_patient(request, request.GET.get("patient")))


def _submit(request, form, on_error):
    """Ask for the packet (or batch) the valid form names; a refusal is shown on the form, nothing saved."""
    if form.is_valid():
        data = form.cleaned_data
        target = {name: data[name] for name in ("enrollment", "program") if name in data}
        try:
            packet, created = services.packet_request_create(
                clinic=request.clinic, actor=request.membership, period_start=data["period_start"],
                period_end=data["period_end"], **target,
            )  # fmt: skip
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if created:
                messages.success(request, f"{packet.get_kind_display()} requested; it will be ready in a moment.")
            else:
                messages.info(request, "That packet is already being made; it is in the list below.")
            return redirect("packet_list", clinic_slug=request.clinic.slug)
    return on_error(form)


@require_POST
@clinic_view("packet.request")
def packet_create(request):
    clinic = request.clinic
    patient = _patient(request, request.POST.get("patient"))
    if patient is None:
        messages.error(request, "Open the packet form from a patient's chart or claim lines. Nothing was requested.")
        return redirect("packet_list", clinic_slug=clinic.slug)
    form = PacketForm(request.POST, enrollments=selectors.packet_enrollments(clinic=clinic, patient=patient))
    return _submit(request, form, lambda form: _page(request, patient=patient, packet_form=form, status=400))


@require_POST
@clinic_view("packet.request")
def batch_create(request):
    form = BatchForm(request.POST, programs=selectors.packet_programs(clinic=request.clinic))
    return _submit(request, form, lambda form: _page(request, batch_form=form, status=400))


@clinic_view("packet.request")
def packet_status(request, packet_id):
    """One request's row; htmx asks again every two seconds until it is ready or failed."""
    packet = selectors.packet_get(clinic=request.clinic, packet_id=packet_id)
    return render(request, "billing/packets/_row.html", {"packet": packet})


def packet_file_response(request, clinic, packet: PacketRequest, *, csv: bool) -> FileResponse:
    """The stored PDF, ZIP or CSV, after an audit entry naming every enrollment the file holds."""
    stored = packet.csv_file if csv else packet.file
    extension = stored.name.rsplit(".", 1)[-1]
    what = f"{packet} ({extension.upper()})"
    if packet.is_batch:
        audit.record_list_access(
            clinic=clinic, actor=request.user, model=Enrollment, request=request,
            object_ids=packet.enrollment_ids, event=AuditEntry.Event.EXPORT, detail=f"Downloaded {what}",
        )  # fmt: skip
        name = f"packets-{packet.program.name}-{packet.period_start}-{packet.period_end}"
    else:
        audit.record_access(clinic=clinic, actor=request.user, obj=packet, request=request,
                            event=AuditEntry.Event.EXPORT, detail=f"Downloaded {what}")  # fmt: skip
        name = f"packet-{packet.patient.mrn}-{packet.period_start}-{packet.period_end}"
    content_type = {"pdf": "application/pdf", "zip": "application/zip", "csv": "text/csv"}[extension]
    response = FileResponse(stored.open("rb"), content_type=content_type, as_attachment=True,
                            filename=f"{name}.{extension}".replace('"', ""))  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


@clinic_view("packet.request")
def packet_download(request, packet_id):
    packet = selectors.ready_packet_get(clinic=request.clinic, packet_id=packet_id)
    return packet_file_response(request, request.clinic, packet, csv=False)


@clinic_view("packet.request")
def packet_download_csv(request, packet_id):
    packet = selectors.ready_packet_get(clinic=request.clinic, packet_id=packet_id, csv=True)
    return packet_file_response(request, request.clinic, packet, csv=True)
