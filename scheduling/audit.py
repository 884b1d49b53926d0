from auditlog.registry import auditlog

from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, StandingBooking


def register_audited_models():
    """Creates, changes and deletes of schedules, bookings and authorizations (who booked or cancelled
    whom, when) go to the audit trail. The floor sheet's models are registered by their own module."""
    auditlog.register(ClassTemplate)
    auditlog.register(Occurrence, exclude_fields=["booked_count"])
    auditlog.register(StandingBooking)
    auditlog.register(Booking)
    auditlog.register(Authorization)
