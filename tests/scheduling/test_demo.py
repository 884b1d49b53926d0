"""The demo schedule: classes per program, three months of booked sessions, upcoming bookings."""

from django.core.management import call_command
from django.utils import timezone

from clinic.models import Clinic, OutboundMessage
from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, StandingBooking


def test_seed_demo_builds_schedules_with_past_and_upcoming_bookings(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    riverside = Clinic.objects.get(slug="riverside")
    now = timezone.now()
    assert ClassTemplate.objects.filter(clinic=riverside, name__startswith="Cardiac rehab 9:00").count() == 3
    assert StandingBooking.objects.filter(clinic=riverside).exists()
    booked = Booking.objects.filter(clinic=riverside, status=Booking.Status.BOOKED)
    assert booked.filter(occurrence__starts_at__lt=now).count() > 20
    assert booked.filter(occurrence__starts_at__gt=now).exists()
    assert Occurrence.objects.filter(clinic=riverside, status=Occurrence.Status.CANCELLED).count() == 1
    assert OutboundMessage.objects.filter(clinic=riverside, kind=OutboundMessage.Kind.CLASS_CANCELLED).exists()
    assert Authorization.objects.filter(clinic=riverside).exists()
    assert Booking.objects.filter(clinic=riverside, status__in=["cancelled", "late_cancelled"]).count() == 3
