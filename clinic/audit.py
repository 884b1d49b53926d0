"""Audit helpers: access entries for reads of patient data, and sign-in events.

django-auditlog records creates, updates and deletes of registered models by itself (see
`register_audited_models`); reads and sign-in events are recorded here, explicitly.
"""

from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from clinic import rls
from clinic.models import (
    ApiToken,
    AuditEntry,
    Clinic,
    Enrollment,
    ExercisePrescription,
    Invitation,
    Membership,
    Patient,
    PatientPhysician,
    PrescriptionComponent,
    Program,
    TreatmentPlan,
    TreatmentPlanService,
    User,
)

SYSTEM_ACTOR = "system"


def register_audited_models():
    auditlog.register(Clinic)
    auditlog.register(Membership)
    auditlog.register(Invitation, exclude_fields=["token_hash"])
    auditlog.register(ApiToken, exclude_fields=["token_hash", "last_used_at"])
    auditlog.register(Patient, mask_fields=["mbi", "payer_member_id"], exclude_fields=["updated_at"])
    auditlog.register(PatientPhysician)
    auditlog.register(Program)
    auditlog.register(Enrollment)
    auditlog.register(ExercisePrescription)
    auditlog.register(PrescriptionComponent)
    auditlog.register(TreatmentPlan, exclude_fields=["updated_at"])
    auditlog.register(TreatmentPlanService)


def client_address(request) -> str | None:
    """The address the request came from. Any client can send X-Forwarded-For, so only the entries
    our own proxies appended count: behind N trusted proxies, the Nth address from the right."""
    if request is None:
        return None
    trusted = settings.TRUSTED_PROXY_COUNT
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    if trusted and len(forwarded) >= trusted:
        return forwarded[-trusted]
    return request.META.get("REMOTE_ADDR")


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """django-auditlog's middleware takes the first X-Forwarded-For address as sent; use ours."""

    @staticmethod
    def _get_remote_addr(request):
        return client_address(request)


def _actor_fields(actor) -> dict:
    if actor is None:
        return {"actor": None, "actor_email": SYSTEM_ACTOR}
    return {"actor": actor, "actor_email": actor.email}


def record_access(*, clinic, actor, obj, request=None, event=AuditEntry.Event.VIEW, detail: str = ""):
    """One access entry for reading one object (a chart, an API retrieve, a download).

    `actor=None` means the system (a Celery task or a management command).
    """
    return AuditEntry.objects.create(
        clinic=clinic,
        patient_id=obj.pk if isinstance(obj, Patient) else getattr(obj, "patient_id", None),
        content_type=ContentType.objects.get_for_model(obj),
        object_pk=str(obj.pk),
        object_id=obj.pk,
        object_repr=str(obj),
        action=AuditEntry.Action.ACCESS,
        event=event,
        changes_text=detail,
        remote_addr=client_address(request),
        **_actor_fields(actor),
    )


def record_list_access(*, clinic, actor, model, object_ids, request=None, event=AuditEntry.Event.VIEW, detail=""):
    """One access entry for a list or export: which records were shown, in additional_data."""
    return AuditEntry.objects.create(
        clinic=clinic,
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=str(model._meta.verbose_name_plural).capitalize(),
        action=AuditEntry.Action.ACCESS,
        event=event,
        changes_text=detail,
        additional_data={"ids": list(object_ids)},
        remote_addr=client_address(request),
        **_actor_fields(actor),
    )


def record_account_event(*, user, event, request=None, email: str = "", detail: str = ""):
    """A sign-in, failed sign-in, sign-out or MFA change, once for each clinic the person belongs to,
    so every clinic's administrator sees their own staff's events. Unknown emails get one entry
    without a clinic (visible to platform superusers)."""
    user_type = ContentType.objects.get_for_model(User)
    scope = rls.member_clinics_scope(user) if user else rls.NOTHING
    clinic_ids = list(scope.clinic_ids)
    if not clinic_ids:
        scope = rls.Scope(platform=True)
    common = {
        "content_type": user_type,
        "object_pk": str(user.pk) if user else "",
        "object_id": user.pk if user else None,
        "object_repr": user.email if user else email,
        "action": AuditEntry.Action.ACCESS,
        "event": event,
        "changes_text": detail,
        "remote_addr": client_address(request),
        "actor": user if event != AuditEntry.Event.LOGIN_FAILED else None,
        "actor_email": user.email if user else email,
    }
    entries = [AuditEntry(clinic_id=clinic_id, **common) for clinic_id in clinic_ids or [None]]
    with rls.scoped(scope):
        return AuditEntry.objects.bulk_create(entries)


def record_failed_sign_in(*, email: str, request=None, detail: str = ""):
    """A failed or refused sign-in, under the person the email names when there is one."""
    email = email.strip().lower()
    user = User.objects.filter(email=email).first() if email else None
    return record_account_event(
        user=user, event=AuditEntry.Event.LOGIN_FAILED, request=request, email=email, detail=detail
    )
