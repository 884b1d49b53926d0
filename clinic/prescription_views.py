"""Exercise prescription pages, under /c/<clinic>/patients/<id>/enrollments/<id>/prescription/.

Physiologists and admins write; physicians read those of their own patients; billing has no access.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clinic import audit
from clinic import prescriptions as rx
from clinic.models import PrescriptionComponent
from clinic.permissions import has_permission
from clinic.prescription_forms import ComponentForm, PrescriptionForm
from clinic.tenancy import clinic_view


def _enrollment(request, patient_id, enrollment_id):
    return rx.enrollment_get(membership=request.membership, patient_id=patient_id, enrollment_id=enrollment_id)


def _context(request, enrollment, prescription, **extra) -> dict:
    return {
        "enrollment": enrollment,
        "patient": enrollment.patient,
        "prescription": prescription,
        "hr_max": rx.prescription_hr_max(prescription, enrollment) if prescription else None,
        "age": rx.prescription_age(prescription, enrollment) if prescription else None,
        "components": rx.describe(prescription, enrollment) if prescription else [],
        "can_edit": has_permission(request.membership, "prescription.edit"),
        **extra,
    }


@clinic_view("prescription.view")
def prescription_detail(request, patient_id, enrollment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    prescription = rx.prescription_current(enrollment=enrollment)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=prescription or enrollment, request=request,
        detail=f"Exercise prescription v{prescription.version}" if prescription else "Exercise prescription (none yet)",
    )  # fmt: skip
    return render(request, "clinic/prescriptions/detail.html", _context(request, enrollment, prescription))


@clinic_view("prescription.view")
def prescription_version(request, patient_id, enrollment_id, version):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    prescription = rx.prescription_get(enrollment=enrollment, version=version)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=prescription, request=request,
        detail=f"Exercise prescription v{prescription.version}",
    )  # fmt: skip
    return render(request, "clinic/prescriptions/detail.html", _context(request, enrollment, prescription))


@clinic_view("prescription.view")
def prescription_history(request, patient_id, enrollment_id):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    versions = list(rx.prescriptions_of(enrollment=enrollment))
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=enrollment, request=request,
        detail=f"Exercise prescription history ({len(versions)} versions)",
    )  # fmt: skip
    rows = [(version, rx.describe(version, enrollment)) for version in versions]
    return render(
        request,
        "clinic/prescriptions/history.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "rows": rows,
         "can_edit": has_permission(request.membership, "prescription.edit")},
    )  # fmt: skip


@clinic_view("prescription.view")
def prescription_print(request, patient_id, enrollment_id, version):
    enrollment = _enrollment(request, patient_id, enrollment_id)
    prescription = rx.prescription_get(enrollment=enrollment, version=version)
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=prescription, request=request,
        detail=f"Exercise prescription v{prescription.version}, patient copy",
    )  # fmt: skip
    return render(request, "clinic/prescriptions/print.html", _context(request, enrollment, prescription))


@clinic_view("prescription.edit")
def prescription_edit(request, patient_id, enrollment_id):
    """A new version, starting from the current one."""
    enrollment = _enrollment(request, patient_id, enrollment_id)
    current = rx.prescription_current(enrollment=enrollment)
    data, components = rx.prescription_initial(current)
    based_on = current.version if current else 0
    post = request.POST if request.method == "POST" else None
    form = PrescriptionForm(post, initial={**data, "based_on_version": based_on})
    component_forms = [
        ComponentForm(post, kind=kind, initial=components.get(kind, {}), first=current is None)
        for kind in PrescriptionComponent.Kind.values
    ]
    valid = [form.is_valid()] + [f.is_valid() for f in component_forms]  # every form's errors, not the first's
    preview = _preview(enrollment, form, component_forms)  # before the service's errors take fields out
    if post is not None and all(valid):
        try:
            prescription = rx.prescription_save(
                clinic=request.clinic, actor=request.membership, enrollment=enrollment,
                data={name: form.cleaned_data.get(name) for name in rx.PRESCRIPTION_FIELDS},
                components={f.kind: f.values() for f in component_forms},
                based_on_version=form.cleaned_data["based_on_version"],
            )  # fmt: skip
        except ValidationError as error:
            _attach(error, form, {f.kind: f for f in component_forms})
        else:
            messages.success(request, f"Prescription version {prescription.version} saved.")
            return redirect(
                "prescription_detail", clinic_slug=request.clinic.slug, patient_id=enrollment.patient_id,
                enrollment_id=enrollment.pk,
            )  # fmt: skip
    if request.method == "GET" and current is not None:
        audit.record_access(
            clinic=request.clinic, actor=request.user, obj=current, request=request,
            detail=f"Exercise prescription v{current.version}, edit form",
        )  # fmt: skip
    return render(
        request,
        "clinic/prescriptions/form.html",
        {"enrollment": enrollment, "patient": enrollment.patient, "current": current, "form": form,
         "component_forms": component_forms, "based_on": based_on,
         "preview": preview},
    )  # fmt: skip


def _form_values(form, component_forms) -> tuple[dict, dict]:
    """The values typed so far: the valid fields of bound forms, the starting values of unbound ones."""

    def values(f, names):
        source = f.cleaned_data if f.is_bound and hasattr(f, "cleaned_data") else f.initial
        return {name: source.get(name) for name in names}

    return (
        values(form, rx.PRESCRIPTION_FIELDS),
        {f.kind: values(f, rx.COMPONENT_FIELDS) for f in component_forms},
    )


def _preview(enrollment, form, component_forms) -> rx.Preview:
    data, components = _form_values(form, component_forms)
    return rx.prescription_preview(enrollment=enrollment, data=data, components=components)


@require_POST
@clinic_view("prescription.edit")
def prescription_preview(request, patient_id, enrollment_id):
    """The computed targets and any refusal, as the form is filled in (htmx); writes nothing."""
    enrollment = _enrollment(request, patient_id, enrollment_id)
    form = PrescriptionForm(request.POST)
    component_forms = [ComponentForm(request.POST, kind=kind) for kind in PrescriptionComponent.Kind.values]
    for f in [form, *component_forms]:
        f.is_valid()
    return render(
        request,
        "clinic/prescriptions/_preview.html",
        {"enrollment": enrollment, "preview": _preview(enrollment, form, component_forms)},
    )


def _attach(error: ValidationError, form, component_forms: dict) -> None:
    """The service's errors on the form fields they are about ("aerobic.intensity_low" on the aerobic form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        kind, _, field = key.partition(".")
        if field and kind in component_forms:
            target = component_forms[kind]
            target.add_error(field if field in target.fields else None, errors)
        else:
            form.add_error(key if key in form.fields else None, errors)
