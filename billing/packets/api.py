"""REST API of documentation packets: /api/v1/clinics/<slug>/billing/packets/ (list, create, read),
.../<id>/download/ (the PDF, or the batch's ZIP) and .../<id>/csv/, once ready. Billing staff and
administrators only; every other role gets a 404."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing.packets import selectors, services
from billing.packets.models import PacketRequest
from billing.packets.views import packet_file_response
from clinic import audit
from clinic.api import ClinicScopedViewSet, IdFilter, StrictFilterSet, StrictIntegerField
from clinic.models import Enrollment


class PacketRequestSerializer(serializers.ModelSerializer):
    ready = serializers.SerializerMethodField(help_text="True when the files can be downloaded.")

    class Meta:
        model = PacketRequest
        fields = ["id", "kind", "program", "enrollment", "patient", "period_start", "period_end", "status", "ready",
                  "items_total", "items_done", "error", "attempts", "requested_by", "created_at", "started_at",
                  "finished_at"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_ready(self, packet) -> bool:
        return packet.status == PacketRequest.Status.READY


class PacketCreateSerializer(serializers.Serializer):
    enrollment = StrictIntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="One enrollment's packet (CR, ICR, PR, DPP, MDPP)."
    )
    program = StrictIntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Or: every packet of this program, as a ZIP."
    )
    period_start = serializers.DateField(input_formats=["iso-8601"], help_text="First date of service.")
    period_end = serializers.DateField(input_formats=["iso-8601"], help_text="Last date of service.")

    def validate(self, attrs):
        if ("enrollment" in attrs) == ("program" in attrs):
            raise ValidationError({"non_field_errors": ["Give either an enrollment or a program."]})
        return attrs


class PacketFilter(StrictFilterSet):
    """Filters by id without looking the id up, so another clinic's id tells nothing."""

    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    program = IdFilter(field_name="program_id")
    kind = django_filters.ChoiceFilter(choices=PacketRequest.Kind.choices)
    status = django_filters.ChoiceFilter(choices=PacketRequest.Status.choices)


class FileRenderer(renderers.BaseRenderer):
    """Lets a client ask for the file's type; the file itself is a FileResponse, which DRF does not render."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else renderers.JSONRenderer().render(data)


class PdfRenderer(FileRenderer):
    media_type, format = "application/pdf", "pdf"


class ZipRenderer(FileRenderer):
    media_type, format = "application/zip", "zip"


class CsvRenderer(FileRenderer):
    media_type, format = "text/csv", "csv"


@extend_schema_view(
    list=extend_schema(summary="List packet requests (filter by patient, enrollment, program, kind, status)"),
    retrieve=extend_schema(summary="Get one packet request (poll it until ready; items_done of items_total)"),
)
class PacketRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = PacketRequestSerializer
    filterset_class = PacketFilter
    lookup_url_kwarg = "packet_id"
    queryset = PacketRequest.objects.none()  # for the schema; requests use get_queryset
    permissions_by_action = {
        "list": "packet.request", "retrieve": "packet.request", "create": "packet.request",
        "download": "packet.request", "csv": "packet.request",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.packets_of(clinic=self.clinic)

    def get_object(self):
        return selectors.packet_get(clinic=self.clinic, packet_id=self.kwargs["packet_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=PacketRequest, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API packet request list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        packet = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=packet, request=request, detail="API")
        return Response(self.get_serializer(packet).data)

    @extend_schema(
        request=PacketCreateSerializer,
        responses={201: PacketRequestSerializer, 200: PacketRequestSerializer},
        summary="Request one enrollment's packet or a program's ZIP over a period (200: the same one is pending)",
    )
    def create(self, request, *args, **kwargs):
        body = PacketCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        target = {}
        if "enrollment" in data:
            enrollment = Enrollment.objects.filter(clinic=self.clinic, pk=data["enrollment"]).select_related("program")
            target["enrollment"] = _found(enrollment.first(), "enrollment")
        else:
            target["program"] = _found(selectors.packet_programs(clinic=self.clinic).filter(pk=data["program"]).first(),
                                       "program")  # fmt: skip
        try:
            packet, created = services.packet_request_create(
                clinic=self.clinic, actor=self.membership, period_start=data["period_start"],
                period_end=data["period_end"], **target,
            )  # fmt: skip
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict) from error
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(packet).data, status=code)

    @extend_schema(
        summary="Download a ready packet's PDF, or a batch's ZIP",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="One packet's PDF."),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A batch: one PDF each."),
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer, ZipRenderer])
    def download(self, request, *args, **kwargs):
        packet = selectors.ready_packet_get(clinic=self.clinic, packet_id=self.kwargs["packet_id"])
        return packet_file_response(request, self.clinic, packet, csv=False)

    @extend_schema(
        summary="Download a ready packet's (or batch's) CSV: one row per attended session",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV.")},
    )
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, CsvRenderer])
    def csv(self, request, *args, **kwargs):
        packet = selectors.ready_packet_get(clinic=self.clinic, packet_id=self.kwargs["packet_id"], csv=True)
        return packet_file_response(request, self.clinic, packet, csv=True)


def _found(obj, field: str):
    """The object named in the body, if it is this clinic's; a 400 (not a 404: it is a field) otherwise."""
    if obj is None:
        raise ValidationError({field: [f"No such {field}."]})
    return obj
