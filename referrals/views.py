"""Referral pages: the staff work queue and referral page, providers, programs, the physician portal."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit
from clinic import selectors as clinic_selectors
from clinic.models import AuditEntry, Enrollment
from clinic.paging import capped_page
from clinic.permissions import has_permission
from clinic.tenancy import activate_member_clinics, clinic_view
from clinic.views import attach_errors
from referrals import forms, selectors, services
from referrals.eligibility import NOT_ELIGIBLE, eligibility_or_unknown
from referrals.models import Referral


def _referral_redirect(request, referral):
    return redirect("referral_detail", clinic_slug=request.clinic.slug, referral_id=referral.pk)


# --- Work queue and referral page ---------------------------------------------------------------


@clinic_view("referral.view_all")
def referral_queue(request):
    data = request.GET.copy()
    data.setdefault("status", "open")
    form = forms.QueueFilterForm(data)
    form.is_valid()
    status, query = form.cleaned_data.get("status", "open"), form.cleaned_data.get("q", "")
    # One cutoff for the list, the counts and the rows' marks: they agree even when a referral crosses it mid-request.
    overdue_before = selectors.overdue_cutoff()
    referrals = selectors.referral_queue(
        membership=request.membership, overdue_before=overdue_before, status=status, query=query
    )
    counts = selectors.referral_status_counts(membership=request.membership, overdue_before=overdue_before)
    # A tab's count is its list's length: the paginator need not count it again (a search is counted).
    page = capped_page(referrals, 25, request.GET.get("page"), count=None if query else counts[status or "all"])
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=Referral, request=request,
        object_ids=[r["id"] for r in page], detail=f"Referral queue ({status or 'all'}), page {page.number}",
    )  # fmt: skip
    return render(
        request,
        "referrals/queue.html",
        {
            "form": form, "page": page, "status": status, "query": query,
            "counts": counts,
            "overdue_cutoff": overdue_before, "statuses": Referral.Status.choices,
        },
    )  # fmt: skip


def _program_changed(request, form) -> bool:
    """Whether a posted referral form is only to be shown again with the program's own sections, not
    saved: htmx asks for that when the program changes, as does the button shown without JavaScript;
    and a save posted with another program's sections on screen (the program changed without
    JavaScript) must not go through without the new program's fields."""
    if request.method != "POST":
        return False
    shown = request.POST.get("_sections")
    return "_refresh" in request.POST or (shown is not None and shown != form.sections_key)


def _show_program_sections(request, template, context):
    """The form as it was typed, with the chosen program's sections, judged and saved on the next submit."""
    for value in context.values():
        if isinstance(value, forms.Preview):
            value.show_as_typed()
    if request.htmx:
        return render(request, "referrals/_program_sections.html", context)
    return render(request, template, {**context, "program_changed": True})


@clinic_view("referral.manage")
def referral_create(request):
    form = forms.ReferralForm(
        request.POST or None, request.FILES or None, clinic=request.clinic, new_provider=True,
        initial={"program": request.GET.get("program")},
    )  # fmt: skip
    if _program_changed(request, form):
        return _show_program_sections(request, "referrals/form.html", {"form": form, "referral": None})
    if request.method == "POST" and form.is_valid():
        try:
            referral = services.referral_create(
                clinic=request.clinic, actor=request.user, data=form.cleaned_data,
                attachment=form.cleaned_data.get("attachment"), new_provider=form.cleaned_data.get("new_provider"),
            )  # fmt: skip
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(
                request, f"Referral for {referral.patient_first_name} {referral.patient_last_name} received."
            )
            return _referral_redirect(request, referral)
    return render(request, "referrals/form.html", {"form": form, "referral": None})


@clinic_view("referral.view")
def referral_detail(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    return _render_detail(request, referral)


def _render_detail(request, referral, *, status_form=None):
    """The referral page; `status_form` is a status change that failed, shown again with its error."""
    audit.record_access(clinic=request.clinic, actor=request.user, obj=referral, request=request, detail="Referral")
    can_manage = has_permission(request.membership, "referral.manage")
    eligibility = eligibility_or_unknown(referral)
    next_statuses = [(s, label) for s, label in Referral.Status.choices if s in services.TRANSITIONS[referral.status]]
    enrollment = referral.enrollment
    can_accept = can_manage and referral.status in services.ACCEPTABLE_FROM and referral.patient_id is not None
    can_override = can_manage and eligibility.status == NOT_ELIGIBLE and not eligibility.overridden and referral.is_open
    can_discharge = can_manage and enrollment is not None and enrollment.status not in (
        Enrollment.Status.DISCHARGED, Enrollment.Status.COMPLETED,
    )  # fmt: skip
    context = {
        "referral": referral,
        "eligibility": eligibility,
        "history": selectors.referral_history(referral),
        "attachments": selectors.referral_attachments(referral),
        "can_manage": can_manage,
        "next_statuses": next_statuses,
        "can_accept": can_accept,
        "can_override": can_override,
        "can_discharge": can_discharge,
        "chart_visible": referral.patient_id is not None
        and clinic_selectors.patient_is_visible(membership=request.membership, patient_id=referral.patient_id),
    }
    if can_manage:
        candidates = selectors.possible_duplicate_patients(referral) if referral.patient_id is None else None
        if candidates:
            audit.record_list_access(
                clinic=request.clinic, actor=request.user, model=candidates.model, request=request,
                object_ids=[p.pk for p in candidates], detail="Possible duplicates of a referral",
            )  # fmt: skip
        # Only the forms the page shows: building a form deep-copies its fields, and an accepted referral shows one
        # of the five (issue 11).
        context.update(
            duplicates=candidates,
            link_form=forms.LinkPatientForm(candidates=candidates) if candidates is not None else None,
            status_form=(status_form or forms.StatusForm()) if next_statuses else None,
            accept_form=forms.AcceptForm(initial={"start_date": timezone.localdate()}) if can_accept else None,
            override_form=forms.OverrideForm() if can_override else None,
            attachment_form=forms.AttachmentForm(),
            discharge_form=forms.DischargeForm(initial={"ended_on": _default_discharge_date(referral)})
            if can_discharge else None,
        )  # fmt: skip
    return render(request, "referrals/detail.html", context)


def _default_discharge_date(referral):
    today = timezone.localdate()
    return max(today, referral.enrollment.start_date) if referral.enrollment else today


@clinic_view("referral.manage")
def referral_edit(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.ReferralForm(request.POST or None, instance=referral, clinic=request.clinic)
    if request.method == "GET":
        audit.record_access(
            clinic=request.clinic, actor=request.user, obj=referral, request=request, detail="Edit form"
        )
    if _program_changed(request, form):
        return _show_program_sections(request, "referrals/form.html", {"form": form, "referral": referral})
    if request.method == "POST" and form.is_valid():
        try:
            services.referral_update(
                clinic=request.clinic, actor=request.user, referral=referral, data=form.cleaned_data
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Referral updated.")
            return _referral_redirect(request, referral)
    return render(request, "referrals/form.html", {"form": form, "referral": referral})


def _run_action(request, referral, action, success_message):
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success_message)
    return _referral_redirect(request, referral)


@require_POST
@clinic_view("referral.manage")
def referral_set_status(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid status.")
        return _referral_redirect(request, referral)
    status = form.cleaned_data["status"]
    try:
        services.referral_set_status(
            clinic=request.clinic, actor=request.user, referral=referral, status=status,
            reason=form.cleaned_data["reason"],
        )  # fmt: skip
    except ValidationError as error:
        # Show the form again as it was sent (e.g. "Declined" with no reason), with the error beside it,
        # rather than a redirect that would reset the choice.
        attach_errors(form, error)
        return _render_detail(request, referral, status_form=form)
    messages.success(request, f"Referral marked {Referral.Status(status).label.lower()}.")
    return _referral_redirect(request, referral)


@require_POST
@clinic_view("referral.manage")
def referral_accept(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.AcceptForm(request.POST)
    start_date = form.cleaned_data["start_date"] if form.is_valid() else None
    return _run_action(
        request, referral,
        lambda: services.referral_accept(clinic=request.clinic, actor=request.user, referral=referral,
                                         start_date=start_date),
        "Referral accepted and the patient enrolled. The referring physician will be told.",
    )  # fmt: skip


@require_POST
@clinic_view("referral.manage")
def referral_override(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    reason = request.POST.get("reason", "")
    return _run_action(
        request, referral,
        lambda: services.referral_override_eligibility(clinic=request.clinic, actor=request.user, referral=referral,
                                                       reason=reason),
        "Eligibility overridden; the reason is in the audit trail.",
    )  # fmt: skip


@require_POST
@clinic_view("referral.manage")
def referral_link_patient(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.LinkPatientForm(request.POST, candidates=selectors.possible_duplicate_patients(referral))
    if not form.is_valid():
        messages.error(request, "Choose one of the listed patients.")
        return _referral_redirect(request, referral)
    patient = form.cleaned_data["patient"]
    return _run_action(
        request, referral,
        lambda: services.referral_link_patient(clinic=request.clinic, actor=request.user, referral=referral,
                                               patient=patient),
        "Linked to the existing patient." if patient else "New patient record created from the referral.",
    )  # fmt: skip


@require_POST
@clinic_view("referral.manage")
def referral_attachment_upload(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file to attach.")
        return _referral_redirect(request, referral)
    return _run_action(
        request, referral,
        lambda: services.referral_add_attachment(clinic=request.clinic, actor=request.user, referral=referral,
                                                 upload=form.cleaned_data["attachment"]),
        "Document attached.",
    )  # fmt: skip


@clinic_view("referral.view")
def referral_attachment_download(request, referral_id, attachment_id):
    attachment = selectors.attachment_get(
        membership=request.membership, referral_id=referral_id, attachment_id=attachment_id
    )
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=attachment.referral, request=request,
        event=AuditEntry.Event.EXPORT, detail=f"Downloaded {attachment.original_name}",
    )  # fmt: skip
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["Content-Disposition"] = f'attachment; filename="{attachment.original_name.replace(chr(34), "")}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@clinic_view("enrollment.manage")
def enrollment_discharge(request, referral_id):
    referral = selectors.referral_get(membership=request.membership, referral_id=referral_id)
    form = forms.DischargeForm(request.POST)
    if referral.enrollment is None or not form.is_valid():
        messages.error(request, "Give the discharge reason.")
        return _referral_redirect(request, referral)
    enrollment: Enrollment = referral.enrollment
    return _run_action(
        request, referral,
        lambda: services.enrollment_discharge(clinic=request.clinic, actor=request.user, enrollment=enrollment,
                                              reason=form.cleaned_data["reason"],
                                              ended_on=form.cleaned_data["ended_on"]),
        "Patient discharged. The referring physician will be told.",
    )  # fmt: skip


# --- Referring providers and programs ---------------------------------------------------------


@clinic_view("provider.manage")
def provider_list(request):
    providers = selectors.providers_of_clinic(clinic=request.clinic)
    return render(request, "referrals/providers.html", {"providers": providers})


@clinic_view("provider.manage")
def provider_edit(request, provider_id=None):
    provider = selectors.provider_get(clinic=request.clinic, provider_id=provider_id) if provider_id else None
    form = forms.ProviderForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        try:
            services.provider_save(clinic=request.clinic, actor=request.user, data=form.cleaned_data, provider=provider)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Referring provider saved.")
            return redirect("provider_list", clinic_slug=request.clinic.slug)
    return render(request, "referrals/provider_form.html", {"form": form, "provider": provider})


@clinic_view("program.view")
def program_list(request):
    programs = selectors.programs_of_clinic(clinic=request.clinic)
    return render(request, "referrals/programs.html", {"programs": programs})


@clinic_view("program.manage")
def program_edit(request, program_id=None):
    program = selectors.program_get(clinic=request.clinic, program_id=program_id) if program_id else None
    form = forms.ProgramForm(request.POST or None, instance=program, clinic=request.clinic)
    if request.method == "POST" and form.is_valid():
        try:
            services.program_save(clinic=request.clinic, actor=request.user, data=form.cleaned_data, program=program)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            messages.success(request, "Program saved.")
            return redirect("program_list", clinic_slug=request.clinic.slug)
    return render(request, "referrals/program_form.html", {"form": form, "program": program})


# --- Physician portal -------------------------------------------------------------------------


@clinic_view("referral.portal")
def portal_refer(request):
    provider = selectors.provider_of_physician(membership=request.membership)
    form = forms.PortalReferralForm(request.POST or None, request.FILES or None, clinic=request.clinic)
    profile = forms.PhysicianProfileForm(request.POST or None, instance=provider, prefix="me")
    if _program_changed(request, form):
        return _show_program_sections(request, "referrals/portal_refer.html", {"form": form, "profile": profile})
    if request.method == "POST" and form.is_valid() and profile.is_valid():
        try:
            services.portal_referral_submit(
                membership=request.membership, profile=profile.cleaned_data, data=form.cleaned_data,
                attachment=form.cleaned_data.get("attachment"),
            )  # fmt: skip
        except ValidationError as error:
            attach_errors(profile if "npi" in getattr(error, "error_dict", {}) else form, error)
        else:
            messages.success(
                request, f"Referral sent to {request.clinic.name}. You'll get an email when it is accepted."
            )
            return redirect("my_patients", clinic_slug=request.clinic.slug)
    return render(request, "referrals/portal_refer.html", {"form": form, "profile": profile})


@clinic_view("referral.portal")
def my_patients(request):
    """My patients in this clinic, inside the clinic's navigation: the physician's referrals here."""
    form = forms.PortalFilterForm(request.GET or None)
    status = form.cleaned_data.get("status", "") if form.is_valid() else ""
    page = _physician_referrals_page(
        request, memberships=[request.membership], clinic_slug=request.clinic.slug, status=status
    )
    return render(request, "referrals/my_patients.html", {"page": page, "form": form, "today": timezone.localdate()})


@login_required
def portal_home(request):
    """My patients in every clinic where the person is a physician (for when no clinic is chosen)."""
    memberships = selectors.physician_memberships(activate_member_clinics(request))
    form = forms.PortalFilterForm(request.GET or None, memberships=memberships)
    filters = form.cleaned_data if form.is_valid() else {}
    page = _physician_referrals_page(
        request, memberships=memberships, clinic_slug=filters.get("clinic", ""), status=filters.get("status", "")
    )
    return render(
        request, "referrals/portal_home.html",
        {"page": page, "form": form, "memberships": memberships, "today": timezone.localdate()},
    )  # fmt: skip


def _physician_referrals_page(request, *, memberships, clinic_slug: str, status: str):
    """One page of the physician's referrals (selectors.physician_referrals), with an access entry in the
    audit trail of each clinic whose referrals it shows."""
    referrals = selectors.physician_referrals(user=request.user, clinic_slug=clinic_slug, status=status)
    # The page's ids first, then its rows by id (a query compiled once: selectors.PHYSICIAN_ROWS).
    page = Paginator(referrals.values_list("pk", flat=True), 25).get_page(request.GET.get("page"))
    page.object_list = selectors.physician_referral_rows(user=request.user, referral_ids=list(page.object_list))
    # Each row's links from its clinic's lists' URLs, reversed once per clinic: a `{% url %}` per link was
    # 75 reversals a page (issue 11).
    prefixes = {}
    for referral in page:
        if referral.clinic_id not in prefixes:
            args = [referral.clinic.slug]
            prefixes[referral.clinic_id] = (reverse("referral_queue", args=args), reverse("patient_list", args=args))
        referral.referrals_url, referral.patients_url = prefixes[referral.clinic_id]
    for membership in memberships:
        shown = [r.pk for r in page if r.clinic_id == membership.clinic_id]
        if shown:
            audit.record_list_access(
                clinic=membership.clinic, actor=request.user, model=Referral, request=request, object_ids=shown,
                detail=f"My patients ({status or 'all'}), page {page.number}",
            )  # fmt: skip
    return page
