"""REST API of billing under /api/v1/clinics/<slug>/billing/: claim lines (read-only: they are derived),
claim batches (export ready lines, void with a reason), payers, coverage, fee schedules and the CDC DPRP
evaluation exports (request, progress and validation report, accept, download). Billing staff
and administrators only; every other role gets a 404."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing import dprp, selectors, services
from billing.models import ClaimBatch, ClaimLine, Coverage, DprpExport, FeeScheduleEntry, Payer
from clinic import audit
from clinic.api import (
    ClinicScopedViewSet,
    IdFilter,
    IsoDateFilter,
    StrictCharField,
    StrictFilterSet,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
)
from clinic.models import Patient, ProgramType


def _refused(error: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as the API's 400 (field messages kept, others under non_field_errors)."""
    if hasattr(error, "error_dict"):
        return ValidationError(
            {field: [m for e in errors for m in e.messages] for field, errors in error.error_dict.items()}
        )
    return ValidationError({"non_field_errors": error.messages})


class BlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ClaimLineSerializer(serializers.ModelSerializer):
    session = serializers.IntegerField(source="session_log_id", allow_null=True, read_only=True)
    blockers = BlockerSerializer(many=True, read_only=True)

    class Meta:
        model = ClaimLine
        fields = ["id", "patient", "enrollment", "session", "program_type", "date_of_service", "code", "units",
                  "modifiers", "diagnosis_codes", "rendering_provider", "supervising_provider", "payer",
                  "expected_amount", "note", "status", "blockers", "batch"]  # fmt: skip
        read_only_fields = fields


class ClaimLineFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    program_type = django_filters.ChoiceFilter(choices=ProgramType.choices)
    status = django_filters.ChoiceFilter(choices=ClaimLine.Status.choices)
    date_from = IsoDateFilter(field_name="date_of_service", lookup_expr="gte")
    date_to = IsoDateFilter(field_name="date_of_service", lookup_expr="lte")


class ClinicContextMixin:
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "clinic": getattr(self, "clinic", None)}


class ListAuditMixin:
    audit_model = None
    audit_detail = ""

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=self.audit_model, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail=self.audit_detail,
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=obj, request=request, detail="API")
        return Response(self.get_serializer(obj).data)


@extend_schema_view(
    list=extend_schema(summary="List claim lines with their status and every blocker"),
    retrieve=extend_schema(summary="Get one claim line"),
)
class ClaimLineViewSet(ListAuditMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = ClaimLineSerializer
    filterset_class = ClaimLineFilter
    lookup_url_kwarg = "line_id"
    queryset = ClaimLine.objects.none()
    permissions_by_action = {"list": "billing.view", "retrieve": "billing.view"}
    audit_model, audit_detail = ClaimLine, "API claim line list"

    def get_queryset(self):
        return selectors.claim_lines(clinic=self.clinic).order_by("date_of_service", "id")

    def get_object(self):
        return selectors.claim_line_get(clinic=self.clinic, line_id=self.kwargs["line_id"])


class ClaimBatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClaimBatch
        fields = ["id", "status", "created_by", "created_at", "line_count", "line_ids", "total_expected",
                  "void_reason", "voided_by", "voided_at"]  # fmt: skip
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    lines = serializers.ListField(child=StrictIntegerField(min_value=1), min_length=1, max_length=5000)


class VoidSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500)


@extend_schema_view(
    list=extend_schema(summary="List claim batches"),
    retrieve=extend_schema(summary="Get one claim batch"),
)
class ClaimBatchViewSet(ListAuditMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = ClaimBatchSerializer
    lookup_url_kwarg = "batch_id"
    queryset = ClaimBatch.objects.none()
    permissions_by_action = {
        "list": "billing.view", "retrieve": "billing.view", "create": "billing.manage", "void": "billing.manage",
    }  # fmt: skip
    audit_model, audit_detail = ClaimBatch, "API claim batch list"

    def get_queryset(self):
        return selectors.batches_of(clinic=self.clinic)

    def get_object(self):
        return selectors.batch_get(clinic=self.clinic, batch_id=self.kwargs["batch_id"])

    @extend_schema(
        request=BatchCreateSerializer, responses={201: ClaimBatchSerializer},
        summary="Export ready lines as a batch (refused, nothing exported, if any line is not ready)",
    )  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = BatchCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            batch = services.batch_export(
                clinic=self.clinic, actor=self.membership, line_ids=body.validated_data["lines"]
            )
        except DjangoValidationError as error:
            raise _refused(error) from error
        return Response(self.get_serializer(batch).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VoidSerializer, responses=ClaimBatchSerializer, summary="Void a batch, with a reason")
    @action(detail=True, methods=["post"])
    def void(self, request, *args, **kwargs):
        batch = self.get_object()
        body = VoidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            batch = services.batch_void(
                clinic=self.clinic, actor=self.membership, batch=batch, reason=body.validated_data["reason"]
            )
        except DjangoValidationError as error:
            raise _refused(error) from error
        return Response(self.get_serializer(batch).data)


class CrudViewSet(
    ClinicContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, ClinicScopedViewSet,
):  # fmt: skip
    """List, read, create and change through one service; bad input is a 400 and saves nothing."""

    def save_with(self, serializer, **kwargs):
        try:
            return self.save_service(data=serializer.validated_data, **kwargs)
        except DjangoValidationError as error:
            raise _refused(error) from error

    def perform_create(self, serializer):
        serializer.instance = self.save_with(serializer)

    def perform_update(self, serializer):
        serializer.instance = self.save_with(serializer, instance=serializer.instance)


class PayerSerializer(StrictModelSerializer):
    class Meta:
        model = Payer
        fields = ["id", *services.PAYER_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []


@extend_schema_view(
    list=extend_schema(summary="List payers"), retrieve=extend_schema(summary="Get one payer"),
    create=extend_schema(summary="Add a payer"), update=extend_schema(summary="Replace a payer"),
    partial_update=extend_schema(summary="Change some of a payer"),
)  # fmt: skip
class PayerViewSet(CrudViewSet):
    serializer_class = PayerSerializer
    lookup_url_kwarg = "payer_id"
    queryset = Payer.objects.none()
    permissions_by_action = {
        "list": "billing.view", "retrieve": "billing.view", "create": "billing.manage", "update": "billing.manage",
        "partial_update": "billing.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.payers_of(clinic=self.clinic)

    def get_object(self):
        return selectors.payer_get(clinic=self.clinic, payer_id=self.kwargs["payer_id"])

    def save_service(self, *, data, instance=None):
        return services.payer_save(clinic=self.clinic, actor=self.membership, data=data, payer=instance)


class CoverageSerializer(StrictModelSerializer):
    payer = StrictPrimaryKeyRelatedField(queryset=Payer.objects.none())
    patient = StrictPrimaryKeyRelatedField(queryset=Patient.objects.none())

    class Meta:
        model = Coverage
        fields = ["id", "patient", *services.COVERAGE_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["payer"].queryset = Payer.objects.filter(clinic=clinic)
            self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic)

    def validate_patient(self, patient):
        if isinstance(self.instance, Coverage) and patient != self.instance.patient:
            raise serializers.ValidationError("A coverage's patient cannot change.")
        return patient


class CoverageFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")


@extend_schema_view(
    list=extend_schema(summary="List patients' coverage"), retrieve=extend_schema(summary="Get one coverage"),
    create=extend_schema(summary="Add a patient's coverage (MBI checked for Medicare)"),
    update=extend_schema(summary="Replace a coverage"),
    partial_update=extend_schema(summary="Change some of a coverage"),
)  # fmt: skip
class CoverageViewSet(ListAuditMixin, CrudViewSet):
    serializer_class = CoverageSerializer
    filterset_class = CoverageFilter
    lookup_url_kwarg = "coverage_id"
    queryset = Coverage.objects.none()
    permissions_by_action = {
        "list": "billing.view", "retrieve": "billing.view", "create": "coverage.manage",
        "update": "coverage.manage", "partial_update": "coverage.manage",
    }  # fmt: skip
    audit_model, audit_detail = Coverage, "API coverage list"

    def get_queryset(self):
        return selectors.coverages_of_clinic(clinic=self.clinic)

    def get_object(self):
        return selectors.coverage_get(clinic=self.clinic, coverage_id=self.kwargs["coverage_id"])

    def save_service(self, *, data, instance=None):
        patient = instance.patient if instance else data["patient"]
        return services.coverage_save(
            clinic=self.clinic, actor=self.membership, patient=patient, data=data, coverage=instance
        )


class FeeSerializer(StrictModelSerializer):
    payer = StrictPrimaryKeyRelatedField(queryset=Payer.objects.none(), allow_null=True, required=False)

    class Meta:
        model = FeeScheduleEntry
        fields = ["id", *services.FEE_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["payer"].queryset = Payer.objects.filter(clinic=clinic)


@extend_schema_view(
    list=extend_schema(summary="List fee schedule entries"), retrieve=extend_schema(summary="Get one fee"),
    create=extend_schema(summary="Add a fee (overlapping dates for the same payer and code are refused)"),
    update=extend_schema(summary="Replace a fee"), partial_update=extend_schema(summary="Change some of a fee"),
)  # fmt: skip
class FeeViewSet(CrudViewSet):
    serializer_class = FeeSerializer
    lookup_url_kwarg = "fee_id"
    queryset = FeeScheduleEntry.objects.none()
    permissions_by_action = {
        "list": "billing.view", "retrieve": "billing.view", "create": "billing.manage", "update": "billing.manage",
        "partial_update": "billing.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.fees_of(clinic=self.clinic)

    def get_object(self):
        return selectors.fee_get(clinic=self.clinic, fee_id=self.kwargs["fee_id"])

    def save_service(self, *, data, instance=None):
        return services.fee_save(clinic=self.clinic, actor=self.membership, data=data, fee=instance)


# --- CDC DPRP evaluation export ----------------------------------------------------------------------------------


class CsvRenderer(renderers.BaseRenderer):
    """Lets a client ask for text/csv; the file itself is a FileResponse, which DRF does not render."""

    media_type = "text/csv"
    format = "csv"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else renderers.JSONRenderer().render(data)


class DprpIssueSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The data row (1 = the first after the header).")
    column = serializers.CharField()
    value = serializers.CharField()
    message = serializers.CharField()
    participant = serializers.CharField()
    date = serializers.CharField()
    session_log = serializers.IntegerField()
    occurrence = serializers.IntegerField()
    patient = serializers.IntegerField()


class DprpExportSerializer(serializers.ModelSerializer):
    issues = DprpIssueSerializer(many=True, read_only=True)
    percent = serializers.IntegerField(read_only=True)
    downloadable = serializers.BooleanField(read_only=True)

    class Meta:
        model = DprpExport
        fields = ["id", "program", "org_code", "period_start", "period_end", "status", "percent", "columns",
                  "rows_total", "rows_done", "issue_count", "issues", "requested_by", "created_at", "finished_at",
                  "accepted_by", "accepted_at", "downloadable"]  # fmt: skip
        read_only_fields = fields


class DprpExportCreateSerializer(serializers.Serializer):
    program = StrictIntegerField(min_value=1, max_value=2**31 - 1, help_text="A CDC DPP or Medicare DPP program.")
    org_code = StrictCharField(max_length=25, help_text="The organization code the DPRP assigned.")
    period_start = serializers.DateField()
    period_end = serializers.DateField()


@extend_schema_view(
    list=extend_schema(summary="List CDC DPRP evaluation exports"),
    retrieve=extend_schema(summary="Get one DPRP export with its progress and validation report"),
)
class DprpExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = DprpExportSerializer
    lookup_url_kwarg = "dprp_export_id"
    queryset = DprpExport.objects.none()
    permissions_by_action = {
        "list": "dprp.export", "retrieve": "dprp.export", "create": "dprp.export", "accept": "dprp.export",
        "download": "dprp.export",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.dprp_exports_of(clinic=self.clinic)

    def get_object(self):
        return selectors.dprp_export_get(clinic=self.clinic, export_id=self.kwargs["dprp_export_id"])

    @extend_schema(
        request=DprpExportCreateSerializer, responses={201: DprpExportSerializer},
        summary="Request a DPRP file: written by a worker; poll the export for its progress and validation report",
    )  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = DprpExportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        program = selectors.dprp_programs(clinic=self.clinic).filter(pk=data.pop("program")).first()
        if program is None:
            raise ValidationError({"program": ["Choose a CDC DPP or Medicare DPP program of this clinic."]})
        try:
            export = dprp.dprp_export_request(clinic=self.clinic, actor=self.membership, program=program, **data)
        except DjangoValidationError as error:
            raise _refused(error) from error
        return Response(self.get_serializer(export).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None, responses=DprpExportSerializer,
        summary="Accept the validation report as it is (the file keeps its 999s and blanks); records who accepted",
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        export = self.get_object()
        try:
            export = dprp.dprp_export_accept(clinic=self.clinic, actor=self.membership, export=export, request=request)
        except DjangoValidationError as error:
            raise _refused(error) from error
        return Response(self.get_serializer(export).data)

    @extend_schema(
        summary="Download the DPRP file (CSV) once its validation report is empty or accepted",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file.")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, CsvRenderer])
    def download(self, request, *args, **kwargs):
        return dprp.dprp_export_download(clinic=self.clinic, export=self.get_object(), request=request)
