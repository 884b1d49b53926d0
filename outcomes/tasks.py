"""Celery tasks of the outcomes app (found by Celery's autodiscovery), one module per feature."""

from outcomes.kpis.tasks import export_observations, run_pending_exports  # noqa: F401
