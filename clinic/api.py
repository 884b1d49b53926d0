"""REST API of the core record, under /api/v1/clinics/<clinic_slug>/. Thin, like the views."""

import zoneinfo

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from django.utils import timezone
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import APIException, MethodNotAllowed, ValidationError
from rest_framework.metadata import SimpleMetadata
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from clinic import audit, selectors, services
from clinic.models import Patient
from clinic.permissions import has_permission
from clinic.tenancy import active_memberships, resolve_membership


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "payload_too_large"


def exception_handler(exc, context):
    """Errors are JSON: {"message": "...", "errors": {field: [messages]}}."""
    if isinstance(exc, RequestDataTooBig):
        # Raised by Django as the body is read; left to Django it would be an HTML 400 page.
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, the most the API accepts."
        )
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"message": "The request has invalid fields.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"message": str(response.data["detail"]), "errors": {}}
    return response


class ErrorSerializer(serializers.Serializer):
    """The shape of every error answer (exception_handler above)."""

    message = serializers.CharField()
    errors = serializers.DictField(help_text="Messages by field name; empty when the error is not about fields.")


class AutoSchema(openapi.AutoSchema):
    """Documents the errors any operation can answer with, besides its success, so that the schema is the
    whole contract (tests/test_schema_fuzz.py holds every answer to it)."""

    error_response = ErrorSerializer
    error_media_types: list[str] | None = None  # None: the view's renderers (JSON)

    def error_codes(self) -> dict[str, str]:
        codes = {
            "400": "Invalid fields or query parameters.",
            "401": "No valid API token.",
            "404": "No such clinic, object or page, or not one this member may see.",
        }
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes["403"] = "Signed in with a session but without the CSRF token."
        if self.method in ("POST", "PUT", "PATCH"):
            codes["413"] = "The request body is too large."
            codes["415"] = "The request body is not in a supported media type."
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self.error_codes().items():
            if code not in responses:
                error = OpenApiResponse(self.error_response, description=description)
                responses[code] = self._get_response_for_code(error, code, self.error_media_types, direction)
        return responses


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents personal API tokens in the OpenAPI schema."""

    target_class = "clinic.tokens.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token from your profile."}


class ClinicMetadata(SimpleMetadata):
    """OPTIONS: DRF's description of the endpoint (name, media types and, for a member who may write, the fields
    of each write under "actions"). DRF would list a write the member's role may not make (it only asks whether
    the caller is signed in), so the actions are narrowed to those the membership may make."""

    def determine_actions(self, request, view):
        actions = super().determine_actions(request, view)
        return {method: fields for method, fields in actions.items() if view.may(view.action_for(method))}


class ClinicScoped:
    """The order in which every API endpoint under /api/v1/clinics/<clinic_slug>/ decides an answer:

    1. Authentication: no valid token or session is a 401, whatever the clinic.
    2. The clinic and the membership (clinic.tenancy): someone who is not a member gets a 404 for every method,
       OPTIONS and HEAD included, as for a clinic that does not exist. A 405 or an OPTIONS answer first would
       tell them the endpoint is there for that clinic.
    3. The method, for members: a method the endpoint does not have (DELETE on a patient) is a 405 with Allow.
       It is the same for every role, so saying so tells nothing.
    4. OPTIONS answers 200 for every member, with Allow and ClinicMetadata, not a 404: what an endpoint takes
       is public (/api/schema/), so hiding it from members protects nothing. The schema leaves OPTIONS (and
       HEAD) out as every OpenAPI document does; they are the framework's, the same on every endpoint.
    5. The action's permission: an action the role may not take is a 404, like an object it may not see.

    A 404 carries no Allow header: it says that nothing is there, so it names no methods either.
    """

    permissions_by_action: dict[str, str] = {}
    metadata_class = ClinicMetadata

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        memberships = active_memberships(request.user)  # DRF has refused anonymous requests (401) by now
        self.membership = resolve_membership(memberships, kwargs["clinic_slug"], api_token=request.auth or None)
        self.clinic = self.membership.clinic
        # Default dates ("today") are the clinic's, as on its pages; finalize_response switches back.
        timezone.activate(zoneinfo.ZoneInfo(self.clinic.timezone))
        action = self.action_for(request.method)
        if action is None:
            raise MethodNotAllowed(request.method)
        if action != "metadata" and not self.may(action):
            raise Http404
        # Every id in a path is a number: `/patients/abc/` is a 404 like an id that does not exist, not a
        # 500 from the lookup. (Checked here rather than by a URL pattern, which the schema would then carry.)
        if any(not str(value).isdigit() for name, value in kwargs.items() if name != "clinic_slug"):
            raise Http404

    def action_for(self, method: str) -> str | None:
        """The action a method asks for: "metadata" for OPTIONS, None for a method the endpoint does not have.
        A viewset's routes name its actions; a plain view's action is its handler (post)."""
        method = method.lower()
        if method == "options":
            return "metadata"
        if isinstance(self, viewsets.ViewSetMixin):
            return self.action_map.get(method)
        return method if method in self.http_method_names and hasattr(self, method) else None

    def may(self, action: str | None) -> bool:
        permission = self.permissions_by_action.get(action)
        return permission is not None and has_permission(self.membership, permission)

    def finalize_response(self, request, response, *args, **kwargs):
        timezone.deactivate()
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 404:
            response.headers.pop("Allow", None)
        return response


class ClinicScopedViewSet(ClinicScoped, viewsets.GenericViewSet):
    """A viewset under /api/v1/clinics/<clinic_slug>/: permissions_by_action maps its actions to permissions."""


class TextOnly:
    """Text fields take only JSON strings. DRF would turn 123 into "123" and so hide a client's mistake
    (a number where a name goes) in the record. The fields below hold the other JSON types to the schema
    the same way."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(TextOnly, serializers.CharField):
    pass


class StrictEmailField(TextOnly, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """true or false only: DRF would read 0, 1, "yes", "off" and more."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """JSON numbers only: DRF would read "12" and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """Decimals are strings ("72.5"), as the API answers them and the schema says (format: decimal): a JSON
    number goes through a binary float on its way in."""

    default_error_messages = {"not_a_string": 'Send the number as a string, for example "72.5".'}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """A choice only as the schema's enum spells it: DRF compares as text, so it would take "1" for 1."""

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return data
        if isinstance(data, bool) or not isinstance(data, str | int) or data not in self.choices:
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Ids are JSON integers: DRF would look up "1", and true as 1."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """The API's model serializers: model fields become the strict fields above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        **{
            model_field: StrictIntegerField
            for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
            if field is serializers.IntegerField
        },
        models.BooleanField: StrictBooleanField,
        models.DecimalField: StrictDecimalField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
    }
    serializer_choice_field = StrictChoiceField
    serializer_related_field = StrictPrimaryKeyRelatedField


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with an empty value (?status=, ?date_of_birth=) is a 400, like any value it cannot read,
    where django-filter would take it for "no filter" and list everything: a client that sent a parameter
    meant to filter. Text filters are the exception: an empty text is a text."""

    def is_valid(self):
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if self.data.get(name) == "" and not isinstance(filter_, django_filters.CharFilter):
                self.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        return valid


@extend_schema_field({"type": "integer"})
class IdFilter(django_filters.NumberFilter):
    """Filters by an id: a whole number, as the schema says (a NumberFilter would take 1.5 or 1e300). An id
    beyond the database's range matches nothing."""

    field_class = forms.IntegerField


class TrueOrFalseField(forms.Field):
    """true or false, as the schema spells a boolean: a NullBooleanField would also read 1, 0 and True, and
    its widget would take anything else for "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value not in ("true", "false"):
            raise forms.ValidationError("Give true or false.", code="invalid")
        return value == "true"


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.BooleanFilter):
    """Filters by a boolean given as true or false only; anything else is a 400 (StrictFilterSet: empty too)."""

    field_class = TrueOrFalseField


class IsoDateFilter(django_filters.DateFilter):
    """Dates in filters are ISO 8601 (1950-02-01) only. Django's default input formats also read
    01/02/1950, as 2 January, which a client meaning 1 February would never notice; anything else is a 400."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, input_formats=["%Y-%m-%d"], **kwargs)


class PatientSerializer(StrictModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", *services.PATIENT_FIELDS, "status", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "created_at", "updated_at"]

    def validate(self, attrs):
        return attrs  # model rules (MRN per clinic, MBI, DOB) are checked by the service


class PatientFilter(StrictFilterSet):
    date_of_birth = IsoDateFilter()

    class Meta:
        model = Patient
        fields = ["status", "mrn", "date_of_birth"]


@extend_schema_view(
    list=extend_schema(
        summary="List patients",
        parameters=[OpenApiParameter("q", str, description="Search by name, MRN or date of birth")],
    ),
    retrieve=extend_schema(summary="Get one patient"),
    create=extend_schema(summary="Create a patient"),
    update=extend_schema(summary="Replace a patient's details"),
    partial_update=extend_schema(summary="Change some of a patient's details"),
)
class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ClinicScopedViewSet,
):
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    lookup_url_kwarg = "patient_id"
    queryset = Patient.objects.none()  # for the schema; requests use get_queryset
    permissions_by_action = {
        "list": "patient.view",
        "retrieve": "patient.view",
        "create": "patient.create",
        "update": "patient.edit",
        "partial_update": "patient.edit",
    }

    def get_queryset(self):
        return selectors.patient_search(membership=self.membership, query=self.request.query_params.get("q", ""))

    def get_object(self):
        return selectors.patient_get(membership=self.membership, patient_id=self.kwargs["patient_id"])

    def list(self, request, *args, **kwargs):
        with selectors.planned_for_the_search_term(request.query_params.get("q", "")):
            response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Patient, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API patient list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        patient = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=patient, request=request, detail="API")
        return Response(self.get_serializer(patient).data)

    def perform_create(self, serializer):
        serializer.instance = services.patient_create(
            clinic=self.clinic, actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.patient_update(
            clinic=self.clinic,
            actor=self.request.user,
            patient=serializer.instance,
            data=serializer.validated_data,
        )
