"""Health check, structured request logs without patient data, demo data."""

import datetime
import json
import logging

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clinic.celery import HEARTBEAT_KEY, write_heartbeat
from clinic.models import Clinic, Membership, Patient, PatientPhysician
from referrals.models import Referral
from referrals.selectors import overdue_cutoff
from tests.conftest import rows_shared_by_the_module


def test_healthz_is_200_when_database_redis_and_worker_are_up(client, db):
    write_heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_is_503_without_a_worker_heartbeat(client, db):
    caches["redis"].delete(HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {"ok": False, "error": "no heartbeat"}


def test_running_worker_writes_a_heartbeat(celery_worker):
    assert caches["redis"].get(HEARTBEAT_KEY) is not None


def test_request_log_has_clinic_user_path_template_status_and_duration(team_a, patient_a, caplog):
    persona = team_a["physiologist"]
    with caplog.at_level(logging.INFO, logger="medfit.request"):
        persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]))
    record = caplog.records[-1]
    assert (record.clinic, record.user_id, record.status) == (persona.clinic.slug, persona.user.pk, 200)
    assert record.path == "/c/<slug:clinic_slug>/patients/<int:patient_id>/"
    assert record.duration_ms >= 0


def test_request_log_never_contains_patient_data(team_a, patient_a, caplog):
    persona = team_a["physiologist"]
    with caplog.at_level(logging.DEBUG):
        persona.client.get(reverse("patient_list", args=[persona.clinic.slug]), {"q": patient_a.last_name})
        persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]))
    logged = caplog.text + " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert patient_a.last_name not in logged
    assert patient_a.mrn not in logged


def test_production_logs_are_one_json_object_a_line():
    from pythonjsonlogger.json import JsonFormatter

    from clinic.settings import LOGGING

    formatter = JsonFormatter(**{k: v for k, v in LOGGING["formatters"]["json"].items() if k != "()"})
    record = logging.LogRecord("medfit.request", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    assert json.loads(formatter.format(record))["status"] == 200


@pytest.fixture(scope="module")
def demo_rows(django_db_setup, django_db_blocker):
    with rows_shared_by_the_module(django_db_blocker):
        with override_settings(DEBUG=True):
            call_command("seed_demo")
        yield


@pytest.fixture
def seeded_demo(demo_rows, db):
    """The demo, seeded once for the module's tests that read it (seeding takes seconds)."""


def test_seed_demo_creates_two_clinics_with_four_roles_and_patients(seeded_demo):
    assert set(Clinic.objects.values_list("slug", flat=True)) == {"riverside", "northside"}
    assert Membership.objects.filter(clinic__slug="riverside").count() == 4
    assert Patient.objects.filter(clinic__slug="northside").count() == 60


def test_seed_demo_is_idempotent(seeded_demo, settings):
    settings.DEBUG = True
    call_command("seed_demo")  # the second time
    assert Patient.objects.count() == 120


def test_seed_demo_spreads_referrals_over_recent_weeks_so_some_are_overdue(seeded_demo):
    referrals = Referral.objects.filter(clinic__slug="riverside")
    open_referrals = referrals.filter(status__in=Referral.OPEN_STATUSES)
    cutoff = overdue_cutoff()
    assert open_referrals.filter(last_action_at__lt=cutoff).exists()
    assert open_referrals.filter(last_action_at__gte=cutoff).exists()
    oldest, newest = min(r.created_at for r in referrals), max(r.created_at for r in referrals)
    assert newest - oldest > datetime.timedelta(weeks=3)
    for referral in referrals:
        steps = list(referral.status_changes.order_by("pk").values_list("changed_at", flat=True))
        assert steps == sorted(steps) and steps[0] == referral.created_at and steps[-1] == referral.last_action_at
        assert steps[-1] <= timezone.now()


def test_seed_demo_links_the_physician_only_to_patients_their_referrals_name(seeded_demo):
    links = PatientPhysician.objects.filter(physician__user__email="physician@riverside.example")
    assert links.exists()
    for link in links:
        assert Referral.objects.filter(patient=link.patient, referring_provider__membership=link.physician).exists()


def test_seed_demo_physicians_home_card_counts_what_my_patients_lists(seeded_demo, settings, client):
    settings.DEBUG = True
    client.force_login(Membership.objects.get(user__email="physician@riverside.example").user)
    home = client.get(reverse("clinic_home", args=["riverside"])).content.decode()
    listed = client.get(reverse("my_patients", args=["riverside"])).context["page"].paginator.count
    assert f'<span class="stat-number">{listed}</span>' in home and listed > 0


def test_seed_demo_refuses_to_run_in_production(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")


def test_create_clinic_makes_the_clinic_and_invites_its_first_admin(db, capsys):
    from clinic.models import Invitation, User

    User.objects.create_superuser("root@platform.test", "a-long-unusual-pass")
    call_command("create_clinic", "eastside", "Eastside Rehab", "--admin-email", "boss@eastside.test")
    invitation = Invitation.objects.get(clinic__slug="eastside")
    assert (invitation.email, invitation.roles) == ("boss@eastside.test", ["admin"])
    assert "/invite/" in capsys.readouterr().out


def test_create_clinic_refuses_a_taken_slug_and_changes_nothing(db):
    from clinic.models import User

    User.objects.create_superuser("root@platform.test", "a-long-unusual-pass")
    Clinic.objects.create(name="Eastside", slug="eastside")
    with pytest.raises(CommandError):
        call_command("create_clinic", "eastside", "Another", "--admin-email", "boss@eastside.test")
    assert Clinic.objects.count() == 1
