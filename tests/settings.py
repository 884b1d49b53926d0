"""Test settings: the real PostgreSQL and Redis (a Redis database of their own), no HTTPS redirect."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-test-suite-only-0123456789abcdef")

from clinic.settings import *  # noqa: E402, F403
from clinic.settings import REDIS_URL, celery_url  # noqa: E402


def redis_url_with_db(url: str, db: str) -> str:
    """Point a redis:// or unix:// URL at another database number, so tests never touch dev data."""
    if url.startswith("unix://"):
        return url.split("?", 1)[0] + f"?db={db}"
    base, _, last = url.rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def xdist_redis_db(base: str | int) -> str:
    """The Redis database numbered `base` for this test process: under pytest-xdist each worker (gw0, gw1, ...)
    adds its number, so that its cache, its Celery queues and the flushes of either stay its own. Processes
    the tests start inherit PYTEST_XDIST_WORKER and so land on the same database."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    if worker >= MAX_TEST_WORKERS:
        raise RuntimeError(f"at most {MAX_TEST_WORKERS} pytest-xdist workers: Redis has a database each for them")
    return str(int(base) + worker)


# Redis databases: MEDFIT_TEST_REDIS_DB (default 1) and up for the workers' caches and brokers, 5 and up
# for the Celery worker processes some tests start (tests/clinic/test_outbox.py); 0 is the developer's.
MAX_TEST_WORKERS = 4
TEST_REDIS_URL = redis_url_with_db(REDIS_URL, xdist_redis_db(os.environ.get("MEDFIT_TEST_REDIS_DB", "1")))
CACHES = {**CACHES, "redis": {**CACHES["redis"], "LOCATION": TEST_REDIS_URL, "KEY_PREFIX": "medfit-test"}}  # noqa: F405
CELERY_BROKER_URL = celery_url(TEST_REDIS_URL).replace("?db=", "?virtual_host=")
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Tests that run the worker in a process of its own pick a mail stand-in from tests/mailbackends.py.
EMAIL_BACKEND = os.environ.get("MEDFIT_TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Tests that kill a reports worker while it stores a file pick a slow storage stand-in (tests/storages.py).
if os.environ.get("MEDFIT_TEST_STORAGE_BACKEND"):
    STORAGES = {**STORAGES, "default": {"BACKEND": os.environ["MEDFIT_TEST_STORAGE_BACKEND"]}}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; production uses Argon2id
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
LOG_FORMAT = "text"
LOGGING["handlers"]["console"]["formatter"] = "text"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Parallel runs against one server (two checkouts, or CI's two passes) each name their own test database.
if os.environ.get("MEDFIT_TEST_DB"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["MEDFIT_TEST_DB"]}  # noqa: F405
