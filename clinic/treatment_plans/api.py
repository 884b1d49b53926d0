"""REST API of treatment plans: /api/v1/clinics/<clinic>/treatment-plans/.

Everyone who may see a patient reads their plans; billing reads dates, codes and signatures but not
the clinical text (diagnosis, goals, services). Physiologists and admins create and change drafts;
a physician linked to the patient signs with their password or an authenticator code
(POST .../treatment-plans/<id>/sign/).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clinic import audit
from clinic.api import (
    ClinicScopedViewSet,
    IdFilter,
    StrictBooleanField,
    StrictBooleanFilter,
    StrictCharField,
    StrictChoiceField,
    StrictFilterSet,
    StrictIntegerField,
    StrictModelSerializer,
)
from clinic.models import ITP_SIGNATURE_MEANING, TreatmentPlan, TreatmentPlanService
from clinic.permissions import has_permission
from clinic.prescriptions import enrollment_get_by_id
from clinic.treatment_plans import selectors, services

SIGNATURE_FIELDS = ["signed_by", "signed_at", "signature_meaning", "signature_method", "signer_name",
                    "signer_credential", "covers_from", "covers_until"]  # fmt: skip
COMMON_FIELDS = ["id", "enrollment", "patient", "version", "diagnosis_codes", "prescription", "drafted_by",
                 "created_at", "updated_at", *SIGNATURE_FIELDS]  # fmt: skip
CLINICAL_FIELDS = ["diagnosis", "goals", "services"]


class TreatmentPlanServiceSerializer(StrictModelSerializer):
    class Meta:
        model = TreatmentPlanService
        fields = services.SERVICE_FIELDS


class SignatureMixin(serializers.Serializer):
    patient = serializers.IntegerField(read_only=True, source="patient_id")
    # Empty ("") until the plan is signed: a read-only model field would leave the blank out of the enum.
    signature_method = StrictChoiceField(
        choices=TreatmentPlan.SignatureMethod.choices, allow_blank=True, read_only=True,
        help_text="How the signer proved who they are; empty for a draft.",
    )  # fmt: skip
    covers_from = serializers.SerializerMethodField(help_text="The signature's date (the clinic's); null for a draft.")
    covers_until = serializers.SerializerMethodField(
        help_text="The last date of service the signature covers (ITP_REVIEW_DAYS after it); null for a draft."
    )

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_covers_from(self, plan):
        return plan.signed_on

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_covers_until(self, plan):
        return plan.covers_until


class TreatmentPlanSerializer(SignatureMixin, StrictModelSerializer):
    """A plan as the clinical staff and physicians read it, and as drafts are written."""

    enrollment = StrictIntegerField(
        source="enrollment_id", min_value=1, max_value=2**31 - 1,
        help_text="A cardiac, intensive cardiac or pulmonary rehab enrollment. Set when the draft is created.",
    )  # fmt: skip
    diagnosis_codes = serializers.ListField(
        child=StrictCharField(max_length=8), max_length=20, required=False, help_text="ICD-10-CM codes, e.g. I21.4."
    )
    services = TreatmentPlanServiceSerializer(many=True, max_length=20)

    class Meta:
        model = TreatmentPlan
        fields = [*COMMON_FIELDS, *CLINICAL_FIELDS]
        read_only_fields = [name for name in COMMON_FIELDS if name not in ("enrollment", "diagnosis_codes")]
        validators = []

    def validate(self, attrs):
        return attrs  # codes, services and the enrollment's program are the service's rules


class TreatmentPlanSignatureSerializer(SignatureMixin, StrictModelSerializer):
    """A plan as billing reads it: dates, codes and signatures; no diagnosis text, goals or services."""

    class Meta:
        model = TreatmentPlan
        fields = COMMON_FIELDS
        read_only_fields = fields


class TreatmentPlanSchema(OpenApiSerializerExtension):
    """In the schema, the clinical fields billing's answers leave out are not required."""

    target_class = TreatmentPlanSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "response":
            schema["required"] = [name for name in schema.get("required", []) if name not in CLINICAL_FIELDS]
        return schema


class SignSerializer(serializers.Serializer):
    password = StrictCharField(required=False, allow_blank=True, max_length=200, write_only=True)
    mfa_code = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=10,
        write_only=True,
        help_text="A code from your authenticator app.",
    )
    meaning_confirmed = StrictBooleanField(help_text=f"true: you agree that “{ITP_SIGNATURE_MEANING}”.")


class TreatmentPlanFilter(StrictFilterSet):
    """Filters by id, without looking the id up (a lookup would tell whether another clinic's id exists)."""

    enrollment = IdFilter(field_name="enrollment_id")
    patient = IdFilter(field_name="enrollment__patient_id")
    signed = StrictBooleanFilter(field_name="signed_at", lookup_expr="isnull", exclude=True)


PLAN_ID = OpenApiParameter("plan_id", int, OpenApiParameter.PATH, description="The treatment plan's id")


@extend_schema_view(
    list=extend_schema(summary="List treatment plan versions"),
    retrieve=extend_schema(summary="Get one treatment plan version", parameters=[PLAN_ID]),
    create=extend_schema(summary="Draft the next version of an enrollment's treatment plan"),
    update=extend_schema(summary="Replace a draft's content", parameters=[PLAN_ID]),
    partial_update=extend_schema(summary="Change some of a draft's content", parameters=[PLAN_ID]),
    sign=extend_schema(
        summary="Sign a draft (physicians linked to the patient)",
        parameters=[PLAN_ID],
        request=SignSerializer,
        responses={200: TreatmentPlanSerializer},
    ),
)
class TreatmentPlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ClinicScopedViewSet,
):
    serializer_class = TreatmentPlanSerializer
    filterset_class = TreatmentPlanFilter
    lookup_url_kwarg = "plan_id"
    lookup_value_regex = r"[0-9]+"
    queryset = TreatmentPlan.objects.none()
    permissions_by_action = {
        "list": "itp.view",
        "retrieve": "itp.view",
        "create": "itp.edit",
        "update": "itp.edit",
        "partial_update": "itp.edit",
        "sign": "itp.sign",
    }

    def get_serializer_class(self):
        membership = getattr(self, "membership", None)
        if membership is not None and not has_permission(membership, "itp.view_clinical"):
            return TreatmentPlanSignatureSerializer
        return TreatmentPlanSerializer

    def get_queryset(self):
        plans = selectors.plans_visible_to(self.membership).order_by("enrollment_id", "-version", "id")
        return plans.prefetch_related("services")

    def get_object(self):
        return selectors.plan_get(membership=self.membership, plan_id=self.kwargs["plan_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=TreatmentPlan, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API treatment plans",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        plan = self.get_object()
        audit.record_access(
            clinic=self.clinic,
            actor=request.user,
            obj=plan,
            request=request,
            detail=f"API treatment plan v{plan.version}",
        )
        return Response(self.get_serializer(plan).data)

    def _answer(self, plan, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(self._reload(plan)).data, status=status_code)

    def _reload(self, plan):
        return selectors.plan_get(membership=self.membership, plan_id=plan.pk)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            enrollment = enrollment_get_by_id(membership=self.membership, enrollment_id=data["enrollment_id"])
        except Http404:
            raise ValidationError({"enrollment": ["No such enrollment."]}) from None
        with _as_drf_errors():
            plan = services.itp_draft(
                clinic=self.clinic, actor=self.membership, enrollment=enrollment, data=data,
                services=[dict(row) for row in data["services"]],
            )  # fmt: skip
        return self._answer(plan, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        plan = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(plan, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "enrollment_id" in data and data["enrollment_id"] != plan.enrollment_id:
            raise ValidationError({"enrollment": ["A plan stays with its enrollment."]})
        current = {"diagnosis": plan.diagnosis, "diagnosis_codes": plan.diagnosis_codes, "goals": plan.goals}
        rows = data.get("services")
        if rows is None:
            rows = [{name: getattr(s, name) for name in services.SERVICE_FIELDS} for s in plan.services.all()]
        with _as_drf_errors():
            plan = services.itp_update_draft(
                clinic=self.clinic, actor=self.membership, plan=plan, data={**current, **data},
                services=[dict(row) for row in rows],
            )  # fmt: skip
        return self._answer(plan)

    @action(detail=True, methods=["post"])
    def sign(self, request, *args, **kwargs):
        plan = self.get_object()
        serializer = SignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _as_drf_errors():
            plan = services.itp_sign(
                clinic=self.clinic, actor=self.membership, plan=plan, request=request,
                password=data.get("password") or None, mfa_code=data.get("mfa_code") or None,
                meaning=ITP_SIGNATURE_MEANING if data["meaning_confirmed"] else "",
            )  # fmt: skip
        return self._answer(plan)


class _as_drf_errors:
    """A service's ValidationError as DRF's 400, with field errors under their fields."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, error, traceback):
        if exc_type is None or not issubclass(exc_type, DjangoValidationError):
            return False
        if hasattr(error, "error_dict"):
            errors = {("non_field_errors" if key == "__all__" else key): value
                      for key, value in error.message_dict.items()}  # fmt: skip
        else:
            errors = {"non_field_errors": error.messages}
        raise ValidationError(errors) from error
