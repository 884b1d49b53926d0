"""REST API of an enrollment's progress: GET /api/v1/clinics/<clinic>/enrollments/<id>/progress/.

Read only, the same numbers as the Progress page (outcomes/progress.py). Physicians read their own
patients' only; billing gets a 404, as for an enrollment that does not exist.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import audit
from clinic import prescriptions as rx
from clinic.api import ClinicScoped
from outcomes.progress import enrollment_progress


class PeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD); default: enrollment start.")
    period_end = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD); default: today or discharge.")

    def validate(self, data):
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": "The period must end on or after its first day."})
        return data


class MeasureChangeSerializer(serializers.Serializer):
    code = serializers.CharField(source="measure.code")
    code_system = serializers.CharField(source="measure.code_system")
    name = serializers.CharField(source="measure.name")
    unit = serializers.CharField(source="measure.unit", help_text="UCUM unit of every value.")
    direction = serializers.CharField(source="measure.direction", help_text="higher, lower or context.")
    mcid = serializers.DecimalField(source="measure.mcid", max_digits=9, decimal_places=3, allow_null=True)
    mcid_kind = serializers.CharField(source="measure.mcid_kind", help_text="absolute (in the unit) or percent.")
    mcid_source = serializers.CharField(source="measure.mcid_source")
    baseline = serializers.DecimalField(max_digits=9, decimal_places=3, allow_null=True)
    baseline_at = serializers.DateTimeField(allow_null=True)
    latest = serializers.DecimalField(max_digits=9, decimal_places=3, allow_null=True)
    latest_at = serializers.DateTimeField(allow_null=True)
    change = serializers.DecimalField(max_digits=9, decimal_places=3, allow_null=True)
    percent_change = serializers.DecimalField(max_digits=9, decimal_places=1, allow_null=True)
    classification = serializers.ChoiceField(
        choices=["improved", "no_change", "declined", ""],
        help_text='By the MCID and direction; "" when the measure has no MCID or no better direction.',
    )
    baseline_band = serializers.CharField(help_text="Norm or risk band at baseline; empty if none.")
    latest_band = serializers.CharField()
    risk_resolved = serializers.BooleanField(help_text="In a risk band at baseline and not any more.")


class AttendanceSerializer(serializers.Serializer):
    attended = serializers.IntegerField()
    booked = serializers.IntegerField(help_text="Sessions booked and due, less cancellations in time.")
    percent = serializers.IntegerField(allow_null=True)
    sessions_remaining = serializers.IntegerField(allow_null=True)
    last_session_on = serializers.DateField(allow_null=True)


class SafetyEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    severity = serializers.CharField()
    message = serializers.CharField()
    status = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField(source="enrollment.pk")
    patient = serializers.IntegerField(source="enrollment.patient_id")
    program = serializers.IntegerField(source="enrollment.program_id")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    headline = serializers.CharField(
        source="headline.measure.code", allow_null=True, default=None,
        help_text="Code of the program's headline measure (6MWD in CR/PR, weight in DPP, TUG in falls prevention).",
    )  # fmt: skip
    measures = MeasureChangeSerializer(many=True)
    attendance = AttendanceSerializer()
    safety_events = SafetyEventSerializer(many=True)
    prescription_version = serializers.IntegerField(source="prescription.version", allow_null=True, default=None)


class EnrollmentProgressView(ClinicScoped, APIView):
    permissions_by_action = {"get": "progress.view"}

    @extend_schema(
        summary="Progress of an enrollment: change from baseline per measure, attendance, safety events",
        parameters=[
            OpenApiParameter("enrollment_id", int, OpenApiParameter.PATH, description="The enrollment's id"),
            PeriodSerializer,
        ],
        responses=ProgressSerializer,
    )
    def get(self, request, clinic_slug, enrollment_id):
        enrollment = rx.enrollment_get_by_id(membership=self.membership, enrollment_id=enrollment_id)
        period = PeriodSerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        progress = enrollment_progress(clinic=self.clinic, enrollment=enrollment, **period.validated_data)
        audit.record_access(
            clinic=self.clinic, actor=request.user, obj=enrollment, request=request, detail="API progress"
        )
        return Response(ProgressSerializer(progress).data)
