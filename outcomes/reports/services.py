"""Progress reports: a row first, then the queue; rendered once, never lost.

- `report_request_create` (on demand, from the chart or the API) and `reports_schedule` (Celery beat,
  daily: every active enrollment whose last 30-day period has ended) write `ReportRequest` rows and ask
  the worker to render them after commit. A scheduled report is unique per enrollment and period, so the
  beat job may run twice, or twice at once, and still make one.
- `report_render` (the task on the "reports" queue) claims the row with `SELECT … FOR UPDATE SKIP LOCKED`
  while it is queued, marks it rendering (committed, so the chart can show it), renders outside any
  transaction, then stores the file and marks it ready in one transaction, if the row is still its own
  (same `started_at`). A second delivery of the task finds the row taken and does nothing.
- `reports_sweep` (Celery beat, every few minutes) puts back on the queue what no worker took (Redis was
  down when it was queued, the message was lost) and what a worker left rendering past the hard time
  limit (it was killed). A report is delayed, never lost; and never made twice, because a late worker's
  result is thrown away when the row is no longer its own.
- A ready scheduled report is delivered to the referring physician: it is in their report inbox, and an
  email (clinic/outbox.py, queued in the transaction that marks the report ready) says so, with a link
  and no patient data.
"""

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from clinic import outbox, requested_files, rls
from clinic.models import Clinic, Enrollment, Membership, OutboundMessage
from outcomes.reports.models import ReportRequest, report_path
from referrals.models import Referral

logger = logging.getLogger("medfit.reports")

PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
MAX_ATTEMPTS = 3
# Queued this long without a worker taking it: the message was lost (Redis outage); queue it again.
REQUEUE_AFTER = datetime.timedelta(minutes=settings.REPORT_REQUEUE_MINUTES)
# Rendering this long: the worker died (the task's hard time limit is far shorter); give it back.
RENDERING_GIVEN_UP_AFTER = datetime.timedelta(seconds=settings.REPORT_TIME_LIMIT_SECONDS * 2)

ACTIVE_STATUSES = (Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE)


# --- Creating requests ---------------------------------------------------------------------------


def _validate_period(enrollment: Enrollment, period_start, period_end, today) -> None:
    errors = {}
    if period_start > period_end:
        errors["period_end"] = "The period must end on or after its first day."
    elif (period_end - period_start).days >= MAX_PERIOD_DAYS:
        errors["period_start"] = "A report covers at most a year."
    if period_end > today:
        errors["period_end"] = "The period cannot end in the future."
    if period_start < enrollment.start_date - datetime.timedelta(days=MAX_PERIOD_DAYS):
        errors["period_start"] = "The period starts long before this enrollment."
    if errors:
        raise ValidationError(errors)


def report_request_create(
    *, clinic: Clinic, actor: Membership, enrollment: Enrollment, period_start, period_end, comment: str = ""
) -> ReportRequest:
    """An on-demand report of `enrollment` over the period, with the physiologist's comment; queued after commit."""
    _validate_period(enrollment, period_start, period_end, timezone.localdate())
    with transaction.atomic():
        report = ReportRequest.objects.create(
            clinic=clinic, patient_id=enrollment.patient_id, enrollment=enrollment, kind=ReportRequest.Kind.ON_DEMAND,
            period_start=period_start, period_end=period_end, requested_by=actor, comment=comment.strip(),
        )  # fmt: skip
        transaction.on_commit(lambda: request_render(report))
    return report


def next_period(enrollment: Enrollment, last_end: datetime.date | None, today: datetime.date):
    """The latest 30-day period (counted from the enrollment's start) that has ended by `today` and comes
    after the last scheduled report's; None when there is none yet. A long gap gives the latest period,
    not every missed one: the physician wants to know how the patient is doing now."""
    periods_done = (today - enrollment.start_date).days // PERIOD_DAYS
    if periods_done < 1:
        return None
    end = enrollment.start_date + datetime.timedelta(days=PERIOD_DAYS * periods_done - 1)
    if last_end is not None and end <= last_end:
        return None
    return end - datetime.timedelta(days=PERIOD_DAYS - 1), end


def reports_schedule(*, clinic: Clinic, today: datetime.date | None = None) -> list[ReportRequest]:
    """The scheduled report rows due today in the clinic, each created once (the unique constraint decides
    between two runs at once); each new one is queued after its commit. Returns the rows created."""
    today = today or timezone.localdate(timezone=zoneinfo.ZoneInfo(clinic.timezone))
    enrollments = Enrollment.objects.filter(clinic=clinic, status__in=ACTIVE_STATUSES, ended_on__isnull=True)
    last_ends = dict(
        ReportRequest.objects.filter(clinic=clinic, kind=ReportRequest.Kind.SCHEDULED)
        .values_list("enrollment_id")
        .annotate(last=Max("period_end"))
    )
    created = []
    for enrollment in enrollments.only("pk", "patient_id", "start_date").order_by("pk"):
        period = next_period(enrollment, last_ends.get(enrollment.pk), today)
        if period is None:
            continue
        with transaction.atomic():
            report, was_created = ReportRequest.objects.get_or_create(
                clinic=clinic, enrollment=enrollment, period_start=period[0], period_end=period[1],
                kind=ReportRequest.Kind.SCHEDULED, defaults={"patient_id": enrollment.patient_id},
            )  # fmt: skip
            if was_created:
                transaction.on_commit(lambda report=report: request_render(report))
                created.append(report)
    return created


def request_render(report: ReportRequest) -> None:
    """Ask the reports worker to render now. A broker outage only delays the report (the sweeper queues
    it again), so it must never turn the committed request into an error page."""
    from outcomes.reports import tasks

    try:
        tasks.render_report.delay(report.clinic_id, report.pk)
    except Exception as error:  # noqa: BLE001 (any broker failure: the row is safe, the sweeper queues it)
        logger.warning("could not reach the worker; the sweeper will queue the report",
                       extra={"report_id": report.pk, "error": type(error).__name__})  # fmt: skip


# --- Rendering -----------------------------------------------------------------------------------


def _claim(report_id: int) -> ReportRequest | None:
    """Take the queued row for this worker (committed: the chart shows "rendering"); None if it is not queued
    or another worker holds it."""
    with transaction.atomic():
        report = (
            ReportRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=report_id, status=ReportRequest.Status.QUEUED)
            .first()
        )
        if report is None:
            return None
        report.status = ReportRequest.Status.RENDERING
        report.started_at = timezone.now()
        report.attempts += 1
        report.save(update_fields=["status", "started_at", "attempts"])
    return report


def _still_ours(report: ReportRequest) -> ReportRequest | None:
    """The row, locked, if it is still the rendering this worker claimed (the sweeper may have given it away)."""
    current = ReportRequest.objects.select_for_update().get(pk=report.pk)
    if current.status != ReportRequest.Status.RENDERING or current.started_at != report.started_at:
        return None
    return current


def _store(report: ReportRequest, pdf: bytes) -> bool:
    with transaction.atomic():
        current = _still_ours(report)
        if current is None:
            logger.warning("report rendered after it was given to another worker; result dropped",
                           extra={"report_id": report.pk})  # fmt: skip
            return False
        # A file already at this row's name was left by an attempt killed before its commit: no row points
        # at it, and this one holds the row, so it is replaced rather than kept beside the new one.
        storage = current.file.storage
        leftover = report_path(current, "report.pdf")
        if storage.exists(leftover):
            storage.delete(leftover)
        current.file.save("report.pdf", ContentFile(pdf), save=False)
        stored = current.file.name
        try:
            current.status = ReportRequest.Status.READY
            current.finished_at = timezone.now()
            current.error = ""
            current.save(update_fields=["file", "status", "finished_at", "error"])
            _deliver(current)
        except BaseException:
            current.file.storage.delete(stored)  # the row was not marked ready: no file without its row
            raise
    return True


def _record_failure(report: ReportRequest, error: BaseException) -> None:
    """A failed render goes back to the queue (the sweeper retries it) until MAX_ATTEMPTS, then stays failed.
    Only the error's type is kept: its text can quote the data being rendered."""
    with transaction.atomic():
        current = _still_ours(report)
        if current is None:
            return
        if current.attempts >= MAX_ATTEMPTS:
            current.status = ReportRequest.Status.FAILED
            current.finished_at = timezone.now()
            current.error = f"Not rendered ({type(error).__name__}) after {current.attempts} attempts."
        else:
            current.status = ReportRequest.Status.QUEUED
            current.queued_at = timezone.now()
            current.error = f"Not rendered ({type(error).__name__}); attempt {current.attempts}."
        current.save(update_fields=["status", "finished_at", "queued_at", "error"])


def report_render(*, report_id: int) -> bool:
    """Render a queued report, store it and mark it ready. True if this call made it; a second call, or a
    call for a row another worker holds, does nothing."""
    from outcomes.reports.document import report_pdf

    report = _claim(report_id)
    if report is None:
        return False
    try:
        pdf = report_pdf(report)
    except Exception as error:  # noqa: BLE001 (including the soft time limit: recorded, retried by the sweeper)
        logger.warning("report not rendered", extra={"report_id": report.pk, "error": type(error).__name__})
        _record_failure(report, error)
        return False
    return _store(report, pdf)


# --- Delivery ------------------------------------------------------------------------------------


def referring_physician(enrollment_id: int) -> Membership | None:
    """The physician member who referred the patient into this enrollment, if they are a member."""
    referral = (
        Referral.objects.filter(enrollment_id=enrollment_id, referring_provider__membership__isnull=False)
        .select_related("referring_provider__membership__user")
        .first()
    )
    membership = referral.referring_provider.membership if referral else None
    return membership if membership is not None and membership.is_active else None


def _deliver(report: ReportRequest) -> None:
    """A scheduled report's email to the referring physician: that a report is ready and where, nothing about
    the patient (not even the program, which names a condition). In the transaction marking it ready."""
    if report.kind != ReportRequest.Kind.SCHEDULED:
        return
    physician = referring_physician(report.enrollment_id)
    if physician is None:
        return
    clinic = report.clinic
    link = settings.SITE_URL.rstrip("/") + reverse("report_inbox", args=[clinic.slug])
    outbox.message_queue(
        clinic=clinic, kind=OutboundMessage.Kind.REPORT_READY, key=f"report-ready:{report.pk}",
        to_email=physician.user.email, subject=f"A progress report is ready from {clinic.name}",
        body=(f"A progress report for one of your patients is ready at {clinic.name}.\n\n"
              f"Sign in to read it:\n{link}\n"),
    )  # fmt: skip


# --- The sweeper ---------------------------------------------------------------------------------


def reports_sweep(*, now: datetime.datetime | None = None) -> int:
    """Queue again, clinic by clinic, what no worker took and what a dead worker left. Returns how many."""
    return requested_files.requeue_stalled(
        ReportRequest, request_render=request_render, now=now or timezone.now(), requeue_after=REQUEUE_AFTER,
        given_up_after=RENDERING_GIVEN_UP_AFTER, max_attempts=MAX_ATTEMPTS,
    )  # fmt: skip


def reports_schedule_run(*, today: datetime.date | None = None) -> int:
    """The daily beat job: every clinic's due scheduled reports, each clinic in its own scope."""
    count = 0
    for clinic in Clinic.objects.order_by("pk"):
        try:
            with rls.scoped(rls.clinic_scope(clinic.pk)):
                count += len(reports_schedule(clinic=clinic, today=today))
        except Exception:
            logger.exception("report scheduling failed for a clinic", extra={"clinic_id": clinic.pk})
    return count
