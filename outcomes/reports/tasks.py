"""Celery tasks of the progress reports: thin wrappers around outcomes/reports/services.py."""

from celery import shared_task
from django.conf import settings

from clinic import rls
from outcomes.reports import services

LIMIT = settings.REPORT_TIME_LIMIT_SECONDS


# Routed to the "reports" queue (settings.CELERY_TASK_ROUTES). The soft limit raises inside the render (the
# row goes back to the queue); the hard limit kills the process (the sweeper gives the row back).
@shared_task(acks_late=True, soft_time_limit=LIMIT * 3 // 4, time_limit=LIMIT)
def render_report(clinic_id: int, report_id: int) -> bool:
    with rls.scoped(rls.clinic_scope(clinic_id)):
        return services.report_render(report_id=report_id)


@shared_task(acks_late=True)
def schedule_reports() -> int:
    """Celery beat, daily: the rows of the 30-day reports that are due, each queued after its commit."""
    return services.reports_schedule_run()


@shared_task(acks_late=True)
def sweep_reports() -> int:
    """Celery beat, every 5 minutes: reports no worker took (Redis outage) or a dead worker left, queued again."""
    return services.reports_sweep()
