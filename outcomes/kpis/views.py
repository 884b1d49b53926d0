"""The administrators' KPI dashboard, its exports (tables, a PDF snapshot) and the observation export's progress
and download."""

import io

from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic import audit
from clinic.models import AuditEntry
from clinic.tenancy import clinic_view
from outcomes.kpis import charts, exports, selectors, snapshot
from outcomes.kpis.dashboard import dashboard_get
from outcomes.kpis.definitions import CLINICAL, UTILIZATION
from outcomes.kpis.forms import KpiFilterForm


def filter_form(request) -> KpiFilterForm:
    choices = selectors.filter_choices(clinic=request.clinic)
    return KpiFilterForm(request.GET or None, today=timezone.localdate(), **choices)


def tile(kpi, filters):
    """A tile: the KPI, its chart (a data: URI), the chart in words, the chosen filters it cannot apply."""
    return kpi, charts.trend_data_uri(kpi), charts.trend_alt(kpi), kpi.unfiltered_by(filters)


@clinic_view("kpi.view")
def dashboard(request):
    form = filter_form(request)
    board = _board(request, form)
    tiles = [
        (title, [tile(kpi, board.filters) for kpi in board.by_group(group)])
        for title, group in (("Clinical outcomes", CLINICAL), ("Utilization", UTILIZATION))
    ]
    context = {
        "form": form, "board": board, "tiles": tiles, "query": form.query_string(),
        "exports": selectors.recent_exports(clinic=request.clinic),
        "filtered": any((board.filters.program_id, board.filters.physician_id, board.filters.staff_id)),
    }  # fmt: skip
    return render(request, "outcomes/dashboard.html", context)


def _board(request, form: KpiFilterForm):
    return dashboard_get(clinic=request.clinic, membership=request.membership, filters=form.filters())


@clinic_view("kpi.view")
def dashboard_table_csv(request):
    form = filter_form(request)
    return exports.table_download(request, board=_board(request, form), form=form, kind="CSV")


@clinic_view("kpi.view")
def dashboard_table_xlsx(request):
    form = filter_form(request)
    return exports.table_download(request, board=_board(request, form), form=form, kind="XLSX")


@clinic_view("kpi.view")
def dashboard_pdf(request):
    """The dashboard as a PDF, for the same filters as the page (GET parameters)."""
    form = filter_form(request)
    board = _board(request, form)
    pdf = snapshot.snapshot_pdf(board=board, chosen=form.chosen(), generated_by=request.user)
    exports.record_download(request, "the dashboard as PDF", form)
    response = FileResponse(io.BytesIO(pdf), content_type="application/pdf", as_attachment=True,
                            filename=snapshot.snapshot_filename(request.clinic, board.filters))  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@clinic_view("kpi.view")
def observation_export_create(request):
    form = filter_form(request)
    export = exports.export_request(clinic=request.clinic, actor=request.membership, filters=form.filters())
    if request.htmx:
        return render(request, "outcomes/_export.html", {"export": export})
    return redirect(f"{reverse('kpi_dashboard', args=[request.clinic.slug])}?{form.query_string()}#exports")


@clinic_view("kpi.view")
def observation_export_status(request, export_id):
    export = selectors.export_get(clinic=request.clinic, export_id=export_id)
    return render(request, "outcomes/_export.html", {"export": export})


@clinic_view("kpi.view")
def observation_export_download(request, export_id):
    export = selectors.export_get(clinic=request.clinic, export_id=export_id)
    if export.status != export.Status.READY or not export.file:
        raise Http404
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=export, request=request, event=AuditEntry.Event.EXPORT,
        detail=f"Downloaded the observation export of {export.filters.get('start')} to {export.filters.get('end')} "
               f"({export.rows_done} rows)",
    )  # fmt: skip
    response = FileResponse(export.file.open("rb"), content_type="text/csv", as_attachment=True,
                            filename=export.filename)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response
