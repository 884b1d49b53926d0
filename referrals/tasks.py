"""Celery tasks of the referrals app: thin and idempotent."""

from celery import shared_task

from referrals import services


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def send_referral_notification(notification_id: int) -> bool:
    return services.referral_notification_send(notification_id=notification_id)
