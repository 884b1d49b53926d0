"""Outages degrade, they do not lock people out: Redis or PostgreSQL down, then back."""

import copy
import io
import json
import logging.config
import socket
import time
from contextlib import contextmanager
from unittest.mock import ANY

import psycopg
import pytest
from celery import Celery
from django.core.cache import cache, caches
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from clinic import services
from tests.conftest import PASSWORD

DEAD_REDIS = "unix:///nonexistent/redis.sock"


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {**settings.CACHES, "redis": {**settings.CACHES["redis"], "LOCATION": DEAD_REDIS}}


def sign_in(email, password=PASSWORD):
    client = Client(raise_request_exception=False)  # answer as to a browser, even for a middleware's error
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return client, response


# --- Redis down -------------------------------------------------------------------------------


def test_sign_in_works_while_redis_is_down(team_a, redis_down):
    client, response = sign_in(team_a["billing"].user.email)
    assert response.status_code == 302
    assert client.get(reverse("patient_list", args=[team_a["billing"].clinic.slug])).status_code == 200


def test_signed_in_pages_work_while_redis_is_down(team_a, patient_a, redis_down):
    persona = team_a["physiologist"]
    response = persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]))
    assert response.status_code == 200


def test_api_works_while_redis_is_down(team_a, patient_a, redis_down):
    _, raw = services.api_token_create(membership=team_a["physiologist"].membership, name="x")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.get(f"/api/v1/clinics/{team_a['physiologist'].clinic.slug}/patients/")
    assert response.status_code == 200


def test_wrong_passwords_still_lock_the_account_while_redis_is_down(team_a, redis_down):
    email = team_a["billing"].user.email
    for _ in range(5):
        sign_in(email, "wrong-password-123")
    _, response = sign_in(email, PASSWORD)
    assert "Too many failed login attempts" in response.content.decode()


def test_a_lockout_survives_a_redis_restart_that_lost_its_data(team_a):
    email = team_a["billing"].user.email
    for _ in range(5):
        sign_in(email, "wrong-password-123")
    caches["redis"].clear()
    _, response = sign_in(email, PASSWORD)
    assert "Too many failed login attempts" in response.content.decode()


def test_healthz_is_503_naming_redis_when_redis_is_down(client, db, redis_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


def test_publishing_a_task_to_an_unresponsive_redis_gives_up_within_seconds(settings):
    """A Redis that accepts connections but never answers (hung, or a network partition) must not
    hold a request for the operating system's TCP timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = Celery("probe")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.conf.broker_url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        task = app.task(name="probe.noop")(lambda: None)
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017, PT011  (kombu's OperationalError; any error will do)
            task.delay()
    assert time.monotonic() - started < 5


# --- PostgreSQL down --------------------------------------------------------------------------


@contextmanager
def database_unreachable():
    """As if PostgreSQL were stopped: the default connection points at a socket nobody listens on
    (the shared test server keeps running), and is restored afterwards."""
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="/nonexistent", PORT="")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(original)


@pytest.mark.parametrize("debug", [False, True])
def test_signed_in_pages_answer_a_friendly_503_while_the_database_is_unreachable(
    team_a, transactional_db, settings, debug
):
    settings.DEBUG = debug
    persona = team_a["physiologist"]
    persona.client.raise_request_exception = False  # answer as to a browser
    with database_unreachable():
        response = persona.client.get(reverse("patient_list", args=[persona.clinic.slug]))
    assert response.status_code == 503
    page = response.content.decode()
    assert "temporarily unavailable" in page
    assert 'href="/"' in page
    assert "Traceback" not in page


def test_api_answers_a_json_503_while_the_database_is_unreachable(team_a, transactional_db):
    _, raw = services.api_token_create(membership=team_a["physiologist"].membership, name="x")
    client = Client(headers={"Authorization": f"Bearer {raw}"}, raise_request_exception=False)
    with database_unreachable():
        response = client.get(f"/api/v1/clinics/{team_a['physiologist'].clinic.slug}/patients/")
    assert response.status_code == 503
    assert response.json() == {"message": ANY, "errors": {}}


def test_sign_in_attempts_while_the_database_is_unreachable_do_not_lock_the_account(team_a, transactional_db):
    email = team_a["billing"].user.email
    with database_unreachable():
        answers = {sign_in(email)[1].status_code for _ in range(8)}
    assert answers == {503}
    _, response = sign_in(email)
    assert response.status_code == 302
    cache.clear()  # this test's database commits; its rate-limit counters must not reach the next test


@pytest.mark.parametrize("signed_in", [False, True])
def test_healthz_is_503_naming_the_database_while_it_is_unreachable(team_a, transactional_db, signed_in):
    client = team_a["admin"].client if signed_in else Client()
    client.raise_request_exception = False  # answer as to a browser
    with database_unreachable():
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_first_request_after_postgresql_restarts_succeeds(team_a, transactional_db):
    """conn_health_checks: a kept-alive connection that PostgreSQL dropped (a restart) is noticed and
    replaced at the start of the next request, instead of failing it."""
    persona = team_a["physiologist"]
    persona.client.get(reverse("clinic_home", args=[persona.clinic.slug]))
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    close_old_connections()  # what Django does when each request starts (the test client skips it)
    response = persona.client.get(reverse("patient_list", args=[persona.clinic.slug]))
    assert response.status_code == 200


# --- Error pages ------------------------------------------------------------------------------


def test_unknown_page_is_a_friendly_404_with_a_way_home(team_a):
    response = team_a["admin"].client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert 'href="/"' in response.content.decode()


def test_unknown_api_path_answers_json_404(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found.", "errors": {}}


@pytest.fixture
def failing_views(settings):
    settings.ROOT_URLCONF = "tests.clinic.errorviews"
    return Client(raise_request_exception=False)


def test_a_bug_shows_a_friendly_500_with_a_way_home(failing_views, team_a):
    failing_views.force_login(team_a["admin"].user)
    response = failing_views.get("/c/alpha/failing/4711/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert 'href="/"' in response.content.decode()


def test_a_bug_under_the_api_answers_json_500(failing_views, db):
    response = failing_views.get("/api/v1/failing/4711/")
    assert response.status_code == 500
    assert response.json() == {"message": ANY, "errors": {}}


# --- Logs -------------------------------------------------------------------------------------


@pytest.fixture
def json_log(settings):
    """The production logging configuration (LOG_FORMAT=json) writing into a buffer."""
    buffer = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"].update(formatter="json", stream=buffer)
    config["root"]["level"] = "INFO"
    logging.config.dictConfig(config)
    yield buffer
    logging.config.dictConfig(settings.LOGGING)


def test_a_500_is_logged_as_json_with_the_path_template_not_the_url(failing_views, team_a, json_log, capsys):
    failing_views.force_login(team_a["admin"].user)
    failing_views.get("/c/alpha/failing/4711/")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line.startswith("{")]
    error = next(line for line in lines if line["logger"] == "django.request")
    assert error["message"] == "Internal Server Error: /c/<slug:clinic_slug>/failing/<int:patient_id>/"
    assert "RuntimeError" in error["exc_info"]
    assert "4711" not in json_log.getvalue()
    assert capsys.readouterr().err == ""  # nothing bypassed the formatter (Python's last-resort handler)
