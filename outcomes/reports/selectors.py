"""Reads of progress reports: physicians see their own patients' reports only; billing none."""

from django.db.models import QuerySet
from django.http import Http404

from clinic.models import Membership, Patient
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


def reports_of_patient(*, membership: Membership, patient: Patient, limit: int = 10) -> list[ReportRequest]:
    """The patient's latest reports, newest first, for the chart."""
    return list(
        reports_visible_to(membership)
        .filter(patient=patient)
        .select_related("enrollment__program")
        .order_by("-created_at", "-pk")[:limit]
    )


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
