"""Notices of booking changes: a place given from the waitlist, a cancelled class; by email (an outbox row)
and by text to opted-in patients (a TextNotice row sent by the reminder job), each exactly once."""

import pytest

from clinic.models import OutboundMessage
from scheduling import notices, reminders, services
from scheduling.models import Booking, TextNotice
from tests.scheduling.conftest import make_enrollment, make_occurrence


@pytest.fixture
def texting_clinic(clinic_a):
    clinic_a.phone, clinic_a.reminder_by_sms = "(555) 201-4400", True
    clinic_a.save()
    return clinic_a


def texted(enrollment, phone="555-0199"):
    patient = enrollment.patient
    patient.phone, patient.sms_opt_in = phone, True
    patient.save()
    return enrollment


def full_class_with_a_waitlist(clinic, program, staff, waiting_enrollment):
    occurrence = make_occurrence(clinic, program, capacity=1)
    holder, _ = services.booking_create(
        clinic=clinic, actor=staff, occurrence=occurrence, enrollment=make_enrollment(clinic, program)
    )
    waiting, _ = services.booking_create(
        clinic=clinic, actor=staff, occurrence=occurrence, enrollment=waiting_enrollment, waitlist=True
    )
    return holder, waiting


CLINICAL = ("Cardiac", "rehab", "Rehab")


def test_a_patient_given_a_place_from_the_waitlist_gets_one_email_with_time_place_and_phone(
    texting_clinic, program, staff, enrollment
):
    holder, waiting = full_class_with_a_waitlist(texting_clinic, program, staff, enrollment)
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    message = OutboundMessage.objects.get(kind=OutboundMessage.Kind.PLACE_OFFERED)
    assert message.key == f"place-offered:{waiting.pk}" and message.to_email == enrollment.patient.email
    assert "(555) 201-4400" in message.body and "Gym A" in message.body and "you are now booked" in message.body
    for clinical in (*CLINICAL, enrollment.patient.last_name):
        assert clinical not in message.body and clinical not in message.subject


def test_an_opted_in_patient_given_a_place_gets_one_text_however_often_the_job_runs(
    texting_clinic, program, staff, enrollment, sms_outbox
):
    holder, waiting = full_class_with_a_waitlist(texting_clinic, program, staff, texted(enrollment))
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    reminders.reminders_run()
    reminders.reminders_run()
    assert [m.to for m in sms_outbox] == ["555-0199"]
    assert "a place opened" in sms_outbox[0].body and "(555) 201-4400" in sms_outbox[0].body
    assert not any(word in sms_outbox[0].body for word in CLINICAL)
    assert TextNotice.objects.get(booking=waiting).status == TextNotice.Status.SENT


def test_a_patient_who_did_not_opt_in_to_texts_gets_none(texting_clinic, program, staff, enrollment, sms_outbox):
    holder, _ = full_class_with_a_waitlist(texting_clinic, program, staff, enrollment)
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    reminders.reminders_run()
    assert not TextNotice.objects.exists() and sms_outbox == []


def test_an_opt_out_after_the_text_was_written_stops_it(texting_clinic, program, staff, enrollment, sms_outbox):
    holder, _ = full_class_with_a_waitlist(texting_clinic, program, staff, texted(enrollment))
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    enrollment.patient.sms_opt_in = False
    enrollment.patient.save()
    reminders.reminders_run()
    assert sms_outbox == []
    assert TextNotice.objects.get().last_error == notices.NO_LONGER_WANTED


def test_a_place_given_up_before_its_text_went_out_is_not_announced(
    texting_clinic, program, staff, enrollment, sms_outbox
):
    holder, waiting = full_class_with_a_waitlist(texting_clinic, program, staff, texted(enrollment))
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=Booking.objects.get(pk=waiting.pk))
    reminders.reminders_run()
    assert sms_outbox == [] and TextNotice.objects.get().status == TextNotice.Status.CANCELLED


def test_cancelling_a_class_texts_each_opted_in_patient_once(texting_clinic, program, staff, occurrence, sms_outbox):
    phones = ["555-0101", "555-0102"]
    for phone in phones:
        services.booking_create(
            clinic=texting_clinic, actor=staff, occurrence=occurrence,
            enrollment=texted(make_enrollment(texting_clinic, program), phone),
        )  # fmt: skip
    services.booking_create(
        clinic=texting_clinic, actor=staff, occurrence=occurrence, enrollment=make_enrollment(texting_clinic, program)
    )
    told = services.occurrence_cancel(clinic=texting_clinic, actor=staff, occurrence=occurrence, reason="Holiday")
    reminders.reminders_run()
    reminders.reminders_run()
    assert told == 3
    assert sorted(m.to for m in sms_outbox) == phones
    assert all("is cancelled" in m.body and "Holiday" not in m.body for m in sms_outbox)
    assert OutboundMessage.objects.filter(kind=OutboundMessage.Kind.CLASS_CANCELLED).count() == 3


def test_a_failed_text_is_retried_on_a_later_run(texting_clinic, program, staff, enrollment, settings, sms_outbox):
    holder, _ = full_class_with_a_waitlist(texting_clinic, program, staff, texted(enrollment))
    services.booking_cancel(clinic=texting_clinic, actor=staff, booking=holder)
    settings.SMS_BACKEND = "scheduling.sms.NotConfiguredBackend"
    reminders.reminders_run()
    notice = TextNotice.objects.get()
    assert notice.status == TextNotice.Status.PENDING and notice.attempts == 1
    settings.SMS_BACKEND = "scheduling.sms.LocMemBackend"
    reminders.reminders_run(now=notice.next_attempt_at)
    assert len(sms_outbox) == 1 and TextNotice.objects.get().status == TextNotice.Status.SENT


def test_the_notices_of_one_event_are_written_once(texting_clinic, program, staff, enrollment):
    _, waiting = full_class_with_a_waitlist(texting_clinic, program, staff, texted(enrollment))
    waiting = Booking.objects.select_related("patient", "occurrence").get(pk=waiting.pk)
    for _ in range(2):
        notices.place_offered_notify(clinic=texting_clinic, booking=waiting)
    assert OutboundMessage.objects.filter(key=f"place-offered:{waiting.pk}").count() == 1
    assert TextNotice.objects.filter(key=f"place-offered:{waiting.pk}").count() == 1
