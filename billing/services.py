"""Every write of billing: payers, coverage, fee schedules, exporting claim lines as a batch, voiding a batch.

Each validates first and writes nothing on bad input (a ValidationError with a message for the person).
"""

import csv
import io
import zlib
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.timezone import now

from billing import claims
from billing.models import ClaimBatch, ClaimLine, Coverage, FeeScheduleEntry, MedicalNecessityNote, Payer
from billing.rules import MissingRuleError, Rules
from clinic.csvexport import neutralize
from clinic.models import KX_PROGRAM_TYPES, Clinic, Enrollment, Membership, Patient

PAYER_FIELDS = ["name", "kind", "is_active"]
COVERAGE_FIELDS = ["payer", "member_id", "starts_on", "ends_on", "priority"]
FEE_FIELDS = ["payer", "code", "amount", "effective_from", "effective_to"]

CSV_COLUMNS = ["line_id", "patient_mrn", "patient_last_name", "patient_first_name", "date_of_birth", "payer",
               "member_id", "date_of_service", "code", "units", "modifiers", "diagnosis_codes", "rendering_npi",
               "supervising_npi", "expected_amount"]  # fmt: skip


def _save(instance, fields: list[str], data: dict):
    for field in fields:
        if field in data:
            setattr(instance, field, data[field])
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def payer_save(*, clinic: Clinic, actor: Membership, data: dict, payer: Payer | None = None) -> Payer:
    payer = payer or Payer(clinic=clinic)
    name = (data.get("name") or payer.name or "").strip()
    if Payer.objects.filter(clinic=clinic, name__iexact=name).exclude(pk=payer.pk).exists():
        raise ValidationError({"name": f"A payer named {name} already exists."})
    return _save(payer, PAYER_FIELDS, {**data, "name": name})


@transaction.atomic
def coverage_save(
    *, clinic: Clinic, actor: Membership, patient: Patient, data: dict, coverage: Coverage | None = None
) -> Coverage:
    payer = data.get("payer")
    if payer is not None and payer.clinic_id != clinic.pk:
        raise ValidationError({"payer": "Choose one of the clinic's payers."})
    coverage = coverage or Coverage(clinic=clinic, patient=patient)
    coverage = _save(coverage, COVERAGE_FIELDS, data)
    claims.request_derivation(clinic_id=clinic.pk, enrollment_ids=patient.enrollments.values_list("pk", flat=True))
    return coverage


def _lock(clinic: Clinic, payer_id: int | None, code: str) -> None:
    """Serialise fee saves of one (clinic, payer, code) until the transaction ends, so the overlap check holds."""
    key = zlib.crc32(f"fee:{clinic.pk}:{payer_id or 0}:{code}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@transaction.atomic
def fee_save(*, clinic: Clinic, actor: Membership, data: dict, fee: FeeScheduleEntry | None = None) -> FeeScheduleEntry:
    fee = fee or FeeScheduleEntry(clinic=clinic)
    merged = {field: data.get(field, getattr(fee, field, None)) for field in FEE_FIELDS}
    payer, code = merged["payer"], (merged["code"] or "").strip().upper()
    if payer is not None and payer.clinic_id != clinic.pk:
        raise ValidationError({"payer": "Choose one of the clinic's payers."})
    start, end = merged["effective_from"], merged["effective_to"]
    if start and end and end < start:
        raise ValidationError({"effective_to": "The end date must be on or after the start date."})
    _lock(clinic, payer.pk if payer else None, code)
    if start:
        overlapping = FeeScheduleEntry.objects.filter(clinic=clinic, payer=payer, code=code).exclude(pk=fee.pk)
        overlapping = overlapping.filter(Q(effective_to__isnull=True) | Q(effective_to__gte=start))
        if end:
            overlapping = overlapping.filter(effective_from__lte=end)
        clash = overlapping.order_by("effective_from").first()
        if clash:
            until = clash.effective_to.isoformat() if clash.effective_to else "open-ended"
            raise ValidationError(
                f"{code} for {payer or 'any payer'} already has a fee from {clash.effective_from.isoformat()} to "
                f"{until}: end that one first, or choose dates that do not overlap."
            )
    return _save(fee, FEE_FIELDS, {**data, "code": code})


def _csv_of(lines: list[ClaimLine], coverage_by_line: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        patient = line.patient
        coverage = coverage_by_line.get(line.pk)
        cells = [
            line.pk, patient.mrn, patient.last_name, patient.first_name, patient.date_of_birth.isoformat(),
            line.payer.name if line.payer else "", coverage.member_id if coverage else "",
            line.date_of_service.isoformat(), line.code, line.units, " ".join(line.modifiers),
            " ".join(line.diagnosis_codes), line.rendering_provider.npi if line.rendering_provider else "",
            line.supervising_provider.npi if line.supervising_provider else "",
            line.expected_amount if line.expected_amount is not None else "",
        ]  # fmt: skip
        writer.writerow([neutralize(cell) for cell in cells])
    return out.getvalue()


@transaction.atomic
def batch_export(*, clinic: Clinic, actor: Membership, line_ids) -> ClaimBatch:
    """Export ready lines as one batch: its CSV is kept and its lines become "exported" and never change."""
    ids = sorted({int(pk) for pk in line_ids})
    if not ids:
        raise ValidationError("Choose at least one ready claim line to export.")
    lines = list(
        ClaimLine.objects.select_for_update(of=("self",))
        .filter(clinic=clinic, pk__in=ids)
        .select_related("patient", "payer", "rendering_provider", "supervising_provider")
        .order_by("date_of_service", "id")
    )
    if len(lines) != len(ids):
        raise ValidationError("Some of the chosen lines do not exist. Reload the page and choose again.")
    not_ready = [line for line in lines if line.status != ClaimLine.Status.READY]
    if not_ready:
        blocked = sum(line.status == ClaimLine.Status.BLOCKED for line in not_ready)
        raise ValidationError(
            f"{len(not_ready)} of the chosen lines are not ready ({blocked} blocked): a batch holds only ready "
            "lines. Nothing was exported; clear the blockers or leave those lines out."
        )
    by_patient = claims.coverages_of(clinic, {line.patient_id for line in lines})
    coverages = {
        line.pk: next(
            (c for c in by_patient.get(line.patient_id, ()) if c.payer_id == line.payer_id
             and c.is_active_on(line.date_of_service)), None,
        )
        for line in lines
    }  # fmt: skip
    total = sum((line.expected_amount or Decimal(0) for line in lines), Decimal(0))
    batch = ClaimBatch.objects.create(
        clinic=clinic, created_by=actor, csv=_csv_of(lines, coverages), line_ids=ids, line_count=len(ids),
        total_expected=total,
    )  # fmt: skip
    ClaimLine.objects.filter(clinic=clinic, pk__in=ids).update(status=ClaimLine.Status.EXPORTED, batch=batch)
    return batch


@transaction.atomic
def batch_void(*, clinic: Clinic, actor: Membership, batch: ClaimBatch, reason: str) -> ClaimBatch:
    """Void a batch (with a reason): its lines are derived again and may go in a new batch; its file stays."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for voiding the batch."})
    batch = ClaimBatch.objects.select_for_update().get(clinic=clinic, pk=batch.pk)
    if batch.status == ClaimBatch.Status.VOID:
        raise ValidationError("This batch is already void.")
    enrollment_ids = set(batch.lines.values_list("enrollment_id", flat=True))
    batch.lines.update(status=ClaimLine.Status.VOID, batch=None)
    batch.status, batch.void_reason, batch.voided_by, batch.voided_at = ClaimBatch.Status.VOID, reason, actor, now()
    batch.save(update_fields=["status", "void_reason", "voided_by", "voided_at"])
    claims.claim_lines_derive(clinic=clinic, enrollment_ids=enrollment_ids)
    return batch


@transaction.atomic
def necessity_note_add(
    *, clinic: Clinic, actor: Membership, enrollment: Enrollment, text: str, written_on, first_session: int,
    last_session: int,
) -> MedicalNecessityNote:  # fmt: skip
    """A clinician's medical-necessity note for a range of the enrollment's sessions past the program's limit;
    the enrollment's claim lines are derived again after commit."""
    kind = enrollment.program.program_type
    if enrollment.clinic_id != clinic.pk or kind not in KX_PROGRAM_TYPES:
        raise ValidationError("Medical-necessity notes are for cardiac and pulmonary rehab enrollments.")
    text = (text or "").strip()
    errors = {}
    if not text:
        errors["text"] = "Write why the patient needs the further sessions."
    if written_on is None or written_on > timezone.localdate():
        raise ValidationError({"written_on": "Give the note's date (today or earlier)."})
    try:
        rules = Rules()
        limit, kx_limit = rules.int(kind, "session_limit", written_on), rules.int(kind, "kx_limit", written_on)
    except MissingRuleError as error:
        raise ValidationError(str(error)) from None
    if not limit < first_session <= last_session <= kx_limit:
        errors["first_session"] = (
            f"Choose sessions within {limit + 1}–{kx_limit}, the first not after the last: the first {limit} need no "
            f"note and none past {kx_limit} can be billed."
        )
    if errors:
        raise ValidationError(errors)
    note = MedicalNecessityNote.objects.create(
        clinic=clinic, enrollment=enrollment, first_session=first_session, last_session=last_session, text=text,
        written_on=written_on, author=actor,
    )  # fmt: skip
    claims.request_derivation(clinic_id=clinic.pk, enrollment_ids=[enrollment.pk])
    return note
