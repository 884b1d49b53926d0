"""Clinical alerts: something about a patient that needs a clinician today (a PHQ-9 item 9 answer above
0 on an assessment). Raised by the service that recorded the cause, in its transaction; shown as an urgent
banner on the chart and listed on the physiologist's "today" page until acknowledged with a note.

Here in clinic, not in outcomes, so the "today" page (scheduling) can list them: apps import only from
the apps above them."""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from clinic.audit import client_address
from clinic.compiled import CompiledQuery, loaded
from clinic.models import AuditEntry, Clinic, ClinicalAlert, Membership
from clinic.selectors import patients_visible_to

NOTE_MAX = 2000


def alert_raise(
    *, clinic: Clinic, patient_id: int, enrollment_id: int | None, kind: str, message: str, source: str, source_id: int
) -> ClinicalAlert:
    """Once per cause: raising it again (the assessment corrected and saved again) keeps the first alert,
    acknowledged or not."""
    alert, _ = ClinicalAlert.objects.get_or_create(
        clinic=clinic, kind=kind, source=source, source_id=source_id,
        defaults={"patient_id": patient_id, "enrollment_id": enrollment_id, "message": message},
    )  # fmt: skip
    return alert


# The banner's alerts (the chart, an assessment's page) with the columns it shows, compiled once
# (clinic.compiled: the chart's panels are most of its CPU; issue 11). Values: clinic, patient.
OPEN_ALERTS_OF_PATIENT = CompiledQuery(
    lambda clinic_id, patient_id: ClinicalAlert.objects.filter(clinic_id=clinic_id)
    .filter(patient_id=patient_id, acknowledged_at__isnull=True)
    .order_by("-raised_at", "-pk")
    .values_list("id", "message", "raised_at"),
    clinic_id=-1, patient_id=-2,
)  # fmt: skip


def open_alerts_for_patient(*, clinic: Clinic, patient) -> list[ClinicalAlert]:
    return [
        loaded(ClinicalAlert, id=pk, message=message, raised_at=raised_at)
        for pk, message, raised_at in OPEN_ALERTS_OF_PATIENT.rows(clinic_id=clinic.pk, patient_id=patient.pk)
    ]


def open_alerts(*, clinic: Clinic, limit: int = 50) -> list[ClinicalAlert]:
    """The clinic's unacknowledged alerts, newest first, for the "today" page."""
    return list(
        ClinicalAlert.objects.filter(clinic=clinic, acknowledged_at__isnull=True)
        .select_related("patient")
        .order_by("-raised_at", "-pk")[:limit]
    )


def alert_get(*, membership: Membership, alert_id: int) -> ClinicalAlert:
    alert = (
        ClinicalAlert.objects.select_related("patient")
        .filter(clinic_id=membership.clinic_id, pk=alert_id, patient__in=patients_visible_to(membership))
        .first()
    )
    if alert is None:
        raise Http404
    return alert


@transaction.atomic
def alert_acknowledge(*, clinic: Clinic, actor: Membership, alert: ClinicalAlert, note: str, request=None):
    """A clinician followed up: the note says how. Audited with the note."""
    alert = ClinicalAlert.objects.select_for_update().get(pk=alert.pk, clinic=clinic)
    note = (note or "").strip()
    if alert.acknowledged_at is not None:
        raise ValidationError("This alert was already acknowledged.")
    if not note:
        raise ValidationError({"note": "Say what was done (for example: spoke with the patient, safety plan made)."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX} characters."})
    alert.acknowledged_by, alert.acknowledged_at, alert.note = actor, timezone.now(), note
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "note"])
    AuditEntry.objects.create(
        clinic=clinic, patient_id=alert.patient_id, content_type=ContentType.objects.get_for_model(ClinicalAlert),
        object_pk=str(alert.pk), object_id=alert.pk, object_repr=str(alert)[:200],
        action=AuditEntry.Action.UPDATE, event=AuditEntry.Event.UPDATE,
        changes_text=f"Clinical alert acknowledged: {alert.get_kind_display()}. Note: {note}",
        remote_addr=client_address(request), actor=actor.user, actor_email=actor.user.email,
    )  # fmt: skip
    return alert
