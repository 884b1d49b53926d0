"""The Celery application, and a worker heartbeat that /healthz reads."""

import logging
import os
import time

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("medfit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_KEY = "medfit:worker-heartbeat"
HEARTBEAT_INTERVAL = 10
logger = logging.getLogger("medfit.worker")


def write_heartbeat():
    from django.core.cache import caches
    from redis import RedisError

    # Redis, not the default (database) cache: a heartbeat may be lost, and needs no database write. A worker
    # started while Redis is down must not die of it (it was "Unrecoverable error" at start-up): it waits for
    # the broker like any consumer, and /healthz reports it down until a stamp lands.
    try:
        caches["redis"].set(HEARTBEAT_KEY, time.time(), timeout=600)
    except RedisError as error:
        logger.warning("worker heartbeat not written: Redis unreachable (%s)", type(error).__name__)


class HeartbeatStep(bootsteps.StartStopStep):
    """Every few seconds the running worker stamps the time in Redis."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        write_heartbeat()
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_INTERVAL, write_heartbeat)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()


app.steps["worker"].add(HeartbeatStep)
