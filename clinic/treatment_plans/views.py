"""Treatment plan pages.

On a CR/ICR/PR enrollment (/c/<clinic>/patients/<id>/enrollments/<id>/plan/): the versions, the draft
form (physiologists and admins), each version read-only with its signature block, and a print view.
Billing sees dates and signatures, not the clinical text. Physicians sign in the portal
(/c/<clinic>/portal/plans/); staff see what is due (/c/<clinic>/treatment-plans/due/).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.models import ITP_SIGNATURE_MEANING, Enrollment, TreatmentPlan
from clinic.permissions import has_permission
from clinic.prescriptions import enrollment_get
from clinic.tenancy import clinic_view
from clinic.treatment_plans import selectors, services
from clinic.treatment_plans.forms import PlanForm, SignForm, service_formset
from clinic.views import attach_errors


def _enrollment(request, patient_id, enrollment_id) -> Enrollment:
    enrollment = enrollment_get(membership=request.membership, patient_id=patient_id, enrollment_id=enrollment_id)
    if not selectors.needs_plan(enrollment):
        raise Http404
    return enrollment


def _plan_context(request, enrollment, **extra) -> dict:
    return {
        "enrollment": enrollment,
        "patient": enrollment.patient,
        "clinical": has_permission(request.membership, "itp.view_clinical"),
        "can_edit": has_permission(request.membership, "itp.edit"),
        "is_open": enrollment.status in selectors.OPEN_ENROLLMENT,
        "review_days": settings.ITP_REVIEW_DAYS,
        "today": timezone.localdate(),
        **extra,
    }


def _to_plan_list(request, enrollment):
    return redirect(
        "plan_list", clinic_slug=request.clinic.slug, patient_id=enrollment.patient_id, enrollment_id=enrollment.pk
    )


@clinic_view("itp.view")
def plan_list(request, patient_id, enrollment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    plans = list(selectors.plans_of(membership=request.membership, enrollment=enrollment))
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=enrollment, request=request,
        detail=f"Treatment plan versions ({len(plans)})",
    )  # fmt: skip
    draft = next((plan for plan in plans if not plan.is_signed), None)
    signed = [plan for plan in plans if plan.is_signed]
    current = max(signed, key=lambda plan: plan.signed_at, default=None)
    return render(
        request, "clinic/treatment_plans/list.html",
        _plan_context(request, enrollment, plans=plans, draft=draft, current=current,
                      can_sign=draft is not None and selectors.may_sign(request.membership, draft)),
    )  # fmt: skip


def _version(request, patient_id, enrollment_id, version, detail):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    plan = selectors.plan_by_version(membership=request.membership, enrollment=enrollment, version=version)
    audit.record_access(clinic=request.clinic, actor=request.user, obj=plan, request=request, detail=detail % version)
    return enrollment, plan


@clinic_view("itp.view")
def plan_version(request, patient_id, enrollment_id, version):
    enrollment, plan = _version(request, patient_id, enrollment_id, version, "Treatment plan v%s")
    return render(
        request, "clinic/treatment_plans/version.html",
        _plan_context(request, enrollment, plan=plan,
                      can_sign=not plan.is_signed and selectors.may_sign(request.membership, plan)),
    )  # fmt: skip


@clinic_view("itp.view")
def plan_print(request, patient_id, enrollment_id, version):
    enrollment, plan = _version(request, patient_id, enrollment_id, version, "Treatment plan v%s, print view")
    return render(request, "clinic/treatment_plans/print.html", _plan_context(request, enrollment, plan=plan))


@clinic_view("itp.edit")
def plan_draft(request, patient_id, enrollment_id):
    """The open draft's form, or a first plan's. After a signature, changes start with a review."""
    enrollment = _enrollment(request, patient_id, enrollment_id)
    draft = selectors.open_draft(enrollment=enrollment)
    if draft is None and selectors.last_signed(enrollment=enrollment) is not None:
        messages.info(request, "The plan is signed. Start a review to draft the next version.")
        return _to_plan_list(request, enrollment)
    post = request.POST if request.method == "POST" else None
    form = PlanForm(post, instance=draft)
    formset = service_formset(post, draft)
    if post is not None and form.is_valid() and formset.is_valid():
        values = {"data": form.cleaned_data, "services": [f.cleaned_data for f in formset.forms]}
        try:
            if draft is None:
                plan = services.itp_draft(
                    clinic=request.clinic, actor=request.membership, enrollment=enrollment, **values
                )
            else:
                plan = services.itp_update_draft(clinic=request.clinic, actor=request.membership, plan=draft, **values)
        except ValidationError as error:
            _attach(error, form, formset)
        else:
            messages.success(request, f"Draft version {plan.version} saved. It now awaits a physician's signature.")
            return _to_plan_list(request, enrollment)
    if request.method == "GET" and draft is not None:
        audit.record_access(
            clinic=request.clinic, actor=request.user, obj=draft, request=request,
            detail=f"Treatment plan v{draft.version}, edit form",
        )  # fmt: skip
    return render(
        request, "clinic/treatment_plans/form.html",
        _plan_context(request, enrollment, form=form, formset=formset, draft=draft),
    )  # fmt: skip


def _attach(error: ValidationError, form, formset) -> None:
    """The service's errors on their fields ("services.1.minutes_per_session" on the second row)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "services" and int(parts[1]) < len(formset.forms):
            row = formset.forms[int(parts[1])]
            row.add_error(parts[2] if parts[2] in row.fields else None, errors)
        else:
            attach_errors(form, ValidationError({key: errors}))


@require_POST
@clinic_view("itp.edit")
def plan_review(request, patient_id, enrollment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    try:
        plan = services.itp_start_review(clinic=request.clinic, actor=request.membership, enrollment=enrollment)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _to_plan_list(request, enrollment)
    messages.success(request, f"Version {plan.version} drafted from the last signed version. Review and save it.")
    return redirect(
        "plan_draft", clinic_slug=request.clinic.slug, patient_id=enrollment.patient_id, enrollment_id=enrollment.pk
    )


# --- The physician portal ------------------------------------------------------------------------


@clinic_view("itp.sign")
def portal_plans(request):
    plans = list(selectors.plans_awaiting_signature(membership=request.membership))
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=TreatmentPlan, request=request,
        object_ids=[plan.pk for plan in plans], detail="Plans awaiting your signature",
    )  # fmt: skip
    return render(
        request, "clinic/treatment_plans/portal_list.html", {"plans": plans, "review_days": settings.ITP_REVIEW_DAYS}
    )


@clinic_view("itp.sign")
def portal_sign(request, plan_id):
    plan = selectors.plans_awaiting_signature(membership=request.membership).filter(pk=plan_id).first()
    if plan is None:
        raise Http404
    plan = selectors.plan_get(membership=request.membership, plan_id=plan.pk)  # with its services
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.itp_sign(
                clinic=request.clinic, actor=request.membership, plan=plan, request=request,
                password=form.cleaned_data["password"], mfa_code=form.cleaned_data["mfa_code"],
                meaning=ITP_SIGNATURE_MEANING if form.cleaned_data["agree"] else "",
            )  # fmt: skip
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"You signed version {plan.version} of {plan.enrollment.patient.full_name}'s plan."
            )
            return redirect("portal_plans", clinic_slug=request.clinic.slug)
    if request.method == "GET":
        audit.record_access(
            clinic=request.clinic, actor=request.user, obj=plan, request=request,
            detail=f"Treatment plan v{plan.version}, signature page",
        )  # fmt: skip
    return render(
        request, "clinic/treatment_plans/sign.html",
        _plan_context(request, plan.enrollment, plan=plan, form=form),
    )  # fmt: skip


# --- Due or overdue -----------------------------------------------------------------------------


@clinic_view("itp.due")
def plans_due(request):
    rows = selectors.plans_due(membership=request.membership)
    audit.record_list_access(
        clinic=request.clinic, actor=request.user, model=Enrollment, request=request,
        object_ids=[row.enrollment.pk for row in rows], detail="Treatment plans due or overdue",
    )  # fmt: skip
    return render(
        request,
        "clinic/treatment_plans/due.html",
        {"rows": rows, "within": settings.ITP_DUE_WITHIN_DAYS, "review_days": settings.ITP_REVIEW_DAYS},
    )
