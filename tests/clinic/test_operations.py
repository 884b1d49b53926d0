"""Health check, structured request logs without patient data, management commands."""

import json
import logging

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from clinic.celery import HEARTBEAT_KEY, write_heartbeat
from clinic.models import Clinic


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


def test_a_worker_started_while_redis_is_down_survives_its_heartbeat(settings):
    redis_cache = {**settings.CACHES["redis"], "LOCATION": "unix:///nonexistent/redis.sock"}
    settings.CACHES = {**settings.CACHES, "redis": redis_cache}
    write_heartbeat()  # raised before, and the worker stopped with "Unrecoverable error"


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
