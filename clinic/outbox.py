"""Messages that are never lost and never sent twice.

A service that causes an email calls `message_queue` inside its transaction: the message is a row
(`OutboundMessage`), saved with the change or not at all. After commit a Celery task is asked to send
it at once; if Redis is down or the worker dies, `messages_send_due` (Celery beat, every minute)
sends what is still unsent a minute later (both a minute unless OUTBOX_SWEEP_SECONDS says otherwise).
`message_send` sends while holding the row's lock and marks it sent in the same transaction, so two
senders never both send it.

The one gap left: a sender killed after the mail server accepted the message but before its
transaction committed sends it again later. Holding the lock across the send keeps that window to
the mail server's reply.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from clinic import rls
from clinic.models import Clinic, OutboundMessage

logger = logging.getLogger("medfit.outbox")

# Messages younger than this are the after-commit task's to send; the sweeper takes the rest.
SWEEP_AFTER = datetime.timedelta(seconds=settings.OUTBOX_SWEEP_SECONDS)
MAX_RETRY_DELAY = datetime.timedelta(hours=1)


def message_queue(
    *, clinic: Clinic, kind: str, key: str, to_email: str, subject: str, body: str, erase_body_after_send=False
) -> OutboundMessage:
    """Queue one message per (clinic, key): queuing the same event twice keeps the first."""
    message, created = OutboundMessage.objects.get_or_create(
        clinic=clinic,
        key=key,
        defaults={
            "kind": kind, "to_email": to_email, "subject": subject, "body": body,
            "erase_body_after_send": erase_body_after_send,
        },
    )  # fmt: skip
    if created:
        transaction.on_commit(lambda: request_send(message))
    return message


def request_send(message: OutboundMessage) -> None:
    """Ask the worker to send now. A broker outage only delays the message (the sweeper sends it), so
    it must never turn the change that was just committed into an error page."""
    from clinic import tasks  # tasks import this module

    try:
        tasks.send_message.delay(message.clinic_id, message.pk)
    except Exception as error:  # noqa: BLE001 (any broker failure: the row is safe, the sweeper sends it)
        extra = {"message_id": message.pk, "error": type(error).__name__}
        logger.warning("could not reach the worker; the sweeper will send the message", extra=extra)


def message_send(*, message_id: int) -> bool:
    """Send the message unless it was sent already or another sender holds it. True if sent now."""
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None or message.sent_at is not None:
            return False
        try:
            send_mail(subject=message.subject, message=message.body, from_email=None, recipient_list=[message.to_email])
        except Exception as error:  # noqa: BLE001 (the mail server's failure is recorded and retried)
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:200]
            message.next_attempt_at = timezone.now() + min(MAX_RETRY_DELAY, SWEEP_AFTER * 2**message.attempts)
            message.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            logger.warning("message not sent", extra={"message_id": message.pk, "error": type(error).__name__})
            return False
        message.sent_at = timezone.now()
        message.attempts += 1
        if message.erase_body_after_send:
            message.body = ""
        message.save(update_fields=["sent_at", "attempts", "body"])
    return True


def messages_send_due() -> int:
    """Send every message left unsent for a minute, clinic by clinic (row-level security). Safe to
    run twice at once: each message is sent by whichever run locks it first."""
    sent = 0
    cutoff = timezone.now() - SWEEP_AFTER
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)):
            due = OutboundMessage.objects.filter(
                clinic_id=clinic_id, sent_at__isnull=True, created_at__lte=cutoff, next_attempt_at__lte=timezone.now()
            )
            for message_id in due.order_by("next_attempt_at").values_list("pk", flat=True):
                sent += message_send(message_id=message_id)
    return sent
