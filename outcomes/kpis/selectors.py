"""Reads for the dashboard's page: the filter choices and the observation exports of the clinic."""

from django.http import Http404

from clinic.models import Clinic
from outcomes.kpis.models import KpiExport
from referrals.selectors import programs_of_clinic, providers_of_clinic
from scheduling.selectors import schedule_staff


def filter_choices(*, clinic: Clinic) -> dict:
    """Programs, referring physicians and staff for the filter form (three queries), the physicians and staff as
    values for their options' labels: a large clinic has a hundred of them, and a model instance each (a
    membership and its user for the staff) was about 2 ms of the dashboard's CPU."""
    physicians = providers_of_clinic(clinic=clinic).select_related(None)
    return {
        "programs": list(programs_of_clinic(clinic=clinic).order_by("name").only("pk", "name")),
        "physicians": list(
            physicians.order_by("last_name", "first_name", "id").values_list(
                "pk", "last_name", "first_name", "credentials"
            )
        ),
        "staff": list(
            schedule_staff(clinic=clinic).values_list("pk", "user__first_name", "user__last_name", "user__email")
        ),
    }


def recent_exports(*, clinic: Clinic, limit: int = 5) -> list[KpiExport]:
    return list(KpiExport.objects.filter(clinic=clinic).order_by("-created_at")[:limit])


def export_get(*, clinic: Clinic, export_id: int) -> KpiExport:
    export = KpiExport.objects.filter(clinic=clinic, pk=export_id).first()
    if export is None:
        raise Http404
    return export
