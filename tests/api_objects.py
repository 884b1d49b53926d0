"""Real ids of clinic A for every API path parameter, shared by the API method walk and the schema fuzzing."""

from clinic import prescriptions
from clinic.models import Enrollment
from scheduling.models import Reminder
from tests.billing.factories import billing_objects
from tests.clinic.treatment_plan_factories import make_plan
from tests.conftest import link_physician, make_program, make_provider, make_referral
from tests.scheduling.reminder_helpers import make_booking, make_occurrence


def api_objects(team_a, patient_a) -> dict:
    """Real ids for the path parameters, visible to every role that may see them (the physician referred
    the patient), so the generated bodies reach the serializers and services, not only the 404."""
    clinic = patient_a.clinic
    link_physician(patient_a, team_a["physician"].membership)
    provider = make_provider(clinic, membership=team_a["physician"].membership, npi="1234567893")
    program = make_program(clinic, "post_rehab")
    referral = make_referral(clinic, patient=patient_a, provider=provider, program=program)
    booking = make_booking(make_occurrence(clinic, program=program), patient_a)
    reminder = Reminder.objects.create(
        clinic=clinic, booking=booking, patient=patient_a, channel="email", due_at=booking.occurrence.starts_at
    )
    enrollment = Enrollment.objects.create(clinic=clinic, patient=patient_a, program=program, start_date="2026-01-05")
    prescription = prescriptions.prescription_save(
        clinic=clinic, actor=team_a["physiologist"].membership, enrollment=enrollment,
        data={"resting_hr": 70}, components={"aerobic": {"intensity_method": "rpe", "intensity_low": 12}},
    )  # fmt: skip
    schedule = _schedule_objects(team_a, patient_a, program)
    billing = billing_objects(clinic, patient_a, team_a["billing"].membership)
    rehab = Enrollment.objects.create(
        clinic=clinic, patient=patient_a, program=make_program(clinic, "cr"), start_date="2026-01-05"
    )
    plan = make_plan(rehab, team_a["physiologist"].membership)  # a draft the physician may sign
    return {
        "plan_id": plan.pk,
        **schedule,
        **billing,
        **_outcomes_objects(team_a, patient_a),
        "session_log_id": _session_log_id(team_a, schedule["booking_id"]),
        "reminder_id": reminder.pk,
        "enrollment_id": enrollment.pk,
        "version": prescription.version,
        "clinic_slug": clinic.slug,
        "patient_id": patient_a.pk,
        "referral_id": referral.pk,
        "provider_id": provider.pk,
        "program_id": program.pk,
        "report_id": _ready_report(enrollment).pk,
    }


def _ready_report(enrollment):
    """A ready progress report with its PDF stored (outcomes/reports/), so the download answers 200."""
    from django.core.files.base import ContentFile

    from outcomes.reports.models import ReportRequest

    report = ReportRequest(
        clinic=enrollment.clinic, patient=enrollment.patient, enrollment=enrollment, kind="on_demand",
        period_start=enrollment.start_date, period_end=enrollment.start_date, status="ready",
    )  # fmt: skip
    report.file.save("report.pdf", ContentFile(b"%PDF-1.7 test"), save=True)
    return report


def _schedule_objects(team_a, patient_a, program):
    """A class, a session of it, the patient's booking and authorization (scheduling/)."""
    import datetime

    from django.utils import timezone

    from clinic.models import Enrollment
    from scheduling import services as scheduling_services

    clinic, staff = program.clinic, team_a["physiologist"].membership
    today = timezone.localdate()
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient=patient_a, program=program, start_date=today - datetime.timedelta(days=7)
    )
    template = scheduling_services.class_template_save(
        clinic=clinic, actor=staff,
        data={"program": program, "name": "Class", "weekday": 2, "start_time": datetime.time(9), "starts_on": today},
    )  # fmt: skip
    occurrence = template.occurrences.order_by("starts_at").last()
    booking, _ = scheduling_services.booking_create(
        clinic=clinic, actor=staff, occurrence=occurrence, enrollment=enrollment
    )
    authorization = scheduling_services.authorization_save(
        clinic=clinic, actor=staff, enrollment=enrollment,
        data={"payer": "Aetna", "number": "A-1", "sessions_authorized": 36, "starts_on": today,
              "ends_on": today + datetime.timedelta(days=90)},
    )  # fmt: skip
    standing, _ = scheduling_services.standing_booking_create(
        clinic=clinic, actor=staff, template=template, enrollment=enrollment
    )
    return {
        "template_id": template.pk, "occurrence_id": occurrence.pk, "booking_id": booking.pk,
        "authorization_id": authorization.pk, "standing_id": standing.pk,
    }  # fmt: skip


def _session_log_id(team_a, booking_id) -> int:
    """A floor-sheet row of the booking (scheduling/floorsheet.py)."""
    from scheduling import floorsheet
    from scheduling.models import Booking
    from tests.scheduling.factories import ensure_reference_data

    ensure_reference_data()
    physiologist = team_a["physiologist"].membership
    booking = Booking.objects.select_related("occurrence").get(pk=booking_id)
    log = floorsheet.session_log_save(
        clinic=physiologist.clinic, actor=physiologist, booking=booking, data={"pre_hr": 80}, version=0
    )
    return log.pk


def _outcomes_objects(team_a, patient_a) -> dict:
    """A measure of the clinic's own, a battery, and an assessment with its observations (outcomes/)."""
    from clinic.models import Observation
    from outcomes import services as outcomes_services
    from tests.outcomes.helpers import cr_enrollment, record, shared_battery

    clinic, admin = patient_a.clinic, team_a["admin"].membership
    measure = outcomes_services.measure_save(
        clinic=clinic, actor=admin, data={"code": "a-local", "name": "A test", "unit": "s"}
    )
    assessment = record(cr_enrollment(patient_a), team_a["physiologist"].membership, days_ago=1)
    return {
        "measure_id": measure.pk,
        "battery_id": shared_battery().pk,
        "assessment_id": assessment.pk,
        "observation_id": Observation.objects.filter(source="assessment", source_id=assessment.pk).first().pk,
    }
