"""The financial KPIs in the API: the billing KPIs page's numbers and tables with the same filters."""

from django import forms
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.kpis.board import board_get
from billing.kpis.queries import BillingKpiFilters
from clinic.api import ClinicScoped
from outcomes.kpis.api import KpiQuery, query_valid


class BillingKpiQuery(KpiQuery):
    """The KPI API's strict parameters (ISO dates, whole-number ids, nothing unknown or empty), with a payer."""

    physician = None
    staff = None
    payer = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    parameters = ("start", "end", "program", "payer")


MONEY = {"max_digits": 14, "decimal_places": 2}
# Money has cents: outcomes' monthly values have one decimal place.
MONTH = inline_serializer(
    "BillingKpiMonth",
    {
        "month": serializers.CharField(help_text="YYYY-MM"),
        "value": serializers.DecimalField(**MONEY, allow_null=True),
    },
    many=True,
)
KPI = inline_serializer(
    "BillingKpiValue",
    {
        "key": serializers.CharField(),
        "label": serializers.CharField(),
        "unit": serializers.CharField(help_text="$, days, or empty for a count"),
        "definition": serializers.CharField(),
        "value": serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True),
        "counted_over": serializers.IntegerField(help_text="lines counted"),
        "monthly": MONTH,
    },
    many=True,
)
AMOUNTS = {
    "sessions_billed": serializers.IntegerField(),
    "ready_or_exported_lines": serializers.IntegerField(),
    "expected_amount": serializers.DecimalField(**MONEY),
    "blocked_lines": serializers.IntegerField(),
    "blocked_amount": serializers.DecimalField(**MONEY),
}
RESULT = inline_serializer(
    "BillingKpiResult",
    {
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "kpis": KPI,
        "by_payer": inline_serializer(
            "BillingKpiByPayer", {"payer": serializers.CharField(help_text="empty: no coverage"), **AMOUNTS}, many=True
        ),
        "by_program": inline_serializer(
            "BillingKpiByProgram", {"program": serializers.CharField(), **AMOUNTS}, many=True
        ),
        "blocked_by_reason": inline_serializer(
            "BillingKpiByReason",
            {
                "code": serializers.CharField(),
                "reason": serializers.CharField(),
                "lines": serializers.IntegerField(),
                "amount": serializers.DecimalField(**MONEY),
                "lines_without_fee": serializers.IntegerField(),
            },
            many=True,
        ),
    },
)
AMOUNT_KEYS = list(AMOUNTS)


def _text(value) -> str | None:
    return None if value is None else str(value)


class BillingKpiView(ClinicScoped, APIView):
    permissions_by_action = {"get": "billing.kpi"}

    @extend_schema(
        summary="Financial KPIs for a period, with monthly series and the tables by payer, program and reason",
        description="Aggregates of the clinic's claim lines (no patient is named). Every KPI's definition comes "
        "with its value. A line blocked for several reasons counts under each in blocked_by_reason.",
        parameters=[
            OpenApiParameter(
                "start",
                str,
                required=False,
                description="First day (YYYY-MM-DD); default: the first of the month eleven months ago",
            ),
            OpenApiParameter("end", str, required=False, description="Last day (YYYY-MM-DD), inclusive; default today"),
            OpenApiParameter("program", int, required=False, description="A program's id"),
            OpenApiParameter("payer", int, required=False, description="A payer's id (the line's payer)"),
        ],  # fmt: skip
        responses=RESULT,
    )
    def get(self, request, *args, **kwargs):
        data = query_valid(BillingKpiQuery(request.query_params))
        filters = BillingKpiFilters(
            start=data["start"], end=data["end"], program_id=data.get("program"), payer_id=data.get("payer")
        )
        board = board_get(clinic=self.clinic, membership=self.membership, filters=filters)
        kpis = [
            {
                "key": kpi.key, "label": kpi.definition.label, "unit": kpi.definition.unit,
                "definition": kpi.definition.definition, "value": _text(kpi.total), "counted_over": kpi.value.count,
                "monthly": [{"month": f"{month:%Y-%m}", "value": _text(value)} for month, value in kpi.series],
            }
            for kpi in board.kpis
        ]  # fmt: skip

        def amounts(row) -> dict:
            pairs = zip(AMOUNT_KEYS, row, strict=True)
            return {key: _text(value) if "amount" in key else value for key, value in pairs}

        return Response(
            {
                "start": filters.start, "end": filters.end, "kpis": kpis,
                "by_payer": [{"payer": name if name != "No coverage" else "", **amounts(rest)}
                             for name, *rest in board.table("by-payer").rows],
                "by_program": [{"program": name, **amounts(rest)} for name, *rest in board.table("by-program").rows],
                "blocked_by_reason": [
                    {"code": code, "reason": reason, "lines": count, "amount": _text(value),
                     "lines_without_fee": no_fee}
                    for code, reason, count, value, no_fee in board.table("blocked-by-reason").rows
                ],
            }
        )  # fmt: skip
