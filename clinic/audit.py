"""Audit helpers: access entries for reads of patient data, and sign-in events.

django-auditlog records creates, updates and deletes of registered models by itself (see
`register_audited_models`); reads and sign-in events are recorded here, explicitly.
"""

from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType

from clinic.models import (
    ApiToken,
    AuditEntry,
    Clinic,
    Enrollment,
    Invitation,
    Membership,
    Patient,
    PatientPhysician,
    Program,
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


def client_address(request) -> str | None:
    if request is None:
        return None
    forwarded = request.headers.get("X-Forwarded-For")
    return forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")


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
    clinic_ids = (
        list(Membership.objects.filter(user=user, is_active=True).values_list("clinic_id", flat=True)) if user else []
    )
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
    return AuditEntry.objects.bulk_create(entries)
