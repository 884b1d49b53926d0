"""Every read of billing data, scoped by clinic. Billing pages and endpoints are for billing staff and
administrators (clinic/permissions.py); nothing here reads clinical notes."""

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from billing.models import ClaimBatch, ClaimLine, Coverage, DprpExport, FeeScheduleEntry, MedicalNecessityNote, Payer
from clinic.compiled import CompiledQuery, loaded_row, paths_of
from clinic.models import Clinic, Patient, Program


def _get(queryset, pk):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def payers_of(*, clinic: Clinic) -> QuerySet[Payer]:
    return Payer.objects.filter(clinic=clinic).order_by("name", "id")


def payer_get(*, clinic: Clinic, payer_id: int) -> Payer:
    return _get(payers_of(clinic=clinic), payer_id)


def coverages_of_clinic(*, clinic: Clinic) -> QuerySet[Coverage]:
    return Coverage.objects.filter(clinic=clinic).select_related("payer").order_by("patient_id", "priority", "id")


# The chart's coverage panel with the columns it shows, compiled once (clinic.compiled: the chart's panels
# through the ORM were most of its CPU; issue 11). Values: clinic, patient.
COVERAGE_PARTS = [
    (Coverage, "", ["id", "priority", "member_id", "starts_on", "ends_on", "payer_id"]),
    (Payer, "payer__", ["id", "name"]),
]
COVERAGES_OF_PATIENT = CompiledQuery(
    lambda clinic_id, patient_id: Coverage.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
    .order_by("priority", "id")
    .values_list(*paths_of(COVERAGE_PARTS)),
    clinic_id=-1, patient_id=-2,
)  # fmt: skip


def coverages_of_patient(*, clinic: Clinic, patient: Patient) -> list[Coverage]:
    coverages = []
    for row in COVERAGES_OF_PATIENT.rows(clinic_id=clinic.pk, patient_id=patient.pk):
        coverage, payer = loaded_row(row, COVERAGE_PARTS)
        coverage.payer = payer
        coverages.append(coverage)
    return coverages


def coverage_get(*, clinic: Clinic, coverage_id: int, patient: Patient | None = None) -> Coverage:
    coverages = coverages_of_clinic(clinic=clinic)
    if patient is not None:
        coverages = coverages.filter(patient=patient)
    return _get(coverages, coverage_id)


def fees_of(*, clinic: Clinic) -> QuerySet[FeeScheduleEntry]:
    return FeeScheduleEntry.objects.filter(clinic=clinic).select_related("payer").order_by("code", "-effective_from")


def fee_get(*, clinic: Clinic, fee_id: int) -> FeeScheduleEntry:
    return _get(fees_of(clinic=clinic), fee_id)


@dataclass
class LineFilters:
    patient: int | None = None
    enrollment: int | None = None
    program_type: str = ""
    status: str = ""
    blocker: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None


def claim_lines(*, clinic: Clinic, filters: LineFilters | None = None) -> QuerySet[ClaimLine]:
    """Claim lines, newest service first, with the patient and payer for the list (no per-row queries)."""
    filters = filters or LineFilters()
    lines = ClaimLine.objects.filter(clinic=clinic).select_related("patient", "payer")
    if filters.patient:
        lines = lines.filter(patient_id=filters.patient)
    if filters.enrollment:
        lines = lines.filter(enrollment_id=filters.enrollment)
    if filters.program_type:
        lines = lines.filter(program_type=filters.program_type)
    if filters.status:
        lines = lines.filter(status=filters.status)
    if filters.blocker:
        lines = lines.filter(blockers__contains=[{"code": filters.blocker}])
    if filters.date_from:
        lines = lines.filter(date_of_service__gte=filters.date_from)
    if filters.date_to:
        lines = lines.filter(date_of_service__lte=filters.date_to)
    return lines.order_by("-date_of_service", "-id")


# The claim lines page's columns, read as values (issue 11): the patient's name and the payer's, not their every
# column, and no model instances (50 lines with two joined records each were a sixth of the page's CPU).
CLAIM_LINE_LIST_COLUMNS = (
    "id", "status", "date_of_service", "patient_id", "enrollment_id", "program_type", "code", "modifiers", "units",
    "expected_amount", "batch_id", "blockers", "note", "patient__first_name", "patient__last_name", "payer__name",
)  # fmt: skip


def claim_line_rows(lines: QuerySet[ClaimLine]) -> list:
    """A page of claim_lines as named tuples of the columns the claim lines page shows (billing_tags.claim_line_rows).
    Paged before: counting a values query would keep its joins and columns (the model's count drops them)."""
    return list(lines.values_list(*CLAIM_LINE_LIST_COLUMNS, named=True))


def claim_line_get(*, clinic: Clinic, line_id: int) -> ClaimLine:
    return _get(claim_lines(clinic=clinic), line_id)


def batches_of(*, clinic: Clinic) -> QuerySet[ClaimBatch]:
    return ClaimBatch.objects.filter(clinic=clinic).select_related("created_by__user", "voided_by__user")


def batch_get(*, clinic: Clinic, batch_id: int) -> ClaimBatch:
    return _get(batches_of(clinic=clinic), batch_id)


def dprp_programs(*, clinic: Clinic) -> QuerySet[Program]:
    return Program.objects.filter(clinic=clinic, program_type__in=("dpp", "mdpp")).order_by("name", "id")


def dprp_exports_of(*, clinic: Clinic) -> QuerySet[DprpExport]:
    return DprpExport.objects.filter(clinic=clinic).select_related("program", "requested_by__user", "accepted_by__user")


def dprp_export_get(*, clinic: Clinic, export_id: int) -> DprpExport:
    return _get(dprp_exports_of(clinic=clinic), export_id)


def necessity_notes_of(*, clinic: Clinic, enrollment, with_text: bool) -> list[MedicalNecessityNote]:
    """An enrollment's medical-necessity notes; the clinical text is not even read for those who may not see it."""
    notes = MedicalNecessityNote.objects.filter(clinic=clinic, enrollment=enrollment).select_related("author__user")
    return list(notes if with_text else notes.defer("text"))
