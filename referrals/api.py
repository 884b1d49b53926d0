"""REST API of referrals, referring providers and programs, and the FHIR referral intake."""

import django_filters
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import audit
from clinic.api import (
    AutoSchema,
    ClinicScoped,
    ClinicScopedViewSet,
    IdFilter,
    StrictCharField,
    StrictChoiceField,
    StrictFilterSet,
    StrictModelSerializer,
)
from clinic.models import Program
from clinic.parsers import JSONParser
from clinic.permissions import has_permission
from referrals import fhir, selectors, services
from referrals.eligibility import eligibility_or_unknown
from referrals.models import Referral, ReferringProvider


class ReferringProviderSerializer(StrictModelSerializer):
    class Meta:
        model = ReferringProvider
        fields = ["id", *services.PROVIDER_FIELDS, "membership", "created_at"]
        read_only_fields = ["id", "membership", "created_at"]
        validators = []  # NPI uniqueness within the clinic is the service's rule


class ProgramSerializer(StrictModelSerializer):
    class Meta:
        model = Program
        fields = ["id", *services.PROGRAM_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []


class EligibilitySerializer(serializers.Serializer):
    status = serializers.CharField()
    label = serializers.CharField()
    overridden = serializers.BooleanField()
    override_reason = serializers.CharField()
    outcomes = serializers.ListField(child=serializers.DictField())


def eligibility_data(referral) -> dict:
    result = eligibility_or_unknown(referral)
    return {
        "status": result.status, "label": result.label, "overridden": result.overridden,
        "override_reason": result.override_reason,
        "outcomes": [{"rule": o.rule, "status": o.status, "reason": o.reason} for o in result.outcomes],
    }  # fmt: skip


class ReferralSerializer(StrictModelSerializer):
    HIDDEN_FROM_REFERRERS = ("patient", "possible_duplicate")

    class Meta:
        model = Referral
        fields = ["id", "status", "source", "patient", "possible_duplicate", *services.REFERRAL_FIELDS,
                  "status_reason", "enrollment", "created_at", "last_action_at"]  # fmt: skip
        read_only_fields = ["id", "status", "source", "patient", "possible_duplicate", "status_reason", "enrollment",
                            "created_at", "last_action_at"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["referring_provider"].queryset = ReferringProvider.objects.filter(clinic=clinic)
            self.fields["program"].queryset = Program.objects.filter(clinic=clinic)
        if self.context.get("refers_as_self"):
            # A physician always refers as themself; the field is ignored for them. Whether the person
            # matched a patient record is not theirs to see: it would tell who is a patient here.
            self.fields["referring_provider"].required = False
            for name in self.HIDDEN_FROM_REFERRERS:
                self.fields.pop(name)


class ReferralSchema(OpenApiSerializerExtension):
    """In the schema, the fields a physician's answers leave out are not required."""

    target_class = ReferralSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "response":
            schema["required"] = [name for name in schema["required"] if name not in self.target.HIDDEN_FROM_REFERRERS]
        return schema


class ReferralFilter(StrictFilterSet):
    """Filters by id, without looking the id up: a lookup would tell whether another clinic's id exists."""

    status = django_filters.ChoiceFilter(choices=Referral.Status.choices)
    program = IdFilter(field_name="program_id")
    referring_provider = IdFilter(field_name="referring_provider_id")


class StatusChangeSerializer(serializers.Serializer):
    status = StrictChoiceField(choices=Referral.Status.choices)
    reason = StrictCharField(required=False, allow_blank=True, default="")


class AcceptSerializer(serializers.Serializer):
    start_date = serializers.DateField()


class OverrideSerializer(serializers.Serializer):
    reason = StrictCharField()


class ReferralViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    ClinicScopedViewSet,
):  # fmt: skip
    serializer_class = ReferralSerializer
    lookup_url_kwarg = "referral_id"
    queryset = Referral.objects.none()
    filterset_class = ReferralFilter
    permissions_by_action = {
        "list": "referral.view", "retrieve": "referral.view", "eligibility": "referral.view",
        "create": "referral.create", "update": "referral.manage", "partial_update": "referral.manage",
        "set_status": "referral.manage", "accept": "referral.manage", "override": "referral.manage",
    }  # fmt: skip

    def get_serializer_context(self):
        membership = getattr(self, "membership", None)
        return {
            **super().get_serializer_context(),
            "clinic": getattr(self, "clinic", None),
            "refers_as_self": membership is not None and not has_permission(membership, "referral.manage"),
        }

    def get_queryset(self):
        return selectors.referrals_visible_to(self.membership).order_by("-created_at", "-id")

    def get_object(self):
        return selectors.referral_get(membership=self.membership, referral_id=self.kwargs["referral_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Referral, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API referral list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        referral = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=referral, request=request, detail="API")
        return Response(self.get_serializer(referral).data)

    def perform_create(self, serializer):
        serializer.instance = services.referral_submit(membership=self.membership, data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.referral_update(
            clinic=self.clinic, actor=self.request.user, referral=serializer.instance, data=serializer.validated_data
        )

    @extend_schema(responses=EligibilitySerializer, summary="Eligibility of the patient for the program")
    @action(detail=True, methods=["get"])
    def eligibility(self, request, *args, **kwargs):
        referral = self.get_object()
        audit.record_access(
            clinic=self.clinic, actor=request.user, obj=referral, request=request, detail="API eligibility"
        )
        return Response(eligibility_data(referral))

    @extend_schema(request=StatusChangeSerializer, responses=ReferralSerializer, summary="Change the status")
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, *args, **kwargs):
        referral = self.get_object()  # first: an id not visible here is a 404 whatever the body
        body = StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["status"] == Referral.Status.ACCEPTED:
            raise serializers.ValidationError({"status": "Accept through the accept action, with a start date."})
        referral = services.referral_set_status(
            clinic=self.clinic, actor=request.user, referral=referral, **body.validated_data
        )
        return Response(self.get_serializer(referral).data)

    @extend_schema(request=AcceptSerializer, responses=ReferralSerializer, summary="Accept and enroll the patient")
    @action(detail=True, methods=["post"])
    def accept(self, request, *args, **kwargs):
        referral = self.get_object()
        body = AcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        referral = services.referral_accept(
            clinic=self.clinic, actor=request.user, referral=referral, **body.validated_data
        )
        return Response(self.get_serializer(referral).data)

    @extend_schema(request=OverrideSerializer, responses=EligibilitySerializer, summary="Override not-eligible")
    @action(detail=True, methods=["post"])
    def override(self, request, *args, **kwargs):
        referral = self.get_object()
        body = OverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        referral = services.referral_override_eligibility(
            clinic=self.clinic, actor=request.user, referral=referral, reason=body.validated_data["reason"]
        )
        return Response(eligibility_data(referral))


class ReferringProviderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, ClinicScopedViewSet,
):  # fmt: skip
    serializer_class = ReferringProviderSerializer
    lookup_url_kwarg = "provider_id"
    queryset = ReferringProvider.objects.none()
    permissions_by_action = {
        "list": "provider.manage", "retrieve": "provider.manage", "create": "provider.manage",
        "update": "provider.manage", "partial_update": "provider.manage", "destroy": "provider.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.providers_of_clinic(clinic=self.clinic).order_by("last_name", "first_name", "id")

    def get_object(self):
        return selectors.provider_get(clinic=self.clinic, provider_id=self.kwargs["provider_id"])

    def perform_create(self, serializer):
        serializer.instance = services.provider_save(
            clinic=self.clinic, actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.provider_save(
            clinic=self.clinic, actor=self.request.user, data=serializer.validated_data, provider=serializer.instance
        )

    def perform_destroy(self, instance):
        services.provider_delete(clinic=self.clinic, actor=self.request.user, provider=instance)


class ProgramViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    ClinicScopedViewSet,
):  # fmt: skip
    """Programs are deactivated (is_active=false), never deleted: enrollments point at them."""

    serializer_class = ProgramSerializer
    lookup_url_kwarg = "program_id"
    queryset = Program.objects.none()
    permissions_by_action = {
        "list": "program.view", "retrieve": "program.view", "create": "program.manage",
        "update": "program.manage", "partial_update": "program.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.programs_of_clinic(clinic=self.clinic).order_by("name", "id")

    def get_object(self):
        return selectors.program_get(clinic=self.clinic, program_id=self.kwargs["program_id"])

    def perform_create(self, serializer):
        serializer.instance = services.program_save(
            clinic=self.clinic, actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.program_save(
            clinic=self.clinic, actor=self.request.user, data=serializer.validated_data, program=serializer.instance
        )


class FhirAutoSchema(AutoSchema):
    """The intake's refusals are OperationOutcomes, served as application/fhir+json (handle_exception)."""

    error_response = OpenApiTypes.OBJECT
    error_media_types = [fhir.FHIR_JSON]


class FhirReferralIntakeView(ClinicScoped, APIView):
    """POST a FHIR R4 Bundle holding a Patient and a ServiceRequest; get the new referral back.

    Errors are a FHIR OperationOutcome with HTTP 400, and nothing is saved. Integrations act as a
    staff member (admin or physiologist): the Bundle names its own requester, which a physician's
    token must not be able to do (physicians refer as themselves, through the portal).
    """

    parser_classes = [fhir.FhirJsonParser, JSONParser]
    schema = FhirAutoSchema()
    permissions_by_action = {"post": "referral.manage"}

    def handle_exception(self, exc):
        """Every refusal is an OperationOutcome, as FHIR clients expect: unparsable JSON, a wrong content
        type, an oversized body, no token, no access. The status and headers stay those of the API."""
        response = super().handle_exception(exc)
        message = response.data.get("message", "") if isinstance(response.data, dict) else ""
        response.data = fhir.operation_outcome(response.status_code, message)
        response.content_type = fhir.FHIR_JSON
        return response

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            201: inline_serializer("FhirIntakeResult", {"id": serializers.IntegerField(),
                                                        "status": serializers.CharField(),
                                                        "patient": serializers.IntegerField(allow_null=True),
                                                        "possible_duplicate": serializers.BooleanField()}),
            200: OpenApiResponse(description="This ServiceRequest (by identifier) was received before: "
                                             "the referral made then, in the same shape as 201."),
        },
        summary="Receive a referral as a FHIR R4 Bundle (Patient + ServiceRequest)",
    )  # fmt: skip
    def post(self, request, clinic_slug):
        try:
            referral, created = fhir.referral_from_bundle(clinic=self.clinic, actor=request.user, bundle=request.data)
        except fhir.FhirIntakeError as error:
            return Response(error.operation_outcome(), status=status.HTTP_400_BAD_REQUEST,
                            content_type=fhir.FHIR_JSON)  # fmt: skip
        body = {"id": referral.pk, "status": referral.status, "patient": referral.patient_id,
                "possible_duplicate": referral.possible_duplicate}  # fmt: skip
        # The same order (ServiceRequest identifier) posted again gives the referral made the first time.
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
