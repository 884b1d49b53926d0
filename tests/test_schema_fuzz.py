"""Schema-driven fuzzing: every operation of the OpenAPI schema, for each role, answers as documented.

Schemathesis generates requests from /api/schema/ (valid and invalid ones) and sends them with the role's
personal API token to the Django WSGI app, in the test's transaction. Every answer must be a documented
status code and content type with a body that matches the schema, and never a server error.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clinic import services
from clinic.models import Enrollment, Role
from scheduling.models import Reminder
from tests.conftest import link_physician, make_program, make_provider, make_referral
from tests.scheduling.reminder_helpers import make_booking, make_occurrence

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6  # per operation, role and generation mode: enough to reach each kind of answer, bounded in time


@pytest.fixture
def wsgi_app(settings):
    """The project's WSGI app, as Django's test client runs it: the requests share the test's transaction,
    which closing "old" connections at the start and end of each request would end."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the Host schemathesis' client sends
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def objects(team_a, patient_a):
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
    schedule = _schedule_objects(team_a, patient_a, program)
    return {
        **schedule,
        "reminder_id": reminder.pk,
        "enrollment_id": enrollment.pk,
        "clinic_slug": clinic.slug,
        "patient_id": patient_a.pk,
        "referral_id": referral.pk,
        "provider_id": provider.pk,
        "program_id": program.pk,
    }


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


def fuzz(operation, mode, path_parameters, headers) -> list[str]:
    """Failures of one operation in one generation mode, one line per failing request (no shrinking)."""
    fixed = {name: value for name, value in path_parameters.items() if f"{{{name}}}" in operation.path}
    failures = []

    @given(case=operation.as_strategy(mode, path_parameters=fixed))
    @hypothesis_settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Failure, FailureGroup) as error:  # one failed check, or a group of them
            failures.append(f"{mode} {operation.label}: {str(error).strip()[:1500]}")

    run()
    return failures


@pytest.mark.parametrize("role", Role.values)
def test_every_operation_answers_as_documented_with_a_roles_token(role, wsgi_app, team_a, objects):
    _, raw = services.api_token_create(membership=team_a[role].membership, name="schemathesis")
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += fuzz(operation, mode, objects, {"Authorization": f"Bearer {raw}"})
    assert not failures, "\n\n".join(failures)
