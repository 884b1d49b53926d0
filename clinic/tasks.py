"""Celery tasks: thin, idempotent wrappers around services."""

from celery import shared_task

from clinic import services


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: int, raw_token: str) -> bool:
    return services.invitation_send_email(invitation_id=invitation_id, raw_token=raw_token)
