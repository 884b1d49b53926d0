"""Celery tasks: thin, idempotent wrappers around services, each in the clinic it was given."""

from celery import shared_task

from clinic import outbox, pgcache, rls
from clinic.treatment_plans import digest


@shared_task(acks_late=True)
def send_message(clinic_id: int, message_id: int) -> bool:
    with rls.scoped(rls.clinic_scope(clinic_id)):
        return outbox.message_send(message_id=message_id)


@shared_task(acks_late=True)
def send_due_messages() -> int:
    """Celery beat, every minute: what Redis, a killed worker or a mail server left unsent."""
    return outbox.messages_send_due()


@shared_task(acks_late=True)
def queue_itp_due_digests() -> int:
    """Celery beat, hourly: each physician's daily count of plans due (clinic/treatment_plans/digest.py)."""
    return digest.itp_due_digests_queue()


@shared_task(acks_late=True)
def delete_expired_cache_entries() -> int:
    """Celery beat, every 15 minutes: the default cache's expired rows (clinic/pgcache.py)."""
    return pgcache.expired_entries_delete()
