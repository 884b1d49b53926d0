"""Reads for the dashboard's page: the filter choices and the observation exports of the clinic."""

from django.http import Http404

from clinic.models import Clinic
from outcomes.kpis.models import KpiExport
from referrals.selectors import programs_of_clinic, providers_of_clinic
from scheduling.selectors import schedule_staff


def filter_choices(*, clinic: Clinic) -> dict:
    """Programs, referring physicians and staff for the filter form (three queries)."""
    return {
        "programs": list(programs_of_clinic(clinic=clinic).order_by("name")),
        "physicians": list(providers_of_clinic(clinic=clinic).order_by("last_name", "first_name", "id")),
        "staff": list(schedule_staff(clinic=clinic)),
    }


def recent_exports(*, clinic: Clinic, limit: int = 5) -> list[KpiExport]:
    return list(KpiExport.objects.filter(clinic=clinic).order_by("-created_at")[:limit])


def export_get(*, clinic: Clinic, export_id: int) -> KpiExport:
    export = KpiExport.objects.filter(clinic=clinic, pk=export_id).first()
    if export is None:
        raise Http404
    return export
