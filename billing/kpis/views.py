"""The financial KPIs page (administrators and billing staff) and its table exports (CSV, XLSX)."""

from django.shortcuts import render
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.kpis.board import board_get
from billing.kpis.forms import BillingKpiFilterForm
from clinic.tenancy import clinic_view
from outcomes.kpis import charts, exports
from referrals.selectors import programs_of_clinic


def filter_form(request) -> BillingKpiFilterForm:
    clinic = request.clinic
    return BillingKpiFilterForm(
        request.GET or None, today=timezone.localdate(),
        programs=list(programs_of_clinic(clinic=clinic).order_by("name").values_list("pk", "name")),
        payers=list(billing_selectors.payers_of(clinic=clinic)),
    )  # fmt: skip


@clinic_view("billing.kpi")
def kpi_page(request):
    form = filter_form(request)
    board = board_get(clinic=request.clinic, membership=request.membership, filters=form.filters())
    tiles = [(kpi, charts.trend_data_uri(kpi), charts.trend_alt(kpi)) for kpi in board.kpis]
    context = {
        "form": form, "board": board, "tiles": tiles, "query": form.query_string(),
        "filtered": any((board.filters.program_id, board.filters.payer_id)), "section": "kpis",
    }  # fmt: skip
    return render(request, "billing/kpis.html", context)


@clinic_view("billing.kpi")
def kpi_table_csv(request):
    form = filter_form(request)
    board = board_get(clinic=request.clinic, membership=request.membership, filters=form.filters())
    return exports.table_download(request, board=board, form=form, kind="CSV")


@clinic_view("billing.kpi")
def kpi_table_xlsx(request):
    form = filter_form(request)
    board = board_get(clinic=request.clinic, membership=request.membership, filters=form.filters())
    return exports.table_download(request, board=board, form=form, kind="XLSX")
