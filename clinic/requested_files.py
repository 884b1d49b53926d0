"""What the files people ask for and a worker makes share, whichever app makes them: the beat jobs that take up
the requests a broker outage or a killed worker left behind, every clinic in its own scope.

- Rendered files (progress reports, documentation packets: rows with `status`, `attempts`, `queued_at`,
  `started_at`, `finished_at`, `error`) go back on the queue: `requeue_stalled`.
- Exports (the KPI observations, the CDC DPRP file: rows with `status` and `created_at`) are run by the beat job
  itself: `run_pending`.
"""

import datetime
import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from clinic import rls
from clinic.models import Clinic

logger = logging.getLogger(__name__)


def requeue_stalled(
    model, *, request_render: Callable, now: datetime.datetime, requeue_after: datetime.timedelta,
    given_up_after: datetime.timedelta, max_attempts: int,
) -> int:  # fmt: skip
    """Every clinic's requests of `model` that no worker took for `requeue_after`, or that have been rendering for
    longer than `given_up_after` (the worker was killed or ran out of memory), queued again and handed to
    `request_render` once committed; after `max_attempts` renders, failed. A clinic whose sweep fails is logged and
    the others go on. Returns how many were queued again."""
    count = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        try:
            with rls.scoped(rls.clinic_scope(clinic_id)):
                count += _requeue_stalled_of_clinic(
                    model, clinic_id, request_render=request_render, now=now, requeue_after=requeue_after,
                    given_up_after=given_up_after, max_attempts=max_attempts,
                )  # fmt: skip
        except Exception:
            logger.exception("sweep failed for a clinic", extra={"clinic_id": clinic_id, "model": model.__name__})
    return count


def _requeue_stalled_of_clinic(
    model, clinic_id: int, *, request_render, now, requeue_after, given_up_after, max_attempts
) -> int:
    lost = model.objects.filter(clinic_id=clinic_id, status=model.Status.QUEUED, queued_at__lte=now - requeue_after)
    abandoned = model.objects.filter(
        clinic_id=clinic_id, status=model.Status.RENDERING, started_at__lte=now - given_up_after
    )
    requeued = []
    with transaction.atomic():
        for request in (lost | abandoned).select_for_update(skip_locked=True).order_by("queued_at")[:500]:
            if request.status == model.Status.RENDERING and request.attempts >= max_attempts:
                request.status, request.finished_at = model.Status.FAILED, now
                request.error = f"The renderer stopped (killed or out of memory) {request.attempts} times."
            else:
                if request.status == model.Status.RENDERING:
                    request.error = "The renderer stopped (killed or out of memory); queued again."
                request.status, request.queued_at = model.Status.QUEUED, now
                requeued.append(request)
            request.save(update_fields=["status", "queued_at", "finished_at", "error"])
        for request in requeued:
            transaction.on_commit(lambda request=request: request_render(request))
    return len(requeued)


def run_pending(model, run: Callable, *, waited: datetime.timedelta = datetime.timedelta(minutes=1)) -> int:
    """Every clinic's exports of `model` still pending after `waited` (the worker was never asked, or died), each
    run here by `run(export_id=…)`. Returns how many."""
    cutoff = timezone.now() - waited
    done = 0
    for clinic_id in Clinic.objects.order_by("pk").values_list("pk", flat=True):
        with rls.scoped(rls.clinic_scope(clinic_id)):
            pending = model.objects.filter(clinic_id=clinic_id, status=model.Status.PENDING, created_at__lt=cutoff)
            for export_id in pending.values_list("pk", flat=True):
                run(export_id=export_id)
                done += 1
    return done
