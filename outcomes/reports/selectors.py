"""Reads of progress reports: physicians see their own patients' reports only; billing none."""

from django.db.models import QuerySet
from django.http import Http404

from clinic.compiled import CompiledQuery, loaded_row, paths_of
from clinic.models import Enrollment, Membership, Patient, Program
from clinic.permissions import has_permission
from clinic.selectors import patients_visible_to
from outcomes.reports.models import ReportRequest


def reports_visible_to(membership: Membership) -> QuerySet[ReportRequest]:
    reports = ReportRequest.objects.filter(clinic_id=membership.clinic_id)
    if not has_permission(membership, "report.view"):
        return reports.none()
    if has_permission(membership, "patient.view_all"):
        return reports
    return reports.filter(patient__in=patients_visible_to(membership))


def report_get(*, membership: Membership, report_id: int) -> ReportRequest:
    report = (
        reports_visible_to(membership)
        .select_related("patient", "enrollment__program", "requested_by__user")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise Http404
    return report


def ready_report_get(*, membership: Membership, report_id: int) -> ReportRequest:
    report = report_get(membership=membership, report_id=report_id)
    if report.status != ReportRequest.Status.READY or not report.file:
        raise Http404
    return report


CHART_REPORTS = 10
# The chart's latest reports with the columns its rows show, compiled once (clinic.compiled: the chart's panels
# through the ORM were most of its CPU; issue 11). Values: clinic, patient.
CHART_REPORT_PARTS = [
    (ReportRequest, "", ["id", "period_start", "period_end", "kind", "status", "error", "enrollment_id"]),
    (Enrollment, "enrollment__", ["id", "program_id"]),
    (Program, "enrollment__program__", ["id", "name"]),
]  # fmt: skip
CHART_REPORTS_OF_PATIENT = CompiledQuery(
    lambda clinic_id, patient_id: ReportRequest.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
    .order_by("-created_at", "-pk")
    .values_list(*paths_of(CHART_REPORT_PARTS))[:CHART_REPORTS],
    clinic_id=-1, patient_id=-2,
)  # fmt: skip


def reports_of_patient(*, membership: Membership, patient: Patient) -> list[ReportRequest]:
    """The latest reports of a patient whose chart the member sees (so whose reports they may see with
    `report.view`, as reports_visible_to says), newest first."""
    if not has_permission(membership, "report.view"):
        return []
    reports = []
    for row in CHART_REPORTS_OF_PATIENT.rows(clinic_id=membership.clinic_id, patient_id=patient.pk):
        report, enrollment, program = loaded_row(row, CHART_REPORT_PARTS)
        report.enrollment, enrollment.program = enrollment, program
        reports.append(report)
    return reports


def report_inbox(*, membership: Membership) -> QuerySet[ReportRequest]:
    """Ready reports the member may read, newest first: a physician's inbox holds their own patients' only."""
    return (
        reports_visible_to(membership)
        .filter(status=ReportRequest.Status.READY)
        .select_related("patient", "enrollment__program")
        .order_by("-finished_at", "-pk")
    )


def portal_report_inbox(*, memberships: list[Membership]) -> QuerySet[ReportRequest]:
    """Ready reports from each of the person's clinics, as each clinic's inbox would list them, newest first."""
    reports = ReportRequest.objects.none()
    for membership in memberships:
        reports = reports | reports_visible_to(membership)
    return (
        reports.filter(status=ReportRequest.Status.READY)
        .select_related("clinic", "patient", "enrollment__program")
        .order_by("-finished_at", "-pk")
    )
