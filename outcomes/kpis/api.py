"""The KPI values in the API: the dashboard's numbers with the same filters (administrators only)."""

from django import forms
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api import ClinicScoped
from outcomes.kpis.dashboard import dashboard_get, default_filters
from outcomes.kpis.forms import MAX_DAYS
from outcomes.kpis.queries import KpiFilters

PARAMETERS = ("start", "end", "program", "physician", "staff")


class KpiQuery(forms.Form):
    """The query parameters, strictly: ISO dates, whole-number ids; an empty or unknown parameter is a 400."""

    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    program = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    physician = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    staff = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    parameters = PARAMETERS  # a subclass with other fields names them here (billing/kpis/api.py)

    def clean(self):
        data = super().clean()
        for name in set(self.data) - set(self.parameters):
            self.add_error(None, f"Unknown parameter {name!r}: use {', '.join(self.parameters)}.")
        for name in self.parameters:
            if self.data.get(name) == "":
                self.add_error(name, "Give a value, or leave the parameter out.")
        defaults = default_filters(timezone.localdate())
        data["start"] = data.get("start") or defaults.start
        data["end"] = data.get("end") or defaults.end
        if data["end"] < data["start"]:
            self.add_error("end", "The end date is before the start date.")
        elif (data["end"] - data["start"]).days > MAX_DAYS:
            self.add_error("end", "Choose a period of at most five years.")
        return data


def query_valid(query: KpiQuery) -> dict:
    """The cleaned parameters, or a 400 with the errors as DRF names them."""
    if not query.is_valid():
        errors = dict(query.errors)
        if "__all__" in errors:  # named as DRF names errors that belong to no one field
            errors["non_field_errors"] = errors.pop("__all__")
        raise serializers.ValidationError(errors)
    return query.cleaned_data


MONTH = inline_serializer("KpiMonth", {"month": serializers.CharField(help_text="YYYY-MM"),
                                       "value": serializers.DecimalField(max_digits=12, decimal_places=1,
                                                                         allow_null=True)}, many=True)  # fmt: skip
KPI = inline_serializer(
    "KpiValue",
    {
        "key": serializers.CharField(),
        "label": serializers.CharField(),
        "group": serializers.ChoiceField(choices=["clinical", "utilization"]),
        "unit": serializers.CharField(help_text="%, mmHg, days, or empty for a count"),
        "definition": serializers.CharField(),
        "value": serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True),
        "counted_over": serializers.IntegerField(help_text="enrollments, places or referrals counted"),
        "filters_not_applied": serializers.ListField(child=serializers.CharField()),
        "monthly": MONTH,
    },
    many=True,
)
RESULT = inline_serializer(
    "KpiResult",
    {
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "as_of": serializers.DateTimeField(
            allow_null=True,
            help_text="When past classes and outcomes were last added up (large clinics); null: computed now",
        ),
        "kpis": KPI,
    },
)


class KpiView(ClinicScoped, APIView):
    permissions_by_action = {"get": "kpi.view"}

    @extend_schema(
        summary="KPI values for a period, with monthly series",
        description="The administrators' dashboard in numbers. Every KPI's definition comes with its value.",
        parameters=[
            OpenApiParameter(
                "start",
                str,
                description="First day (YYYY-MM-DD); default: the first day of the month eleven months ago",
                required=False,
            ),
            OpenApiParameter(
                "end", str, description="Last day (YYYY-MM-DD), inclusive; default: today", required=False
            ),
            OpenApiParameter("program", int, description="A program's id", required=False),
            OpenApiParameter("physician", int, description="A referring provider's id", required=False),
            OpenApiParameter(
                "staff",
                int,
                description="A staff member's (membership) id: the class's staff or whoever recorded the session",
                required=False,
            ),
        ],  # fmt: skip
        responses=RESULT,
    )
    def get(self, request, *args, **kwargs):
        data = query_valid(KpiQuery(request.query_params))
        filters = KpiFilters(
            start=data["start"], end=data["end"], program_id=data.get("program"),
            physician_id=data.get("physician"), staff_id=data.get("staff"),
        )  # fmt: skip
        board = dashboard_get(clinic=self.clinic, membership=self.membership, filters=filters)
        return Response(
            {
                "start": filters.start,
                "end": filters.end,
                "as_of": board.rollup.refreshed_at if board.rollup else None,
                "kpis": [
                    {
                        "key": kpi.key,
                        "label": kpi.definition.label,
                        "group": kpi.definition.group,
                        "unit": kpi.definition.unit,
                        "definition": kpi.definition.definition,
                        "value": None if kpi.total is None else str(kpi.total),
                        "counted_over": kpi.value.count,
                        "filters_not_applied": kpi.unfiltered_by(filters),
                        "monthly": [
                            {"month": f"{month:%Y-%m}", "value": None if value is None else str(value)}
                            for month, value in kpi.series
                        ],
                    }  # fmt: skip
                    for kpi in board.kpis
                ],
            }
        )
