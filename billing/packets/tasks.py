"""Celery tasks of the documentation packets: thin wrappers around billing/packets/services.py."""

from celery import shared_task
from django.conf import settings

from billing.packets import services
from clinic import rls

LIMIT = settings.PACKET_TIME_LIMIT_SECONDS


# Routed to the "reports" queue (settings.CELERY_TASK_ROUTES), with the progress reports: PDF work has its own
# worker with a memory cap. The soft limit raises inside the render (the row goes back to the queue); the hard
# limit kills the process (the sweeper gives the row back).
@shared_task(acks_late=True, soft_time_limit=LIMIT * 3 // 4, time_limit=LIMIT)
def render_packet(clinic_id: int, packet_id: int) -> bool:
    with rls.scoped(rls.clinic_scope(clinic_id)):
        return services.packet_render(packet_id=packet_id)


@shared_task(acks_late=True)
def sweep_packets() -> int:
    """Celery beat, every 5 minutes: packets no worker took (Redis outage) or a dead worker left, queued again."""
    return services.packets_sweep()
