"""REST API of measures, batteries, assessments and observations, under /api/v1/clinics/<clinic>/.

Measures: everyone clinical reads the catalog, admins add their clinic's own. Batteries: read. Assessments:
physiologists and admins record (values in the measure's unit or one it converts from; computed values
are added by the service); physicians read their own patients'. Observations: read, filtered. Billing
reads none of it.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters import ChoiceFilter
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clinic import audit
from clinic import prescriptions as rx
from clinic.api import (
    ClinicScopedViewSet,
    IdFilter,
    StrictCharField,
    StrictChoiceField,
    StrictDecimalField,
    StrictFilterSet,
    StrictIntegerField,
    StrictModelSerializer,
)
from clinic.models import Measure, MeasureBand, Observation
from outcomes import computed, services
from outcomes import selectors as sel
from outcomes.models import Assessment, Battery, BatteryItem, Timepoint


def _errors(error: DjangoValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        return ValidationError(
            {("non_field_errors" if key == "__all__" else key): value for key, value in error.message_dict.items()}
        )
    return ValidationError({"non_field_errors": error.messages})


# --- Measures ----------------------------------------------------------------------------------


class MeasureBandSerializer(StrictModelSerializer):
    class Meta:
        model = MeasureBand
        fields = ["sex", "age_min", "age_max", "low", "low_inclusive", "high", "high_inclusive", "label", "is_risk",
                  "source"]  # fmt: skip
        read_only_fields = fields


class MeasureSerializer(StrictModelSerializer):
    shared = serializers.SerializerMethodField(help_text="True for the shared catalog's measures (read-only).")
    bands = MeasureBandSerializer(many=True, read_only=True)

    class Meta:
        model = Measure
        fields = ["id", "shared", "code_system", *services.MEASURE_FIELDS, "bands"]
        read_only_fields = ["id", "shared", "code_system", "bands"]
        validators = []

    @extend_schema_field(serializers.BooleanField())
    def get_shared(self, measure) -> bool:
        return measure.clinic_id is None

    def validate(self, attrs):
        return attrs  # the code against the catalog, ranges and the MCID source are the service's


@extend_schema_view(
    list=extend_schema(summary="List the measures: the shared catalog and the clinic's own"),
    retrieve=extend_schema(
        summary="Get one measure with its norm and risk bands",
        parameters=[OpenApiParameter("measure_id", int, OpenApiParameter.PATH, description="The measure's id")],
    ),
    create=extend_schema(summary="Add a measure of the clinic's own (administrators)"),
)
class MeasureViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ClinicScopedViewSet):
    serializer_class = MeasureSerializer
    lookup_url_kwarg = "measure_id"
    lookup_value_regex = "[0-9]+"
    queryset = Measure.objects.none()
    permissions_by_action = {"list": "measure.view", "retrieve": "measure.view", "create": "measure.manage"}

    def get_queryset(self):
        return sel.measures_for(clinic=self.clinic).prefetch_related("bands")

    def get_object(self):
        return sel.measure_get(clinic=self.clinic, measure_id=self.kwargs["measure_id"])

    def perform_create(self, serializer):
        try:
            serializer.instance = services.measure_save(
                clinic=self.clinic, actor=self.membership, data=serializer.validated_data
            )
        except DjangoValidationError as error:
            raise _errors(error) from error


# --- Batteries ---------------------------------------------------------------------------------


class BatteryItemSerializer(StrictModelSerializer):
    code = serializers.CharField(source="measure.code", read_only=True)
    computed = serializers.SerializerMethodField(help_text="Computed from the other values, never sent.")

    class Meta:
        model = BatteryItem
        fields = ["measure", "code", "order", "required", "computed"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_computed(self, item) -> bool:
        return item.measure.code in computed.COMPUTED


class BatterySerializer(StrictModelSerializer):
    shared = serializers.SerializerMethodField(help_text="True for a shared default (the clinic has no copy of it).")
    items = BatteryItemSerializer(many=True, read_only=True)

    class Meta:
        model = Battery
        fields = ["id", "shared", "program_type", "name", "timepoints", "is_active", "based_on", "source", "items"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_shared(self, battery) -> bool:
        return battery.clinic_id is None


@extend_schema_view(
    list=extend_schema(summary="List the batteries in force: the clinic's own and the defaults it kept"),
    retrieve=extend_schema(
        summary="Get one battery",
        parameters=[OpenApiParameter("battery_id", int, OpenApiParameter.PATH, description="The battery's id")],
    ),
)
class BatteryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = BatterySerializer
    lookup_url_kwarg = "battery_id"
    lookup_value_regex = "[0-9]+"
    queryset = Battery.objects.none()
    permissions_by_action = {"list": "battery.view", "retrieve": "battery.view"}

    def get_queryset(self):
        return sel.batteries_for(clinic=self.clinic)

    def get_object(self):
        return sel.battery_get(clinic=self.clinic, battery_id=self.kwargs["battery_id"])


# --- Assessments -------------------------------------------------------------------------------


class ResultSerializer(serializers.Serializer):
    measure = serializers.IntegerField(source="measure.pk")
    code = serializers.CharField(source="measure.code")
    value = serializers.DecimalField(max_digits=9, decimal_places=3)
    unit = serializers.CharField()
    computed = serializers.BooleanField()
    band = serializers.CharField(source="band.label", default="", help_text="Norm or risk band; empty if none.")
    at_risk = serializers.BooleanField(source="band.is_risk", default=False)


class EntrySerializer(serializers.Serializer):
    measure = StrictCharField(max_length=40, help_text="The measure's code, e.g. 64098-7 for the 6-minute walk.")
    value = StrictDecimalField(max_digits=12, decimal_places=3)
    unit = StrictCharField(
        max_length=30, required=False, default="",
        help_text="UCUM; the measure's unit when left out. kg also takes [lb_av], cm [in_i], m [ft_i].",
    )  # fmt: skip


class AssessmentSerializer(StrictModelSerializer):
    enrollment = StrictIntegerField(source="enrollment_id", min_value=1, max_value=2**63 - 1)
    battery = StrictIntegerField(source="battery_id", min_value=1, max_value=2**63 - 1)
    timepoint = StrictChoiceField(choices=Timepoint.choices)
    values = EntrySerializer(many=True, write_only=True, max_length=100)
    results = serializers.SerializerMethodField(help_text="The recorded and computed values, in the measures' units.")

    class Meta:
        model = Assessment
        fields = ["id", "patient", "enrollment", "battery", "timepoint", "assessed_on", "performed_by", "notes",
                  "values", "results", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = ["id", "patient", "performed_by", "created_at", "updated_at"]
        validators = []

    @extend_schema_field(ResultSerializer(many=True))
    def get_results(self, assessment):
        observations = self.context.get("observations", {}).get(assessment.pk, [])
        return ResultSerializer(
            sel.assessment_results(
                clinic=self.context["view"].clinic, assessment=assessment, observations=observations
            ),
            many=True,
        ).data

    def validate_values(self, values):
        codes = [v["measure"] for v in values]
        if len(codes) != len(set(codes)):
            raise ValidationError("Give each measure once.")
        return values


class AssessmentFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    battery = IdFilter(field_name="battery_id")
    timepoint = ChoiceFilter(choices=Timepoint.choices)

    class Meta:
        model = Assessment
        fields = ["patient", "enrollment", "battery", "timepoint"]


@extend_schema_view(
    list=extend_schema(summary="List assessments, newest first"),
    retrieve=extend_schema(
        summary="Get one assessment with its values",
        parameters=[OpenApiParameter("assessment_id", int, OpenApiParameter.PATH, description="The assessment's id")],
    ),
    create=extend_schema(
        summary="Record an assessment (values become observations; BMI, DASI METs, 6MWD % predicted are computed)",
        description="Everything is checked first and nothing is saved on any error: a value outside the measure's "
        "range or with more decimals than it takes, a unit it does not take, a date before the enrollment started, "
        "a second baseline or discharge of the same battery. A PHQ-9 item 9 above 0 raises an urgent clinical alert.",
    ),
)
class AssessmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    lookup_url_kwarg = "assessment_id"
    lookup_value_regex = "[0-9]+"
    queryset = Assessment.objects.none()
    permissions_by_action = {"list": "assessment.view", "retrieve": "assessment.view", "create": "assessment.record"}

    def get_queryset(self):
        return sel.assessments_visible_to(self.membership).prefetch_related("battery__items")

    def get_object(self):
        return sel.assessment_get(membership=self.membership, assessment_id=self.kwargs["assessment_id"])

    def _respond(self, assessments, *, many: bool):
        observations = sel.observations_of(clinic=self.clinic, assessment_ids=[a.pk for a in assessments])
        context = {**self.get_serializer_context(), "observations": observations}
        return AssessmentSerializer(assessments if many else assessments[0], many=many, context=context).data

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Assessment, request=request,
            object_ids=[a.pk for a in page], detail="API assessment list",
        )  # fmt: skip
        return self.get_paginated_response(self._respond(page, many=True))

    def retrieve(self, request, *args, **kwargs):
        assessment = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=assessment, request=request, detail="API")
        return Response(self._respond([assessment], many=False))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        enrollment = rx.enrollment_get_by_id(membership=self.membership, enrollment_id=data["enrollment_id"])
        try:
            battery = sel.battery_get(clinic=self.clinic, battery_id=data["battery_id"])
        except Http404:
            raise ValidationError({"battery": ["No such battery in this clinic."]}) from None
        values = {v["measure"]: services.Entry(value=v["value"], unit=v["unit"]) for v in data["values"]}
        try:
            assessment = services.assessment_record(
                clinic=self.clinic, actor=self.membership, enrollment=enrollment, battery=battery,
                timepoint=data["timepoint"], assessed_on=data["assessed_on"], values=values,
                notes=data.get("notes", ""),
            )  # fmt: skip
        except DjangoValidationError as error:
            raise _errors(error) from error
        assessment = sel.assessment_get(membership=self.membership, assessment_id=assessment.pk)
        return Response(self._respond([assessment], many=False), status=status.HTTP_201_CREATED)


# --- Observations ------------------------------------------------------------------------------


class ObservationSerializer(StrictModelSerializer):
    code = serializers.CharField(source="measure.code", read_only=True)

    class Meta:
        model = Observation
        fields = ["id", "patient", "enrollment", "measure", "code", "value", "unit", "observed_at", "phase", "source",
                  "source_id", "recorded_at"]  # fmt: skip
        read_only_fields = fields


class ObservationFilter(StrictFilterSet):
    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    measure = IdFilter(field_name="measure_id")
    source = ChoiceFilter(choices=Observation.Source.choices)

    class Meta:
        model = Observation
        fields = ["patient", "enrollment", "measure", "source"]


@extend_schema_view(
    list=extend_schema(summary="List observations (measured values), newest first"),
    retrieve=extend_schema(
        summary="Get one observation",
        parameters=[OpenApiParameter("observation_id", int, OpenApiParameter.PATH, description="The observation's id")],
    ),
)
class ObservationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = ObservationSerializer
    filterset_class = ObservationFilter
    lookup_url_kwarg = "observation_id"
    lookup_value_regex = "[0-9]+"
    queryset = Observation.objects.none()
    permissions_by_action = {"list": "observation.view", "retrieve": "observation.view"}

    def get_queryset(self):
        return sel.observations_visible_to(self.membership)

    def get_object(self):
        observation = self.get_queryset().filter(pk=self.kwargs["observation_id"]).first()
        if observation is None:
            raise Http404
        return observation

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Observation, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API observation list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        observation = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=observation, request=request, detail="API")
        return Response(self.get_serializer(observation).data)
