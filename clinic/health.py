"""State of the database, Redis and the Celery worker, for /healthz."""

import time

import redis
from django.conf import settings
from django.core.cache import caches
from django.db import connection

from clinic.celery import HEARTBEAT_KEY

REDIS_TIMEOUT_SECONDS = 1


def _check(probe) -> dict:
    try:
        return probe()
    except Exception as error:  # noqa: BLE001  (any failure means "down"; the type says why)
        return {"ok": False, "error": type(error).__name__}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _redis():
    client = redis.Redis.from_url(
        settings.CACHES["redis"]["LOCATION"],
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        return {"ok": client.ping()}
    finally:
        client.close()


def _worker():
    beat = caches["redis"].get(HEARTBEAT_KEY)
    if beat is None:
        return {"ok": False, "error": "no heartbeat"}
    age = time.time() - beat
    return {"ok": age <= settings.WORKER_HEARTBEAT_MAX_AGE, "heartbeat_age_seconds": round(age, 1)}


def health_report() -> dict:
    checks = {"database": _check(_database), "redis": _check(_redis), "worker": _check(_worker)}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "down", "checks": checks}
