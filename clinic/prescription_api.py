"""REST API of exercise prescriptions: /api/v1/clinics/<clinic>/enrollments/<id>/prescriptions/.

Creating one writes a new version that supersedes the current one (clinic/prescriptions.py).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clinic import audit
from clinic import prescriptions as rx
from clinic.api import ClinicScopedViewSet, StrictIntegerField, StrictModelSerializer
from clinic.models import ExercisePrescription, PrescriptionComponent


class PrescriptionComponentSerializer(StrictModelSerializer):
    target_hr_capped = serializers.SerializerMethodField(
        help_text="True when the enrollment's heart-rate ceiling lowered the computed target range."
    )

    class Meta:
        model = PrescriptionComponent
        fields = ["kind", *rx.COMPONENT_FIELDS, "target_hr_low", "target_hr_high", "target_hr_capped"]
        read_only_fields = ["target_hr_low", "target_hr_high"]
        extra_kwargs = {"intensity_method": {"required": False}}
        validators = []  # one component of a kind per version is the service's rule

    @extend_schema_field(serializers.BooleanField())
    def get_target_hr_capped(self, component) -> bool:
        enrollment = self.context.get("enrollment")
        if enrollment is None or component.pk is None:
            return False
        target = rx.component_target(component, component.prescription, enrollment)
        return bool(target and target.capped)


class PrescriptionSerializer(StrictModelSerializer):
    components = PrescriptionComponentSerializer(many=True)
    based_on_version = StrictIntegerField(
        write_only=True, required=False, min_value=0,
        help_text="The version this one was written from (0 when there was none). When another version was "
        "saved meanwhile, nothing is saved and the answer is a 400 that says so. Leave out to skip the check.",
    )  # fmt: skip
    hr_max = serializers.SerializerMethodField(help_text="HRmax used: measured, or estimated at the age on that day.")
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = ExercisePrescription
        fields = ["id", "version", "is_current", *rx.PRESCRIPTION_FIELDS, "hr_max", "components", "based_on_version",
                  "created_by", "created_at", "superseded_at"]  # fmt: skip
        read_only_fields = ["id", "version", "created_by", "created_at", "superseded_at"]
        validators = []

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_hr_max(self, prescription) -> int | None:
        enrollment = self.context.get("enrollment")
        return rx.prescription_hr_max(prescription, enrollment) if enrollment is not None else None

    @extend_schema_field(serializers.BooleanField())
    def get_is_current(self, prescription) -> bool:
        return prescription.superseded_at is None

    def validate_components(self, components):
        kinds = [component["kind"] for component in components]
        if len(kinds) != len(set(kinds)):
            raise ValidationError("Give each kind of component at most once.")
        return components


ENROLLMENT = OpenApiParameter("enrollment_id", int, OpenApiParameter.PATH, description="The enrollment's id")
VERSION = OpenApiParameter("version", int, OpenApiParameter.PATH, description="The prescription's version number")


@extend_schema_view(
    list=extend_schema(summary="List an enrollment's prescription versions, newest first", parameters=[ENROLLMENT]),
    retrieve=extend_schema(summary="Get one version of a prescription", parameters=[ENROLLMENT, VERSION]),
    create=extend_schema(
        summary="Save a new version of the prescription (supersedes the current one)", parameters=[ENROLLMENT]
    ),
)
class PrescriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = PrescriptionSerializer
    queryset = ExercisePrescription.objects.none()
    lookup_field = "version"
    lookup_value_regex = "[0-9]+"
    permissions_by_action = {
        "list": "prescription.view",
        "retrieve": "prescription.view",
        "create": "prescription.edit",
    }

    def get_enrollment(self):
        if not hasattr(self, "_enrollment"):
            self._enrollment = rx.enrollment_get_by_id(
                membership=self.membership, enrollment_id=self.kwargs["enrollment_id"]
            )
        return self._enrollment

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "membership", None) is not None:
            context["enrollment"] = self.get_enrollment()
        return context

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drawing the schema: no request, no enrollment
            return self.queryset
        return rx.prescriptions_of(enrollment=self.get_enrollment())

    def get_object(self):
        return rx.prescription_get(enrollment=self.get_enrollment(), version=self.kwargs["version"])

    def list(self, request, *args, **kwargs):
        enrollment = self.get_enrollment()
        response = super().list(request, *args, **kwargs)
        audit.record_access(
            clinic=self.clinic, actor=request.user, obj=enrollment, request=request,
            detail=f"API prescription versions {[row['version'] for row in response.data['results']]}",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        prescription = self.get_object()
        audit.record_access(
            clinic=self.clinic, actor=request.user, obj=prescription, request=request,
            detail=f"API prescription v{prescription.version}",
        )  # fmt: skip
        return Response(self.get_serializer(prescription).data)

    def create(self, request, *args, **kwargs):
        enrollment = self.get_enrollment()  # first: an enrollment not visible here is a 404 whatever the body
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        components = {c["kind"]: {name: c.get(name) for name in rx.COMPONENT_FIELDS} for c in data["components"]}
        try:
            prescription = rx.prescription_save(
                clinic=self.clinic, actor=self.membership, enrollment=enrollment,
                data={name: data.get(name) for name in rx.PRESCRIPTION_FIELDS}, components=components,
                based_on_version=data.get("based_on_version"),
            )  # fmt: skip
        except DjangoValidationError as error:
            if hasattr(error, "error_dict"):
                errors = {("non_field_errors" if key == "__all__" else key): value
                          for key, value in error.message_dict.items()}  # fmt: skip
            else:
                errors = {"non_field_errors": error.messages}
            raise ValidationError(errors) from error
        prescription = rx.prescription_get(enrollment=enrollment, version=prescription.version)
        return Response(self.get_serializer(prescription).data, status=status.HTTP_201_CREATED)
