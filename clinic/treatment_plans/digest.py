"""The physicians' daily email: how many of their patients' plans are due for signature.

Celery beat runs `itp_due_digests_queue` every hour; the first run after ITP_DIGEST_HOUR in a clinic's
own time zone queues one outbox message per physician with plans due (clinic/outbox.py). The message
key names the physician and the local date, so a second run that day, two workers at once, or a
restart queue nothing more: exactly one email per physician per clinic per day. The email carries a
count and a link, never a patient's name (email is not a safe channel for health information).
"""

import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic import rls
from clinic.models import Clinic, OutboundMessage
from clinic.outbox import message_queue
from clinic.treatment_plans.selectors import physicians_with_plans_due


def digest_key(membership_id: int, day) -> str:
    return f"itp_due:{membership_id}:{day.isoformat()}"


def itp_due_digest_queue(*, clinic: Clinic, now=None) -> int:
    """Queue today's email for each physician of the clinic with plans due. How many were new."""
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(clinic.timezone))
    if local.hour < settings.ITP_DIGEST_HOUR:
        return 0
    today = local.date()
    link = f"{settings.SITE_URL.rstrip('/')}/c/{clinic.slug}/portal/plans/"
    due = physicians_with_plans_due(clinic=clinic, today=today)
    keys = {physician: digest_key(physician.pk, today) for physician in due}
    sent_today = set(OutboundMessage.objects.filter(clinic=clinic, key__in=keys.values()).values_list("key", flat=True))
    queued = 0
    for physician, count in due.items():
        if keys[physician] in sent_today:
            continue
        plans = "1 treatment plan is" if count == 1 else f"{count} treatment plans are"
        message_queue(
            clinic=clinic, kind=OutboundMessage.Kind.ITP_DUE, key=keys[physician],
            to_email=physician.user.email, subject=f"{clinic.name}: treatment plans to sign",
            body=(
                f"{plans} due for your signature at {clinic.name} within the next "
                f"{settings.ITP_DUE_WITHIN_DAYS} days, or overdue.\n\nSign in to review and sign them:\n{link}\n"
            ),
        )  # fmt: skip
        queued += 1
    return queued


def itp_due_digests_queue() -> int:
    """Every clinic, each inside its own row-level-security scope."""
    total = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)), transaction.atomic():
            total += itp_due_digest_queue(clinic=Clinic.objects.get(pk=clinic_id))
    return total
