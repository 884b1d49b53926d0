"""Reads for the dashboard's page: the filter choices and the observation exports of the clinic."""

from django.db import connection
from django.http import Http404

from clinic.compiled import CompiledQuery, columns_of
from clinic.models import Clinic
from outcomes.kpis.models import KpiExport
from referrals.selectors import programs_of_clinic, providers_of_clinic
from scheduling.selectors import schedule_staff

# The dashboard's reads besides its figures, compiled once (clinic.compiled; issue 11): small queries on every
# dashboard, where Django compiling each queryset cost more CPU than PostgreSQL answering it. Value: the clinic.
FILTER_PROGRAMS = CompiledQuery(
    lambda clinic: programs_of_clinic(clinic=clinic).order_by("name").values_list("pk", "name"), clinic=-1
)
FILTER_PHYSICIANS = CompiledQuery(
    lambda clinic: providers_of_clinic(clinic=clinic)
    .select_related(None)
    .order_by("last_name", "first_name", "id")
    .values_list("pk", "last_name", "first_name", "credentials"),
    clinic=-1,
)  # fmt: skip
FILTER_STAFF = CompiledQuery(
    lambda clinic: schedule_staff(clinic=clinic).values_list(
        "pk", "user__first_name", "user__last_name", "user__email"
    ),
    clinic=-1,
)
RECENT_EXPORTS = CompiledQuery(
    lambda clinic: KpiExport.objects.filter(clinic=clinic).order_by("-created_at")[:5], clinic=-1
)


def filter_choices(*, clinic: Clinic) -> dict:
    """Programs (id, name), referring physicians and staff for the filter form (three queries), read as values for
    their options' labels: a large clinic has a hundred physicians and staff, and a model instance each (a
    membership and its user for the staff) was about 2 ms of the dashboard's CPU."""
    return {
        "programs": FILTER_PROGRAMS.rows(clinic=clinic.pk),
        "physicians": FILTER_PHYSICIANS.rows(clinic=clinic.pk),
        "staff": FILTER_STAFF.rows(clinic=clinic.pk),
    }


def recent_exports(*, clinic: Clinic) -> list[KpiExport]:
    """The clinic's five latest observation exports."""
    columns, filters = columns_of(KpiExport), KpiExport._meta.get_field("filters")
    exports = [KpiExport.from_db("default", columns, row) for row in RECENT_EXPORTS.rows(clinic=clinic.pk)]
    for export in exports:
        # A raw row's JSON is text (Django decodes JSON in the field, not in psycopg): decoded as the ORM would.
        export.filters = filters.from_db_value(export.filters, None, connection)
    return exports


def export_get(*, clinic: Clinic, export_id: int) -> KpiExport:
    export = KpiExport.objects.filter(clinic=clinic, pk=export_id).first()
    if export is None:
        raise Http404
    return export
