"""Every clinic-scoped route refuses other clinics' data with the same 404, and the role table holds."""

import datetime
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from clinic import prescriptions, services
from clinic.models import Enrollment
from outcomes.kpis.models import KpiExport
from referrals.models import ReferralAttachment
from scheduling import services as scheduling_services
from scheduling.models import Reminder
from tests.billing.factories import billing_objects
from tests.clinic.treatment_plan_factories import make_plan
from tests.conftest import link_physician, make_member, make_patient, make_program, make_referral
from tests.scheduling.reminder_helpers import make_booking, make_occurrence

CLINIC_PREFIXES = ("c/<slug:clinic_slug>/", "api/v1/clinics/<slug:clinic_slug>/")


def walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and entry.name:
            yield route, entry


def clinic_scoped_routes():
    """(name, parameter names) of every named route under a clinic prefix, found by walking the URLconf."""
    routes = []
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith(CLINIC_PREFIXES):
            params = set(re.findall(r"<(?:\w+:)?(\w+)>", route)) | set(pattern.pattern.regex.groupindex)
            routes.append((pattern.name, sorted(params)))
    return sorted({(name, tuple(params)) for name, params in routes})


ROUTES = clinic_scoped_routes()


def test_the_route_walk_finds_pages_and_api():
    names = {name for name, _ in ROUTES}
    assert {"patient_list", "patient_detail", "audit_list", "api-patient-list", "api-patient-detail"} <= names


@pytest.fixture
def clinic_b_objects(team_b, patient_b):
    """One object of clinic B for every kind of id a clinic-scoped URL takes."""
    invitation, _ = services.invitation_create(
        clinic=team_b["admin"].clinic, actor=team_b["admin"].user, email="new@bravo.test", roles=["billing"]
    )
    token, _ = services.api_token_create(membership=team_b["admin"].membership, name="b")
    referral = make_referral(team_b["admin"].clinic, patient=patient_b)
    attachment = ReferralAttachment.objects.create(
        clinic=referral.clinic, referral=referral, file="x.pdf", original_name="x.pdf", content_type="application/pdf",
        size=1,
    )  # fmt: skip
    booking = make_booking(make_occurrence(referral.clinic), patient_b)
    reminder = Reminder.objects.create(
        clinic=booking.clinic, booking=booking, patient=patient_b, channel="email", due_at=booking.occurrence.starts_at
    )
    enrollment = Enrollment.objects.create(
        clinic=referral.clinic, patient=patient_b, program=referral.program, start_date="2026-01-05"
    )
    prescription = prescriptions.prescription_save(
        clinic=referral.clinic, actor=team_b["physiologist"].membership, enrollment=enrollment,
        data={"resting_hr": 70}, components={"aerobic": {"intensity_method": "rpe", "intensity_low": 12}},
    )  # fmt: skip
    schedule = _schedule_objects(team_b, patient_b, referral.program)
    floor = floor_sheet_objects(team_b, schedule["booking_id"])
    report = ready_report(enrollment)
    billing = billing_objects(referral.clinic, patient_b, team_b["billing"].membership)
    plan = make_plan(enrollment, team_b["physiologist"].membership)
    return {
        **schedule,
        **floor,
        **billing,
        **outcomes_objects(team_b, enrollment),
        "patient_id": patient_b.pk,
        "reminder_id": reminder.pk,
        "enrollment_id": enrollment.pk,
        "version": prescription.version,
        "plan_id": plan.pk,
        "membership_id": team_b["physiologist"].membership.pk,
        "invitation_id": invitation.pk,
        "token_id": token.pk,
        "referral_id": referral.pk,
        "attachment_id": attachment.pk,
        "provider_id": referral.referring_provider_id,
        "program_id": referral.program_id,
        "report_id": report.pk,
        "export_id": KpiExport.objects.create(
            clinic=referral.clinic,
            requested_by=team_b["admin"].membership,
            filters={"start": "2026-01-01", "end": "2026-01-31"},
        ).pk,  # fmt: skip
    }


def ready_report(enrollment):
    """A ready progress report of clinic B, its PDF stored (outcomes/reports/)."""
    from django.core.files.base import ContentFile

    from outcomes.reports.models import ReportRequest

    report = ReportRequest(
        clinic=enrollment.clinic, patient=enrollment.patient, enrollment=enrollment, kind="on_demand",
        period_start=enrollment.start_date, period_end=enrollment.start_date, status="ready",
    )  # fmt: skip
    report.file.save("report.pdf", ContentFile(b"%PDF-1.7 test"), save=True)
    return report


def _schedule_objects(team_b, patient_b, program):
    """A class, a session of it, a booking, a standing booking and an authorization in clinic B."""
    clinic, staff = program.clinic, team_b["physiologist"].membership
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient=patient_b, program=program, start_date=timezone.localdate() - datetime.timedelta(days=7)
    )
    template = scheduling_services.class_template_save(
        clinic=clinic, actor=staff, data={"program": program, "name": "B class", "weekday": 2,
                                          "start_time": datetime.time(9), "starts_on": timezone.localdate()},
    )  # fmt: skip
    standing, result = scheduling_services.standing_booking_create(
        clinic=clinic, actor=staff, template=template, enrollment=enrollment
    )
    authorization = scheduling_services.authorization_save(
        clinic=clinic, actor=staff, enrollment=enrollment,
        data={"payer": "Aetna", "number": "B-1", "sessions_authorized": 36, "starts_on": timezone.localdate(),
              "ends_on": timezone.localdate() + datetime.timedelta(days=90)},
    )  # fmt: skip
    booking = result.booked[0]
    return {
        "template_id": template.pk,
        "standing_id": standing.pk,
        "occurrence_id": booking.occurrence_id,
        "booking_id": booking.pk,
        "authorization_id": authorization.pk,
    }


def floor_sheet_objects(team_b, booking_id):
    """A session log with a safety flag on a booking of clinic B (scheduling/floorsheet.py)."""
    from scheduling import floorsheet
    from scheduling.models import Booking
    from tests.scheduling.factories import ensure_reference_data

    ensure_reference_data()
    physiologist = team_b["physiologist"].membership
    booking = Booking.objects.select_related("occurrence").get(pk=booking_id)
    log = floorsheet.session_log_save(
        clinic=physiologist.clinic, actor=physiologist, booking=booking, data={"pre_hr": 130}, version=0
    )
    return {"session_log_id": log.pk, "flag_id": log.flags.get().pk}


def outcomes_objects(team_b, enrollment):
    """A battery and a measure of clinic B's own, an assessment with its observations and an alert."""
    from clinic.models import ClinicalAlert, Observation
    from outcomes import services as outcomes_services
    from tests.outcomes.helpers import baseline_values, record, shared_battery

    admin, physiologist = team_b["admin"].membership, team_b["physiologist"].membership
    enrollment.refresh_from_db()  # its start date as a date, not the string it was created with
    battery = outcomes_services.battery_copy(clinic=enrollment.clinic, actor=admin, battery=shared_battery())
    measure = outcomes_services.measure_save(
        clinic=enrollment.clinic, actor=admin, data={"code": "b-local", "name": "B test", "unit": "s"}
    )
    assessment = record(enrollment, physiologist, days_ago=1, values=baseline_values(**{"phq9-item9": "1"}))
    return {
        "battery_id": battery.pk,
        "measure_id": measure.pk,
        "assessment_id": assessment.pk,
        "observation_id": Observation.objects.filter(source_id=assessment.pk, source="assessment").first().pk,
        "alert_id": ClinicalAlert.objects.get(source_id=assessment.pk).pk,
    }


def fetch(client, url):
    """GET, or POST for POST-only routes (which answer GET with 405)."""
    response = client.get(url)
    return client.post(url) if response.status_code == 405 else response


@pytest.mark.parametrize(("name", "params"), ROUTES, ids=[name for name, _ in ROUTES])
def test_member_of_another_clinic_gets_404(name, params, team_a, clinic_b_objects, clinic_b):
    """Clinic A's admin asks for clinic B's pages, and for clinic B's objects inside clinic A's pages."""
    admin = team_a["admin"]
    kwargs = {param: clinic_b_objects[param] for param in params if param != "clinic_slug"}
    assert fetch(admin.client, reverse(name, kwargs={"clinic_slug": clinic_b.slug, **kwargs})).status_code == 404
    if kwargs:
        url = reverse(name, kwargs={"clinic_slug": admin.clinic.slug, **kwargs})
        assert fetch(admin.client, url).status_code == 404


@pytest.mark.parametrize(("name", "params"), ROUTES, ids=[name for name, _ in ROUTES])
def test_anonymous_request_is_sent_to_login_or_refused(name, params, client, clinic_b_objects, clinic_b):
    kwargs = {param: clinic_b_objects[param] for param in params if param != "clinic_slug"}
    response = fetch(client, reverse(name, kwargs={"clinic_slug": clinic_b.slug, **kwargs}))
    if name.startswith("api-"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_deactivated_member_loses_access_at_once(team_a, patient_a):
    physiologist = team_a["physiologist"]
    url = reverse("patient_detail", args=[physiologist.clinic.slug, patient_a.pk])
    assert physiologist.client.get(url).status_code == 200
    services.membership_deactivate(
        clinic=physiologist.clinic, actor=team_a["admin"].user, membership=physiologist.membership
    )
    assert physiologist.client.get(url).status_code == 404


# --- The role table -----------------------------------------------------------------------------

ALL, NONE = {"admin", "physiologist", "physician", "billing"}, set()

# (route name, needs a patient id, method, roles that get a success)
ROLE_MATRIX = [
    ("clinic_home", False, "get", ALL),
    ("patient_list", False, "get", ALL),
    ("patient_create", False, "get", {"admin", "physiologist", "billing"}),
    ("patient_export", False, "get", {"admin", "billing"}),
    ("patient_detail", True, "get", {"admin", "physiologist", "billing"}),
    ("patient_edit", True, "get", {"admin", "physiologist", "billing"}),
    ("patient_set_status", True, "post", {"admin"}),
    ("staff_list", False, "get", {"admin"}),
    ("staff_invite", False, "get", {"admin"}),
    ("clinic_settings", False, "get", {"admin"}),
    ("audit_list", False, "get", {"admin"}),
    ("audit_export", False, "get", {"admin"}),
    ("api_tokens", False, "get", ALL),
    ("api-patient-list", False, "get", ALL),
    ("api-patient-detail", True, "get", {"admin", "physiologist", "billing"}),
    ("referral_queue", False, "get", {"admin", "physiologist"}),
    ("referral_create", False, "get", {"admin", "physiologist"}),
    ("provider_list", False, "get", {"admin", "physiologist"}),
    ("program_list", False, "get", ALL),
    ("program_create", False, "get", {"admin"}),
    ("portal_refer", False, "get", {"physician"}),
    ("my_patients", False, "get", {"physician"}),
    ("api-referral-list", False, "get", {"admin", "physiologist", "physician"}),
    ("api-provider-list", False, "get", {"admin", "physiologist"}),
    ("api-program-list", False, "get", ALL),
    ("api-reminder-list", False, "get", {"admin", "physiologist", "billing"}),
    ("schedule_calendar", False, "get", {"admin", "physiologist", "billing"}),
    ("template_list", False, "get", {"admin", "physiologist", "billing"}),
    ("template_create", False, "get", {"admin", "physiologist"}),
    ("appointment_create", False, "get", {"admin", "physiologist"}),
    ("authorization_list", False, "get", {"admin", "physiologist", "billing"}),
    ("authorization_create", False, "get", {"admin", "physiologist", "billing"}),
    ("api-class-template-list", False, "get", {"admin", "physiologist", "billing"}),
    ("api-occurrence-list", False, "get", {"admin", "physiologist", "billing"}),
    ("api-booking-list", False, "get", ALL),
    ("api-standing-booking-list", False, "get", {"admin", "physiologist", "billing"}),
    ("api-authorization-list", False, "get", {"admin", "physiologist", "billing"}),
    ("today", False, "get", {"admin", "physiologist"}),
    ("api-session-log-list", False, "get", ALL),
    ("claim_line_list", False, "get", {"admin", "billing"}),
    ("batch_list", False, "get", {"admin", "billing"}),
    ("payer_list", False, "get", {"admin", "billing"}),
    ("payer_create", False, "get", {"admin", "billing"}),
    ("fee_list", False, "get", {"admin", "billing"}),
    ("fee_create", False, "get", {"admin", "billing"}),
    ("billing_rule_list", False, "get", {"admin", "billing"}),
    ("dprp_export_list", False, "get", {"admin", "billing"}),
    ("coverage_create", True, "get", {"admin", "billing"}),
    ("api-claim-line-list", False, "get", {"admin", "billing"}),
    ("api-claim-batch-list", False, "get", {"admin", "billing"}),
    ("api-payer-list", False, "get", {"admin", "billing"}),
    ("api-coverage-list", False, "get", {"admin", "billing"}),
    ("api-fee-list", False, "get", {"admin", "billing"}),
    ("api-dprp-export-list", False, "get", {"admin", "billing"}),
    ("packet_list", False, "get", {"admin", "billing"}),
    ("api-packet-request-list", False, "get", {"admin", "billing"}),
    ("portal_plans", False, "get", {"physician"}),
    ("plans_due", False, "get", {"admin", "physiologist", "billing"}),
    ("api-treatment-plan-list", False, "get", ALL),
    ("measure_list", False, "get", {"admin"}),
    ("measure_create", False, "get", {"admin"}),
    ("battery_list", False, "get", {"admin"}),
    ("api-measure-list", False, "get", {"admin", "physiologist", "physician"}),
    ("api-battery-list", False, "get", {"admin", "physiologist", "physician"}),
    ("api-assessment-list", False, "get", {"admin", "physiologist", "physician"}),
    ("api-observation-list", False, "get", {"admin", "physiologist", "physician"}),
    ("report_inbox", False, "get", {"admin", "physiologist", "physician"}),
    ("report_create", True, "post", {"admin", "physiologist"}),
    ("api-report-request-list", False, "get", {"admin", "physiologist", "physician"}),
    ("kpi_dashboard", False, "get", {"admin"}),
    ("kpi_dashboard_pdf", False, "get", {"admin"}),
    ("api-kpis", False, "get", {"admin"}),
    ("billing_kpis", False, "get", {"admin", "billing"}),
    ("api-billing-kpis", False, "get", {"admin", "billing"}),
]


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(("name", "needs_patient", "method", "allowed"), ROLE_MATRIX, ids=[r[0] for r in ROLE_MATRIX])
def test_role_table(name, needs_patient, method, allowed, role, team_a, patient_a):
    persona = team_a[role]
    kwargs = {"clinic_slug": persona.clinic.slug}
    if needs_patient:
        kwargs["patient_id"] = patient_a.pk
    data = {"status": "inactive"} if method == "post" else {}
    response = getattr(persona.client, method)(reverse(name, kwargs=kwargs), data)
    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
    else:
        assert response.status_code == 404


def test_physician_sees_the_patients_they_referred(team_a, patient_a):
    physician = team_a["physician"]
    link_physician(patient_a, physician.membership)
    assert (
        physician.client.get(reverse("patient_detail", args=[physician.clinic.slug, patient_a.pk])).status_code == 200
    )


def test_physician_cannot_see_a_patient_another_physician_referred(team_a, patient_a):
    other = make_member(team_a["admin"].clinic, "physician", email="other-doc@alpha.test")
    link_physician(patient_a, other)
    physician = team_a["physician"]
    assert (
        physician.client.get(reverse("patient_detail", args=[physician.clinic.slug, patient_a.pk])).status_code == 404
    )


def test_physician_patient_list_shows_only_their_patients(team_a, clinic_a):
    physician = team_a["physician"]
    mine = make_patient(clinic_a, "MINE-1", last_name="Mine")
    make_patient(clinic_a, "THEIRS-1", last_name="Theirs")
    link_physician(mine, physician.membership)
    response = physician.client.get(reverse("patient_list", args=[clinic_a.slug]))
    assert [p.mrn for p in response.context["page"]] == ["MINE-1"]


def test_api_token_only_works_in_its_own_clinic(team_a, team_b, clinic_b):
    admin_a = team_a["admin"]
    # The same person is also a member of clinic B, but the token was made in clinic A.
    from clinic.models import Membership

    Membership.objects.create(clinic=clinic_b, user=admin_a.user, roles=["admin"])
    _, raw = services.api_token_create(membership=admin_a.membership, name="integration")
    from django.test import Client

    api = Client(headers={"Authorization": f"Bearer {raw}"})
    assert api.get(reverse("api-patient-list", args=[admin_a.clinic.slug])).status_code == 200
    assert api.get(reverse("api-patient-list", args=[clinic_b.slug])).status_code == 404


# Routes under a patient's enrollment: (route name, extra kwargs, method, roles that get a success).
# The physician did not refer the patient, so sees nothing (test_prescriptions covers their own patients).
ENROLLMENT_ROLE_MATRIX = [
    ("prescription_detail", {}, "get", {"admin", "physiologist"}),
    ("prescription_edit", {}, "get", {"admin", "physiologist"}),
    ("prescription_history", {}, "get", {"admin", "physiologist"}),
    ("prescription_preview", {}, "post", {"admin", "physiologist"}),
    ("prescription_version", {"version": 1}, "get", {"admin", "physiologist"}),
    ("prescription_print", {"version": 1}, "get", {"admin", "physiologist"}),
    ("api-prescription-list", {}, "get", {"admin", "physiologist"}),
    ("api-prescription-detail", {"version": 1}, "get", {"admin", "physiologist"}),
    ("plan_list", {}, "get", {"admin", "physiologist", "billing"}),
    ("plan_draft", {}, "get", {"admin", "physiologist"}),
    ("plan_review", {}, "post", {"admin", "physiologist"}),
    ("plan_version", {"version": 1}, "get", {"admin", "physiologist", "billing"}),
    ("plan_print", {"version": 1}, "get", {"admin", "physiologist", "billing"}),
    ("progress_detail", {}, "get", {"admin", "physiologist"}),
    ("api-enrollment-progress", {}, "get", {"admin", "physiologist"}),
    ("assessment_list", {}, "get", {"admin", "physiologist"}),
    ("necessity_notes", {}, "get", {"admin", "physiologist", "billing"}),
]


@pytest.fixture
def enrollment_a(team_a, patient_a):
    enrollment = Enrollment.objects.create(
        clinic=patient_a.clinic, patient=patient_a, program=make_program(patient_a.clinic), start_date="2026-01-05"
    )
    prescriptions.prescription_save(
        clinic=patient_a.clinic, actor=team_a["physiologist"].membership, enrollment=enrollment,
        data={"resting_hr": 70}, components={"aerobic": {"intensity_method": "rpe", "intensity_low": 12}},
    )  # fmt: skip
    make_plan(enrollment, team_a["physiologist"].membership)
    return enrollment


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(
    ("name", "extra", "method", "allowed"), ENROLLMENT_ROLE_MATRIX, ids=[r[0] for r in ENROLLMENT_ROLE_MATRIX]
)
def test_enrollment_role_table(name, extra, method, allowed, role, team_a, enrollment_a):
    persona = team_a[role]
    kwargs = {"clinic_slug": persona.clinic.slug, "enrollment_id": enrollment_a.pk, **extra}
    if not name.startswith("api-"):
        kwargs["patient_id"] = enrollment_a.patient_id
    response = getattr(persona.client, method)(reverse(name, kwargs=kwargs))
    if role in allowed:
        assert response.status_code in (200, 302), response.status_code
    else:
        assert response.status_code == 404
