"""Read-only REST API of session reminders: /api/v1/clinics/<slug>/reminders/ (per patient or booking)."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.response import Response

from clinic import audit
from clinic.api import ClinicScopedViewSet, IdFilter, StrictFilterSet
from scheduling import reminders
from scheduling.models import Reminder


class ReminderSerializer(serializers.ModelSerializer):
    session_starts_at = serializers.DateTimeField(source="booking.occurrence.starts_at", read_only=True)

    class Meta:
        model = Reminder
        fields = ["id", "booking", "patient", "channel", "status", "due_at", "sent_at", "attempts", "last_error",
                  "session_starts_at", "created_at"]  # fmt: skip
        read_only_fields = fields


class ReminderFilter(StrictFilterSet):
    """Filters by id without looking the id up, so another clinic's id tells nothing."""

    patient = IdFilter(field_name="patient_id")
    booking = IdFilter(field_name="booking_id")
    status = django_filters.ChoiceFilter(choices=Reminder.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Reminder.Channel.choices)


@extend_schema_view(
    list=extend_schema(summary="List session reminders (filter by patient or booking)"),
    retrieve=extend_schema(summary="Get one session reminder"),
)
class ReminderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ClinicScopedViewSet):
    serializer_class = ReminderSerializer
    filterset_class = ReminderFilter
    lookup_url_kwarg = "reminder_id"
    queryset = Reminder.objects.none()  # for the schema; requests use get_queryset
    permissions_by_action = {"list": "reminder.view", "retrieve": "reminder.view"}

    def get_queryset(self):
        return (
            reminders.reminders_visible_to(self.membership)
            .select_related("booking__occurrence")
            .order_by("-due_at", "-id")
        )

    def get_object(self):
        return reminders.reminder_get(membership=self.membership, reminder_id=self.kwargs["reminder_id"])

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit.record_list_access(
            clinic=self.clinic, actor=request.user, model=Reminder, request=request,
            object_ids=[row["id"] for row in response.data["results"]], detail="API reminder list",
        )  # fmt: skip
        return response

    def retrieve(self, request, *args, **kwargs):
        reminder = self.get_object()
        audit.record_access(clinic=self.clinic, actor=request.user, obj=reminder, request=request, detail="API")
        return Response(self.get_serializer(reminder).data)
