"""HTML pages of the core record. Thin: resolve the tenant and role, validate, call a service or
selector, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit, auditformat, forms, rls, selectors, services
from clinic.csvexport import csv_response
from clinic.models import ITP_PROGRAM_TYPES, KX_PROGRAM_TYPES, AuditEntry, Membership, Patient
from clinic.paging import capped_page
from clinic.permissions import has_permission
from clinic.tenancy import clinic_view, invitation_scope
from clinic.treatment_plans import selectors as plan_selectors

PAGE_SIZE = 25


def attach_errors(form, error: ValidationError):
    """Show a service's validation errors on the form: field errors by their field, the rest on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@login_required
def home(request):
    memberships = list(Membership.objects.filter(user=request.user, is_active=True).select_related("clinic"))
    current = request.session.get("current_clinic")
    for membership in memberships:
        if membership.clinic.slug == current or len(memberships) == 1:
            return redirect("clinic_home", clinic_slug=membership.clinic.slug)
    return render(request, "clinic/choose_clinic.html", {"memberships": memberships})


@clinic_view()
def clinic_home(request):
    # Staff see the clinic's patients; a physician's card counts their referrals (referrals' template tag).
    counts = None
    if has_permission(request.membership, "patient.view_all"):
        counts = selectors.patients_visible_to(request.membership).aggregate(
            active=Count("id", filter=Q(status=Patient.Status.ACTIVE)), total=Count("id")
        )
    # Treatment plans: how many await this physician's signature; how many are due (staff, billing).
    plans_to_sign = plans_due = None
    if has_permission(request.membership, "itp.sign"):
        plans_to_sign = plan_selectors.plans_awaiting_signature(membership=request.membership).count()
    if has_permission(request.membership, "itp.due"):
        plans_due = len(plan_selectors.plans_due(membership=request.membership))
    return render(
        request, "clinic/clinic_home.html", {"counts": counts, "plans_to_sign": plans_to_sign, "plans_due": plans_due}
    )


# --- Patients ---------------------------------------------------------------------------------


def patient_search_form(request) -> forms.PatientSearchForm:
    """The list shows active patients unless the person chose a status (or "All statuses")."""
    data = request.GET.copy()
    data.setdefault("status", Patient.Status.ACTIVE)
    form = forms.PatientSearchForm(data)
    form.is_valid()
    return form


@clinic_view("patient.view")
def patient_list(request):
    form = patient_search_form(request)
    query, status = form.cleaned_data.get("q", ""), form.cleaned_data.get("status", "")
    patients = selectors.patient_list_rows(membership=request.membership, query=query, status=status)
    to_count = selectors.patient_search_to_count(membership=request.membership, query=query, status=status)
    with selectors.planned_for_the_search_term(query):  # the count and the page's rows are read in it
        page = capped_page(patients, PAGE_SIZE, request.GET.get("page"), to_count=to_count)
        patient_ids = [p.pk for p in page]
    audit.record_list_access(
        clinic=request.clinic,
        actor=request.user,
        model=Patient,
        object_ids=patient_ids,
        request=request,
        detail=f"Patient list, page {page.number}" + (" (search)" if query else ""),
    )
    template = "clinic/patients/_results.html" if request.htmx else "clinic/patients/list.html"
    return render(request, template, {"form": form, "page": page, "query": query, "status": status})


@clinic_view("patient.create")
def patient_create(request):
    form = forms.PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(clinic=request.clinic, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, f"Added {patient.full_name}.")
            return redirect("patient_detail", clinic_slug=request.clinic.slug, patient_id=patient.pk)
    return render(request, "clinic/patients/form.html", {"form": form, "patient": None})


@clinic_view("patient.view")
def patient_detail(request, patient_id):
    patient = selectors.patient_get(membership=request.membership, patient_id=patient_id)
    audit.record_access(clinic=request.clinic, actor=request.user, obj=patient, request=request, detail="Chart")
    return render(
        request,
        "clinic/patients/detail.html",
        {
            "patient": patient,
            # Read once: the progress reports panel offers the same enrollments.
            "enrollments": selectors.chart_enrollments(patient),
            "can_edit": has_permission(request.membership, "patient.edit"),
            "can_deactivate": has_permission(request.membership, "patient.deactivate"),
            "can_audit": has_permission(request.membership, "audit.view"),
            "itp_program_types": ITP_PROGRAM_TYPES,
            "kx_program_types": KX_PROGRAM_TYPES,
        },
    )


@clinic_view("patient.edit")
def patient_edit(request, patient_id):
    patient = selectors.patient_get(membership=request.membership, patient_id=patient_id)
    form = forms.PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(clinic=request.clinic, actor=request.user, patient=patient, data=form.cleaned_data)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Changes saved.")
            return redirect("patient_detail", clinic_slug=request.clinic.slug, patient_id=patient.pk)
    if request.method == "GET":
        audit.record_access(clinic=request.clinic, actor=request.user, obj=patient, request=request, detail="Edit form")
    return render(request, "clinic/patients/form.html", {"form": form, "patient": patient})


@require_POST
@clinic_view("patient.deactivate")
def patient_set_status(request, patient_id):
    patient = selectors.patient_get(membership=request.membership, patient_id=patient_id)
    status = request.POST.get("status", "")
    try:
        services.patient_set_status(clinic=request.clinic, actor=request.user, patient=patient, status=status)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{patient.full_name} is now {patient.get_status_display().lower()}.")
    return redirect("patient_detail", clinic_slug=request.clinic.slug, patient_id=patient.pk)


PATIENT_EXPORT_COLUMNS = [
    ("MRN", "mrn"), ("Last name", "last_name"), ("First name", "first_name"), ("Date of birth", "date_of_birth"),
    ("Sex", "sex"), ("Language", "preferred_language"), ("Phone", "phone"), ("Email", "email"),
    ("Address", "address_line1"), ("City", "city"), ("State", "state"), ("Postal code", "postal_code"),
    ("Primary payer", "primary_payer"), ("Status", "status"),
]  # fmt: skip


@clinic_view("patient.export")
def patient_export(request):
    form = patient_search_form(request)
    query = form.cleaned_data.get("q", "")
    patients = selectors.patient_search(
        membership=request.membership, query=query, status=form.cleaned_data.get("status", "")
    )
    fields = [field for _, field in PATIENT_EXPORT_COLUMNS]
    with selectors.planned_for_the_search_term(query):
        rows = list(patients.values_list("id", *fields))
    audit.record_list_access(
        clinic=request.clinic,
        actor=request.user,
        model=Patient,
        object_ids=[row[0] for row in rows],
        request=request,
        event=AuditEntry.Event.EXPORT,
        detail=f"Patient CSV export ({len(rows)} patients)",
    )
    filename = f"patients-{request.clinic.slug}-{timezone.localdate():%Y%m%d}.csv"
    return csv_response(filename, [label for label, _ in PATIENT_EXPORT_COLUMNS], (row[1:] for row in rows))


# --- Staff ------------------------------------------------------------------------------------


@clinic_view("staff.manage")
def staff_list(request):
    return render(
        request,
        "clinic/staff/list.html",
        {
            "memberships": selectors.memberships_of_clinic(clinic=request.clinic),
            "invitations": selectors.pending_invitations(clinic=request.clinic),
            "form": forms.InvitationForm(),
        },
    )


@clinic_view("staff.manage")
def staff_invite(request):
    # A link such as ?email=…&roles=physician (from the referring-provider list) pre-fills the form.
    initial = {"email": request.GET.get("email", ""), "roles": request.GET.getlist("roles")}
    form = forms.InvitationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _ = services.invitation_create(
                clinic=request.clinic, actor=request.user, email=form.cleaned_data["email"],
                roles=form.cleaned_data["roles"],
            )  # fmt: skip
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}. The link is valid for 7 days.")
            return redirect("staff_list", clinic_slug=request.clinic.slug)
    return render(request, "clinic/staff/invite.html", {"form": form})


@clinic_view("staff.manage")
def staff_edit(request, membership_id):
    membership = selectors.membership_get(clinic=request.clinic, membership_id=membership_id)
    form = forms.MembershipRolesForm(request.POST or None, initial={"roles": membership.roles})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_set_roles(
                clinic=request.clinic,
                actor=request.user,
                membership=membership,
                roles=form.cleaned_data["roles"],
            )
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, f"Roles of {membership.user} updated.")
            return redirect("staff_list", clinic_slug=request.clinic.slug)
    return render(request, "clinic/staff/edit.html", {"form": form, "membership": membership})


@require_POST
@clinic_view("staff.manage")
def staff_deactivate(request, membership_id):
    membership = selectors.membership_get(clinic=request.clinic, membership_id=membership_id)
    try:
        services.membership_deactivate(clinic=request.clinic, actor=request.user, membership=membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user} no longer has access to {request.clinic.name}.")
    return redirect("staff_list", clinic_slug=request.clinic.slug)


@require_POST
@clinic_view("staff.manage")
def invitation_revoke(request, invitation_id):
    invitation = selectors.invitation_get(clinic=request.clinic, invitation_id=invitation_id)
    try:
        services.invitation_revoke(clinic=request.clinic, actor=request.user, invitation=invitation)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("staff_list", clinic_slug=request.clinic.slug)


def invitation_accept(request, token):
    rls.activate(invitation_scope(request.user, token))  # the middleware restores the request's scope
    invitation = services.invitation_find(token)
    if invitation is None or invitation.status != "pending":
        return render(request, "clinic/invitation_invalid.html", status=404)
    signed_in = request.user.is_authenticated
    form = None if signed_in else forms.AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and (signed_in or form.is_valid()):
        try:
            if signed_in:
                membership = services.invitation_accept(raw_token=token, user=request.user)
            else:
                membership = services.invitation_accept(
                    raw_token=token, first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"], password=form.cleaned_data["password"],
                )  # fmt: skip
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
            else:
                attach_errors(form, error)
        else:
            messages.success(request, f"Welcome to {membership.clinic.name}.")
            if signed_in:
                return redirect("clinic_home", clinic_slug=membership.clinic.slug)
            messages.info(request, "Sign in with your email and new password.")
            return redirect("account_login")
    return render(request, "clinic/invitation_accept.html", {"invitation": invitation, "form": form})


# --- Clinic settings, API tokens ---------------------------------------------------------------


@clinic_view("clinic.settings")
def clinic_settings(request):
    form = forms.ClinicSettingsForm(request.POST or None, instance=request.clinic)
    if request.method == "POST" and form.is_valid():
        try:
            services.clinic_update_settings(clinic=request.clinic, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Clinic settings saved.")
            return redirect("clinic_settings", clinic_slug=request.clinic.slug)
    return render(request, "clinic/settings.html", {"form": form})


@clinic_view()
def api_tokens(request):
    form = forms.ApiTokenForm(request.POST or None)
    new_raw_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_raw_token = services.api_token_create(membership=request.membership, name=form.cleaned_data["name"])
        except ValidationError as error:
            attach_errors(form, error)
        else:
            form = forms.ApiTokenForm()
    tokens = selectors.api_tokens_of(membership=request.membership)
    return render(request, "clinic/tokens.html", {"form": form, "tokens": tokens, "new_raw_token": new_raw_token})


@require_POST
@clinic_view()
def api_token_revoke(request, token_id):
    token = selectors.api_token_get(membership=request.membership, token_id=token_id)
    services.api_token_revoke(membership=request.membership, token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens", clinic_slug=request.clinic.slug)


# --- Audit trail ------------------------------------------------------------------------------


def _audit_query(request):
    users = selectors.member_user_choices(clinic=request.clinic)
    form = forms.AuditFilterForm(request.GET or None, users=users)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_entries(
        clinic=request.clinic,
        patient_id=filters.get("patient"),
        actor_id=filters.get("actor"),
        event=filters.get("event", ""),
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    return form, entries


@clinic_view("audit.view")
def audit_list(request):
    form, entries = _audit_query(request)
    # Counted up to 10,000: every page anyone opens adds an entry, so a clinic's trail grows without bound.
    page = capped_page(entries, 50, request.GET.get("page"))
    patient = None
    if form.is_valid() and form.cleaned_data.get("patient"):
        patient = Patient.objects.filter(clinic=request.clinic, pk=form.cleaned_data["patient"]).first()
    rows = auditformat.readable(page.object_list)
    return render(request, "clinic/audit.html", {"form": form, "page": page, "rows": rows, "patient": patient})


@clinic_view("audit.view")
def audit_export(request):
    _, entries = _audit_query(request)
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=AuditEntry, object_ids=[], request=request,
        event=AuditEntry.Event.EXPORT, detail="Audit trail CSV export",
    )  # fmt: skip
    rows = (
        (
            e.entry.timestamp.isoformat(), e.actor, e.entry.get_event_display(), e.record_type,
            e.entry.object_repr, e.entry.patient_id or "", e.entry.remote_addr or "", e.details,
        )
        for e in auditformat.readable_stream(entries)
    )  # fmt: skip
    header = ["Time (UTC)", "User", "Action", "Record type", "Record", "Patient id", "IP address", "Details"]
    return csv_response(f"audit-{request.clinic.slug}-{timezone.localdate():%Y%m%d}.csv", header, rows)


# --- Session and health -----------------------------------------------------------------------


@require_POST
@login_required
def session_keepalive(request):
    """The idle-logoff warning's "Stay signed in" button; the middleware already noted the activity."""
    return HttpResponse(status=204)


def not_found(request):
    raise Http404


def healthz(request):
    from clinic.health import health_report

    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
