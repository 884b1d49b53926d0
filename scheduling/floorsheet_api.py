"""REST API of the session log: read (role-shaped) and record a whole class at once (bulk, all or nothing).

Billing reads attendance, times, minutes and monitoring, never notes, symptoms or rhythm; physicians
read the sessions of their own patients only. Values are in SI units (kg), glucose in mg/dL.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic import audit
from clinic.api import (
    ClinicScopedViewSet,
    IdFilter,
    StrictChoiceField,
    StrictFilterSet,
    StrictIntegerField,
    StrictModelSerializer,
)
from clinic.permissions import has_permission
from scheduling import floorsheet
from scheduling.models import SessionLog

IDENTITY_FIELDS = ["id", "occurrence", "booking", "enrollment", "patient"]


def attendance_field():
    """Attendance as the answers give it: empty ("") until the floor sheet records it. A read-only model
    field would leave the blank out of the schema's enum."""
    return StrictChoiceField(
        choices=SessionLog.Attendance.choices, allow_blank=True, read_only=True,
        help_text="Empty until the floor sheet records it.",
    )  # fmt: skip


class SessionLogSerializer(StrictModelSerializer):
    """A session log as the clinical staff read it."""

    attendance = attendance_field()

    class Meta:
        model = SessionLog
        fields = [*IDENTITY_FIELDS, "session_number", *floorsheet.FIELDS, "version", "updated_by", "updated_at"]
        read_only_fields = fields


class SessionLogAttendanceSerializer(StrictModelSerializer):
    """A session log as billing reads it: attendance, times, minutes, monitoring; no clinical detail."""

    attendance = attendance_field()

    class Meta:
        model = SessionLog
        fields = [*IDENTITY_FIELDS, *floorsheet.ATTENDANCE_FIELDS, "updated_at"]
        read_only_fields = fields


class SessionLogSchema(OpenApiSerializerExtension):
    """In the schema, the clinical fields billing's answers leave out are not required."""

    target_class = SessionLogSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        always = set(SessionLogAttendanceSerializer.Meta.fields)
        schema["required"] = [name for name in schema.get("required", []) if name in always]
        return schema


class BulkRowSerializer(StrictModelSerializer):
    booking = StrictIntegerField(
        min_value=1, max_value=2**31 - 1, help_text="The booking of the patient in this class."
    )
    version = StrictIntegerField(
        min_value=0,
        max_value=2**31 - 1,
        default=0,
        help_text="The row's version as you read it (0 for a row never saved).",
    )

    class Meta:
        model = SessionLog
        fields = ["booking", "version", *floorsheet.FIELDS]
        extra_kwargs = {name: {"required": False} for name in floorsheet.FIELDS}

    def validate(self, attrs):
        return attrs  # ranges and rules are the service's


class BulkSerializer(serializers.Serializer):
    occurrence = StrictIntegerField(min_value=1, max_value=2**31 - 1, help_text="The class occurrence being recorded.")
    rows = BulkRowSerializer(many=True, allow_empty=False, max_length=200)


class SessionLogFilter(StrictFilterSet):
    """Filters by id, without looking the id up (a lookup would tell whether another clinic's id exists)."""

    occurrence = IdFilter(field_name="occurrence_id")
    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")


@extend_schema_view(
    list=extend_schema(summary="List session logs (floor-sheet rows)"),
    retrieve=extend_schema(
        summary="Get one session log",
        parameters=[OpenApiParameter("session_log_id", int, OpenApiParameter.PATH, description="The session log's id")],
    ),
)
class SessionLogViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = SessionLogSerializer
    filterset_class = SessionLogFilter
    lookup_url_kwarg = "session_log_id"
    lookup_value_regex = r"[0-9]+"
    queryset = SessionLog.objects.none()
    permissions_by_action = {"list": "session.view", "retrieve": "session.view", "bulk": "session.record"}

    def get_serializer_class(self):
        membership = getattr(self, "membership", None)
        if membership is not None and not has_permission(membership, "session.view_clinical"):
            return SessionLogAttendanceSerializer
        return SessionLogSerializer

    def get_queryset(self):
        return floorsheet.session_logs_visible_to(self.membership)

    def get_object(self):
        log = self.get_queryset().filter(pk=self.kwargs["session_log_id"]).first()
        if log is None:
            from django.http import Http404

            raise Http404
        return log

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=SessionLog, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API session log list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        log = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=log, request=request, detail="API")
        return Response(self.get_serializer(log).data)

    @extend_schema(
        request=BulkSerializer,
        responses=SessionLogSerializer(many=True),
        summary="Record a whole class: every row saved, or none",
        description=(
            "Each row carries the booking id, the version you read (0 for a new row) and the row's values; "
            "a field left out is cleared. Errors come back by row index under `errors.rows`, and nothing is "
            "saved when any row has one (out-of-range values, an open hold with exercise values, an edit conflict)."
        ),
    )
    # The class's rows, not a page of a filtered list: no pagination or list filters in its schema.
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def bulk(self, request, *args, **kwargs):
        body = BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        occurrence = floorsheet.occurrence_get(clinic=self.clinic, occurrence_id=body.validated_data["occurrence"])
        try:
            logs = floorsheet.session_logs_record_class(
                clinic=self.clinic, actor=self.membership, occurrence=occurrence, rows=body.validated_data["rows"]
            )
        except floorsheet.BulkErrors as failed:
            raise serializers.ValidationError({"rows": failed.errors}) from None
        except DjangoValidationError as error:
            raise serializers.ValidationError({"rows": error.messages}) from None
        return Response(SessionLogSerializer(logs, many=True).data)
