"""REST API of progress reports: /api/v1/clinics/<slug>/report-requests/ (create, list, read) and
.../report-requests/<id>/download/ (the PDF, once ready). Physicians see their own patients' reports only,
billing none; creating one is for physiologists and admins, as on the chart."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clinic import audit
from clinic import prescriptions as rx
from clinic.api import ClinicScopedViewSet, IdFilter, StrictCharField, StrictFilterSet, StrictIntegerField
from clinic.models import AuditEntry
from outcomes.reports import selectors, services
from outcomes.reports.models import ReportRequest


class ReportRequestSerializer(serializers.ModelSerializer):
    enrollment = StrictIntegerField(
        source="enrollment_id", min_value=1, max_value=2**63 - 1, help_text="The enrollment to report on."
    )
    comment = StrictCharField(required=False, allow_blank=True, max_length=2000,
                              help_text="The physiologist's comment, printed in the report.")  # fmt: skip
    ready = serializers.SerializerMethodField(help_text="True when the PDF can be downloaded.")

    class Meta:
        model = ReportRequest
        fields = ["id", "patient", "enrollment", "period_start", "period_end", "kind", "status", "ready",
                  "requested_by", "comment", "error", "attempts", "created_at", "started_at",
                  "finished_at"]  # fmt: skip
        read_only_fields = ["id", "patient", "kind", "status", "requested_by", "error", "attempts", "created_at",
                            "started_at", "finished_at"]  # fmt: skip

    @extend_schema_field(serializers.BooleanField())
    def get_ready(self, report) -> bool:
        return report.status == ReportRequest.Status.READY

    def validate_enrollment(self, value):
        if isinstance(value, bool):
            raise ValidationError("Give the enrollment's id as a number.")
        return value


class ReportRequestFilter(StrictFilterSet):
    """Filters by id without looking the id up, so another clinic's id tells nothing."""

    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    status = django_filters.ChoiceFilter(choices=ReportRequest.Status.choices)
    kind = django_filters.ChoiceFilter(choices=ReportRequest.Kind.choices)


class PdfRenderer(renderers.BaseRenderer):
    """Lets a client ask for application/pdf; the PDF itself is a FileResponse, which DRF does not render."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else renderers.JSONRenderer().render(data)


@extend_schema_view(
    list=extend_schema(summary="List progress report requests (filter by patient, enrollment, status, kind)"),
    retrieve=extend_schema(summary="Get one progress report request (poll it until ready)"),
    create=extend_schema(summary="Request a progress report of an enrollment over a period (rendered by a worker)"),
)
class ReportRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = ReportRequestSerializer
    filterset_class = ReportRequestFilter
    lookup_url_kwarg = "report_id"
    queryset = ReportRequest.objects.none()  # for the schema; requests use get_queryset
    permissions_by_action = {
        "list": "report.view",
        "retrieve": "report.view",
        "create": "report.request",
        "download": "report.view",
    }

    def get_queryset(self):
        return selectors.reports_visible_to(self.membership).order_by("-created_at", "-id")

    def get_object(self):
        return selectors.report_get(membership=self.membership, report_id=self.kwargs["report_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=ReportRequest, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API progress report list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        report = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=report, request=request, detail="API")
        return Response(self.get_serializer(report).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        enrollment = _visible_enrollment(self.membership, data["enrollment_id"])
        try:
            report = services.report_request_create(
                clinic=self.clinic, actor=self.membership, enrollment=enrollment, period_start=data["period_start"],
                period_end=data["period_end"], comment=data.get("comment", ""),
            )  # fmt: skip
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(self.get_serializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Download a ready progress report (PDF)",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF.")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def download(self, request, *args, **kwargs):
        report = selectors.ready_report_get(membership=self.membership, report_id=self.kwargs["report_id"])
        audit.record_access(
            clinic=self.clinic, actor=request.user, obj=report, request=request, event=AuditEntry.Event.EXPORT,
            detail=f"API download of {report} (PDF)",
        )  # fmt: skip
        response = FileResponse(report.file.open("rb"), content_type="application/pdf", as_attachment=True,
                                filename=f"progress-report-{report.pk}.pdf")  # fmt: skip
        response["Cache-Control"] = "no-store"
        return response


def _visible_enrollment(membership, enrollment_id):
    """The enrollment, if the member may see its patient; a 400 (not a 404: it is a field) otherwise."""
    from django.http import Http404

    try:
        return rx.enrollment_get_by_id(membership=membership, enrollment_id=enrollment_id)
    except Http404:
        raise ValidationError({"enrollment": ["No such enrollment."]}) from None
