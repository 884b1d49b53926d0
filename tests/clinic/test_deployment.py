import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["web", "worker", "reports-worker", "beat"]
REQUIRED_IN_PRODUCTION = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
# Read by the processes the image runs rather than by Django's settings.
READ_OUTSIDE_SETTINGS = {"WEB_CONCURRENCY"}


def settings_variables() -> set[str]:
    source = (ROOT / "clinic" / "settings.py").read_text()
    return set(re.findall(r"""(?:os\.environ\.get|env_bool|env_list)\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict:
    return compose()["services"][name]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(name: str) -> str:
    value = service(name)["command"]
    return " ".join(value) if isinstance(value, list) else value


def test_settings_read_every_variable_production_requires():
    assert settings_variables() >= REQUIRED_IN_PRODUCTION


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_the_variables_production_requires(name):
    missing = (REQUIRED_IN_PRODUCTION & settings_variables()) - environment(name).keys()
    assert not missing, f"{name} lacks {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_the_database_and_redis_urls(name):
    env = environment(name)
    assert env["DATABASE_URL"] == "postgres://medfit_app:${APP_DB_PASSWORD:-medfit-app}@postgres:5432/medfit"
    assert (
        env["DATABASE_OWNER_URL"] == "postgres://medfit_owner:${OWNER_DB_PASSWORD:-medfit-owner}@postgres:5432/medfit"
    )
    assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_app_services_share_one_environment():
    web = environment("web")
    assert all(environment(name) == web for name in APP_SERVICES)


def test_compose_sets_no_variable_the_app_does_not_read():
    unknown = environment("web").keys() - settings_variables() - READ_OUTSIDE_SETTINGS
    assert not unknown


def test_app_services_run_with_debug_off():
    assert environment("web")["DEBUG"].lower() in {"0", "false", "no", "off"}


def test_secret_key_must_come_from_the_environment():
    assert environment("web")["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_https_redirect_is_on_unless_turned_off():
    assert environment("web")["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-1}"


def test_web_migrates_the_database_before_starting_gunicorn():
    web = command("web")
    assert "MEDFIT_DB_ROLE=owner python manage.py migrate" in web
    assert "gunicorn clinic.wsgi" in web
    assert web.index("manage.py migrate") < web.index("gunicorn clinic.wsgi")


def test_web_listens_on_port_8000_on_every_interface():
    assert "--bind 0.0.0.0:8000" in command("web")


def test_worker_runs_a_celery_worker_for_the_clinic_app():
    assert "celery -A clinic worker" in command("worker")


def test_beat_runs_celery_beat_for_the_clinic_app():
    assert "celery -A clinic beat" in command("beat")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_waits_for_the_database_roles_and_healthy_redis(name):
    depends_on = service(name)["depends_on"]
    assert depends_on["dbroles"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_database_roles_are_made_once_postgres_is_healthy():
    assert service("dbroles")["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "python -m clinic.dbroles" in command("dbroles")


def test_postgres_keeps_its_data_in_a_declared_named_volume():
    mounts = [volume.split(":") for volume in service("postgres")["volumes"] if isinstance(volume, str)]
    named = [source for source, target, *_ in mounts if target == "/var/lib/postgresql/data"]
    assert named and named[0] in (compose().get("volumes") or {})


@pytest.mark.parametrize("name", ["postgres", "redis", *APP_SERVICES])
def test_every_service_has_a_healthcheck(name):
    test = service(name)["healthcheck"]["test"]
    assert test and test not in (["NONE"], "NONE")


def test_compose_defines_exactly_the_expected_services():
    assert set(compose()["services"]) == {"postgres", "redis", "dbroles", *APP_SERVICES}


def test_web_healthcheck_asks_healthz():
    assert "http://127.0.0.1:8000/healthz" in " ".join(service("web")["healthcheck"]["test"])


def test_image_runs_as_a_non_root_user():
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_docker_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", "staticfiles"} <= ignored


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run manage.py with only the given settings variables (plus the database and Redis in use)."""
    # Nothing from this test run may leak in: neither settings overrides nor DJANGO_* flags
    # (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE, which --deploy rightly rejects).
    overrides = settings_variables() | {"MEDFIT_ALLOW_INSECURE_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in overrides and not k.startswith("DJANGO_")}
    env.update(ALLOWED_HOSTS="medfit.example", DJANGO_SETTINGS_MODULE="clinic.settings", **variables)
    for key in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(45)
    )  # 60 characters
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in result.stdout, output


@pytest.mark.parametrize(
    "variables",
    [
        {"SECRET_KEY": settings.DEVELOPMENT_SECRET_KEY},
        {"MEDFIT_ALLOW_INSECURE_KEY": "1"},  # the escape hatch that once let it through
    ],
)
def test_without_debug_the_app_refuses_the_development_key(variables):
    result = manage("check", DEBUG="0", **variables)
    assert result.returncode != 0
    assert "Set SECRET_KEY to a key of your own" in result.stderr


def test_deploy_check_fails_on_the_development_key():
    result = manage("check", "--deploy", DEBUG="1")  # DEBUG=1 without SECRET_KEY uses the development key
    assert result.returncode != 0
    assert "medfit.E001" in result.stderr, result.stdout + result.stderr
