"""REST API of class templates, occurrences, bookings and authorizations, under /api/v1/clinics/<slug>/.

Billing reads bookings with their attendance, never clinical notes; physicians read the bookings of
their own patients only; admins and physiologists manage schedules and bookings.
"""

import datetime

import django_filters
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clinic import audit
from clinic.api import (
    ClinicScopedViewSet,
    IdFilter,
    IsoDateFilter,
    StrictBooleanField,
    StrictBooleanFilter,
    StrictCharField,
    StrictFilterSet,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
)
from clinic.models import Enrollment, Program
from scheduling import selectors, services
from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, StandingBooking

MAX_RANGE_DAYS = 62


@extend_schema_field({
    "type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "09:00",
    "description": "Wall-clock time in the clinic's time zone (HH:MM).",
})  # fmt: skip
class ClockTimeField(serializers.TimeField):
    """A class's start, as the clinic's wall clock reads it: "09:00", no seconds, no offset (which the
    schema's "time" format would demand, and which a weekly class across DST cannot have)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


class ClassTemplateSerializer(StrictModelSerializer):
    start_time = ClockTimeField()

    class Meta:
        model = ClassTemplate
        fields = ["id", *services.TEMPLATE_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []  # dates and the clinic's programs and staff are the service's rules

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["program"].queryset = Program.objects.filter(clinic=clinic)
            self.fields["staff"].queryset = selectors.schedule_staff(clinic=clinic)


class OccurrenceSerializer(serializers.ModelSerializer):
    waitlist_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Occurrence
        fields = ["id", "template", "program", "name", "starts_at", "ends_at", "room", "capacity", "booked_count",
                  "waitlist_count", "staff", "status", "cancel_reason"]  # fmt: skip
        read_only_fields = fields


class OccurrenceRangeSerializer(serializers.Serializer):
    start = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    room = serializers.CharField(required=False, allow_blank=True, default="")
    staff = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)

    def validate(self, attrs):
        start = attrs.get("start") or timezone.localdate()
        end = attrs.get("end") or start + datetime.timedelta(days=6)
        if end < start:
            raise serializers.ValidationError({"end": "The end date must be on or after the start date."})
        if (end - start).days >= MAX_RANGE_DAYS:
            raise serializers.ValidationError({"end": f"Ask for at most {MAX_RANGE_DAYS} days at a time."})
        return {**attrs, "start": start, "end": end}


class ReasonSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=200)


class OptionalReasonSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class BookingSerializer(serializers.ModelSerializer):
    attendance = serializers.SerializerMethodField(help_text="From the floor sheet; empty until recorded.")

    class Meta:
        model = Booking
        fields = ["id", "occurrence", "enrollment", "patient", "standing_booking", "status", "is_makeup",
                  "booked_at", "cancelled_at", "cancel_reason", "attendance"]  # fmt: skip
        read_only_fields = fields

    def get_attendance(self, booking) -> str:
        log = getattr(booking, "session_log", None)  # None when the floor sheet has no row yet
        return log.attendance if log is not None else ""


class BookingCreateSerializer(serializers.Serializer):
    occurrence = StrictPrimaryKeyRelatedField(queryset=Occurrence.objects.none())
    enrollment = StrictPrimaryKeyRelatedField(queryset=Enrollment.objects.none())
    waitlist = StrictBooleanField(default=False, help_text="Waitlist the patient if the class is full.")
    is_makeup = StrictBooleanField(default=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["occurrence"].queryset = Occurrence.objects.filter(clinic=clinic)
            self.fields["enrollment"].queryset = Enrollment.objects.filter(clinic=clinic)


class BookingResultSerializer(BookingSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Authorization warnings: the booking is made, staff decide.",
    )  # fmt: skip

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class BookingFilter(StrictFilterSet):
    """Filters by id, without looking the id up: a lookup would tell whether another clinic's id exists."""

    occurrence = IdFilter(field_name="occurrence_id")
    patient = IdFilter(field_name="patient_id")
    enrollment = IdFilter(field_name="enrollment_id")
    status = django_filters.ChoiceFilter(choices=Booking.Status.choices)
    start = IsoDateFilter(method="filter_start", label="Classes on or after this date (clinic's time zone)")
    end = IsoDateFilter(method="filter_end", label="Classes on or before this date (clinic's time zone)")

    # The viewset has switched to the clinic's time zone (ClinicScopedViewSet.initial).
    def filter_start(self, queryset, name, value):
        return queryset.filter(occurrence__starts_at__gte=_midnight(value))

    def filter_end(self, queryset, name, value):
        return queryset.filter(occurrence__starts_at__lt=_midnight(value + datetime.timedelta(days=1)))


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


class StandingBookingSerializer(serializers.ModelSerializer):
    class Meta:
        model = StandingBooking
        fields = ["id", "template", "enrollment", "starts_on", "ended_at", "created_at"]
        read_only_fields = fields


class StandingBookingCreateSerializer(serializers.Serializer):
    template = StrictPrimaryKeyRelatedField(queryset=ClassTemplate.objects.none())
    enrollment = StrictPrimaryKeyRelatedField(queryset=Enrollment.objects.none())
    starts_on = serializers.DateField(
        required=False, allow_null=True, default=None, input_formats=["%Y-%m-%d"],
        help_text="First date; today (or the enrollment's start) if omitted.",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["template"].queryset = ClassTemplate.objects.filter(clinic=clinic)
            self.fields["enrollment"].queryset = Enrollment.objects.filter(clinic=clinic)


class StandingBookingResultSerializer(StandingBookingSerializer):
    booked = serializers.IntegerField(read_only=True, help_text="Upcoming sessions booked")
    waitlisted = serializers.IntegerField(read_only=True, help_text="Full sessions the patient waits for")
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(StandingBookingSerializer.Meta):
        fields = [*StandingBookingSerializer.Meta.fields, "booked", "waitlisted", "warnings"]
        read_only_fields = fields


class EndedSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField(help_text="Upcoming bookings cancelled")


class StandingBookingFilter(StrictFilterSet):
    template = IdFilter(field_name="template_id")
    enrollment = IdFilter(field_name="enrollment_id")


class AuthorizationSerializer(StrictModelSerializer):
    sessions_used = serializers.IntegerField(
        source="used", read_only=True, default=0,
        help_text="Sessions booked inside the dates, less those recorded as absent or cancelled.",
    )  # fmt: skip

    class Meta:
        model = Authorization
        fields = ["id", "enrollment", *services.AUTHORIZATION_FIELDS, "sessions_used", "created_at"]
        read_only_fields = ["id", "sessions_used", "created_at"]
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:
            self.fields["enrollment"].queryset = Enrollment.objects.filter(clinic=clinic)

    def validate_enrollment(self, enrollment):
        # An authorization stays with its enrollment: a change names it again (PUT) or leaves it out (PATCH).
        if isinstance(self.instance, Authorization) and enrollment != self.instance.enrollment:
            raise serializers.ValidationError("An authorization's enrollment cannot change.")
        return enrollment


class AuthorizationFilter(StrictFilterSet):
    enrollment = IdFilter(field_name="enrollment_id")
    attention = StrictBooleanFilter(method="filter_attention")

    def filter_attention(self, queryset, name, value):
        return queryset  # the view lists those needing attention (get_queryset): the value is checked here


class ClinicContextMixin:
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "clinic": getattr(self, "clinic", None)}


@extend_schema_view(
    list=extend_schema(summary="List recurring classes"),
    retrieve=extend_schema(summary="Get one recurring class"),
    create=extend_schema(summary="Create a recurring class (its occurrences are generated 8 weeks ahead)"),
    update=extend_schema(summary="Replace a recurring class"),
    partial_update=extend_schema(summary="Change some of a recurring class"),
)
class ClassTemplateViewSet(
    ClinicContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, ClinicScopedViewSet,
):  # fmt: skip
    serializer_class = ClassTemplateSerializer
    lookup_url_kwarg = "template_id"
    queryset = ClassTemplate.objects.none()
    permissions_by_action = {
        "list": "schedule.view", "retrieve": "schedule.view", "create": "schedule.manage",
        "update": "schedule.manage", "partial_update": "schedule.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.templates_of_clinic(clinic=self.clinic)

    def get_object(self):
        return selectors.template_get(clinic=self.clinic, template_id=self.kwargs["template_id"])

    def perform_create(self, serializer):
        serializer.instance = services.class_template_save(
            clinic=self.clinic, actor=self.membership, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.class_template_save(
            clinic=self.clinic, actor=self.membership, data=serializer.validated_data, template=serializer.instance
        )


@extend_schema_view(
    list=extend_schema(
        summary="List classes and appointments between two dates (a week from today by default)",
        parameters=[
            OpenApiParameter("start", datetime.date, description="First date (clinic's time zone); today if omitted"),
            OpenApiParameter("end", datetime.date, description=f"Last date; at most {MAX_RANGE_DAYS} days after start"),
            OpenApiParameter("room", str, description="Only this room"),
            OpenApiParameter("staff", int, description="Only classes led by this staff membership id"),
        ],
    ),
    retrieve=extend_schema(summary="Get one class or appointment"),
)
class OccurrenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = OccurrenceSerializer
    lookup_url_kwarg = "occurrence_id"
    queryset = Occurrence.objects.none()
    filter_backends = []
    permissions_by_action = {"list": "schedule.view", "retrieve": "schedule.view", "cancel": "schedule.manage"}

    def get_queryset(self):
        # A plain dict, not the QueryDict: DRF reads an empty value in a form-like QueryDict as "not given",
        # where an empty date or staff id is a 400 here as in the filters (StrictFilterSet).
        params = OccurrenceRangeSerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        data = params.validated_data
        return selectors.occurrences_between(
            clinic=self.clinic, start=data["start"], end=data["end"], room=data["room"], staff_id=data["staff"]
        )

    def get_object(self):
        return selectors.occurrence_get(clinic=self.clinic, occurrence_id=self.kwargs["occurrence_id"])

    @extend_schema(
        request=ReasonSerializer, responses=OccurrenceSerializer,
        summary="Cancel a class: its bookings are cancelled and each booked patient is emailed once",
    )  # fmt: skip
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        occurrence = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.occurrence_cancel(
            clinic=self.clinic, actor=self.membership, occurrence=occurrence, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="List bookings (physicians: their own patients' only)"),
    retrieve=extend_schema(summary="Get one booking"),
)
class BookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = BookingSerializer
    lookup_url_kwarg = "booking_id"
    queryset = Booking.objects.none()
    filterset_class = BookingFilter
    permissions_by_action = {
        "list": "booking.view", "retrieve": "booking.view", "create": "booking.manage", "cancel": "booking.manage",
    }  # fmt: skip

    def get_queryset(self):
        return selectors.bookings_visible_to(self.membership).select_related("session_log").order_by("booked_at", "id")

    def get_object(self):
        return selectors.booking_get(membership=self.membership, booking_id=self.kwargs["booking_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Booking, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API booking list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        booking = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=booking, request=request, detail="API")
        return Response(self.get_serializer(booking).data)

    @extend_schema(
        request=BookingCreateSerializer, responses={201: BookingResultSerializer},
        summary="Book a patient into a class (or its waitlist); a full class answers 400 \"This class is full.\"",
    )  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = BookingCreateSerializer(data=request.data, context={"clinic": self.clinic})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        booking, warnings = services.booking_create(
            clinic=self.clinic, actor=self.membership, occurrence=data["occurrence"], enrollment=data["enrollment"],
            waitlist=data["waitlist"], is_makeup=data["is_makeup"],
        )  # fmt: skip
        booking.warnings = warnings
        return Response(BookingResultSerializer(booking).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OptionalReasonSerializer, responses=BookingSerializer, summary="Cancel a booking")
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        booking = self.get_object()
        body = OptionalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        booking = services.booking_cancel(
            clinic=self.clinic, actor=self.membership, booking=booking, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(booking).data)


@extend_schema_view(
    list=extend_schema(summary="List standing bookings (a patient in every session of a recurring class)"),
    retrieve=extend_schema(summary="Get one standing booking"),
)
class StandingBookingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = StandingBookingSerializer
    lookup_url_kwarg = "standing_id"
    queryset = StandingBooking.objects.none()
    filterset_class = StandingBookingFilter
    permissions_by_action = {
        "list": "booking.view_all", "retrieve": "booking.view_all", "create": "booking.manage",
        "end": "booking.manage",
    }  # fmt: skip

    def get_queryset(self):
        return StandingBooking.objects.filter(clinic=self.clinic).order_by("-created_at", "-id")

    def get_object(self):
        standing = StandingBooking.objects.filter(clinic=self.clinic, pk=self.kwargs["standing_id"]).first()
        if standing is None:
            raise Http404
        return standing

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=StandingBooking, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API standing booking list",
        )  # fmt: skip
        return response

    @extend_schema(
        request=StandingBookingCreateSerializer, responses={201: StandingBookingResultSerializer},
        summary="Book a patient into every upcoming session of a recurring class (full ones: the waitlist)",
    )  # fmt: skip
    def create(self, request, *args, **kwargs):
        body = StandingBookingCreateSerializer(data=request.data, context={"clinic": self.clinic})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        standing, result = services.standing_booking_create(
            clinic=self.clinic, actor=self.membership, template=data["template"], enrollment=data["enrollment"],
            starts_on=data["starts_on"],
        )  # fmt: skip
        standing.booked, standing.waitlisted = len(result.booked), len(result.waitlisted)
        standing.warnings = result.warnings
        return Response(StandingBookingResultSerializer(standing).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=EndedSerializer, summary="End a standing booking: upcoming ones cancelled")
    @action(detail=True, methods=["post"])
    def end(self, request, *args, **kwargs):
        standing = self.get_object()
        cancelled = services.standing_booking_end(clinic=self.clinic, actor=self.membership, standing=standing)
        return Response({"cancelled": cancelled})


@extend_schema_view(
    list=extend_schema(
        summary="List insurance authorizations",
        parameters=[
            OpenApiParameter("attention", bool, description="true: only those at 80 % use or ending within 14 days"),
        ],
    ),
    retrieve=extend_schema(summary="Get one authorization"),
    create=extend_schema(summary="Record an authorization for an enrollment"),
    update=extend_schema(summary="Replace an authorization"),
    partial_update=extend_schema(summary="Change some of an authorization"),
)
class AuthorizationViewSet(
    ClinicContextMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, ClinicScopedViewSet,
):  # fmt: skip
    serializer_class = AuthorizationSerializer
    lookup_url_kwarg = "authorization_id"
    queryset = Authorization.objects.none()
    filterset_class = AuthorizationFilter
    permissions_by_action = {
        "list": "authorization.view", "retrieve": "authorization.view", "create": "authorization.manage",
        "update": "authorization.manage", "partial_update": "authorization.manage",
    }  # fmt: skip

    def get_queryset(self):
        if self.request.query_params.get("attention") == "true":  # any other value but false: a 400 (the filter)
            return selectors.authorizations_needing_attention(clinic=self.clinic, today=timezone.localdate())
        return selectors.authorizations_of_clinic(clinic=self.clinic)

    def get_object(self):
        return selectors.authorization_get(clinic=self.clinic, authorization_id=self.kwargs["authorization_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Authorization, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API authorization list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        authorization = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=authorization, request=request, detail="API")
        return Response(self.get_serializer(authorization).data)

    def perform_create(self, serializer):
        data = serializer.validated_data
        created = services.authorization_save(
            clinic=self.clinic, actor=self.membership, data=data, enrollment=data["enrollment"]
        )
        serializer.instance = selectors.authorization_get(clinic=self.clinic, authorization_id=created.pk)

    def perform_update(self, serializer):
        saved = services.authorization_save(
            clinic=self.clinic, actor=self.membership, data=serializer.validated_data, authorization=serializer.instance
        )
        serializer.instance = selectors.authorization_get(clinic=self.clinic, authorization_id=saved.pk)
