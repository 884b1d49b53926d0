"""Documentation packets: a row first, then the queue; rendered once, never lost.

- `packet_request_create` writes a `PacketRequest` row and asks the worker to render it after commit. While it
  is pending it is unique per kind, enrollment (or program, for a batch) and period, so a second click, or two
  at once, gives back the first row.
- `packet_render` (the task, on the "reports" queue with the progress reports) claims the row with
  `SELECT … FOR UPDATE SKIP LOCKED` while it is queued, marks it rendering (committed, so the page can show
  it), renders outside any transaction, then stores the files and marks it ready in one transaction, if the row
  is still its own (same `started_at`). A second delivery of the task finds the row taken and does nothing.
  A batch renders one packet per enrollment into a ZIP on disk, counting them in `items_done` for the page's
  progress bar.
- `packets_sweep` (Celery beat) queues again what no worker took (Redis was down) and what a worker left
  rendering past twice the hard time limit (it was killed).
"""

import datetime
import logging
import tempfile
import zipfile
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from billing.packets import content, document
from billing.packets.models import PENDING, PacketRequest
from billing.rules import Rules
from clinic import requested_files
from clinic.models import Clinic, Enrollment, Membership, Program
from scheduling.models import SessionLog

logger = logging.getLogger("medfit.packets")

MAX_PERIOD_DAYS = 366
MAX_ATTEMPTS = 3
REQUEUE_AFTER = datetime.timedelta(minutes=settings.REPORT_REQUEUE_MINUTES)
RENDERING_GIVEN_UP_AFTER = datetime.timedelta(seconds=settings.PACKET_TIME_LIMIT_SECONDS * 2)
PACKET_PROGRAMS = (*content.REHAB_TYPES, *content.DPP_TYPES)


def kind_of(program: Program) -> str:
    return PacketRequest.Kind.DPP if program.program_type in content.DPP_TYPES else PacketRequest.Kind.REHAB


def _validate(program: Program, period_start, period_end, today) -> None:
    errors = {}
    if program.program_type not in PACKET_PROGRAMS:
        errors["program"] = "Packets are made for cardiac rehab, intensive cardiac rehab, pulmonary rehab and DPP."
    if period_start > period_end:
        errors["period_end"] = "The period must end on or after its first day."
    elif (period_end - period_start).days >= MAX_PERIOD_DAYS:
        errors["period_start"] = "A packet covers at most a year."
    if period_start > today:
        errors["period_start"] = "The period cannot start in the future."
    if errors:
        raise ValidationError(errors)


def packet_request_create(
    *, clinic: Clinic, actor: Membership, period_start, period_end, enrollment: Enrollment | None = None,
    program: Program | None = None,
) -> tuple[PacketRequest, bool]:  # fmt: skip
    """The packet of `enrollment`, or the batch of `program`'s packets, over the period; queued after commit.
    Returns (row, created): a pending request for the same packet is given back instead of a second one."""
    if (enrollment is None) == (program is None):
        raise ValueError("Give an enrollment or a program.")
    program = enrollment.program if enrollment else program
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(clinic.timezone))
    _validate(program, period_start, period_end, today)
    kind = PacketRequest.Kind.BATCH if enrollment is None else kind_of(program)
    same = {"clinic": clinic, "kind": kind, "period_start": period_start, "period_end": period_end}
    same.update({"enrollment": enrollment} if enrollment else {"program": program})
    with transaction.atomic():
        pending = PacketRequest.objects.filter(**same, status__in=PENDING).first()
        if pending is not None:
            return pending, False
        try:
            with transaction.atomic():  # a savepoint: the same request at the same moment is the unique constraint's
                packet = PacketRequest.objects.create(
                    **{**same, "program": program, "requested_by": actor},
                    patient_id=enrollment.patient_id if enrollment else None,
                )
        except IntegrityError:
            return PacketRequest.objects.get(**same, status__in=PENDING), False
        transaction.on_commit(lambda: request_render(packet))
    return packet, True


def request_render(packet: PacketRequest) -> None:
    """Ask the worker to render now. A broker outage only delays the packet (the sweeper queues it again)."""
    from billing.packets import tasks

    try:
        tasks.render_packet.delay(packet.clinic_id, packet.pk)
    except Exception as error:  # noqa: BLE001 (any broker failure: the row is safe, the sweeper queues it)
        logger.warning("could not reach the worker; the sweeper will queue the packet",
                       extra={"packet_id": packet.pk, "error": type(error).__name__})  # fmt: skip


# --- Rendering -----------------------------------------------------------------------------------


def batch_enrollments(packet: PacketRequest) -> list[Enrollment]:
    """The program's enrollments with an attended session in the period, by patient."""
    tz = zoneinfo.ZoneInfo(packet.clinic.timezone)
    start = datetime.datetime.combine(packet.period_start, datetime.time.min, tzinfo=tz)
    end = datetime.datetime.combine(packet.period_end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    attended = SessionLog.objects.filter(
        clinic=packet.clinic, attendance__in=SessionLog.ATTENDED, occurrence__starts_at__gte=start,
        occurrence__starts_at__lt=end,
    )  # fmt: skip
    return list(
        Enrollment.objects.filter(clinic=packet.clinic, program=packet.program, pk__in=attended.values("enrollment_id"))
        .select_related("patient", "program")
        .order_by("patient__last_name", "patient__first_name", "pk")
    )


def _claim(packet_id: int) -> PacketRequest | None:
    with transaction.atomic():
        packet = (
            PacketRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=packet_id, status=PacketRequest.Status.QUEUED)
            .first()
        )
        if packet is None:
            return None
        packet.status = PacketRequest.Status.RENDERING
        packet.started_at = timezone.now()
        packet.attempts += 1
        packet.items_done = 0
        packet.save(update_fields=["status", "started_at", "attempts", "items_done"])
    return PacketRequest.objects.select_related("clinic", "program", "enrollment", "requested_by__user").get(
        pk=packet.pk
    )


def _still_ours(packet: PacketRequest) -> PacketRequest | None:
    current = PacketRequest.objects.select_for_update().get(pk=packet.pk)
    if current.status != PacketRequest.Status.RENDERING or current.started_at != packet.started_at:
        return None
    return current


def _progress(packet: PacketRequest, **counts) -> None:
    PacketRequest.objects.filter(pk=packet.pk, started_at=packet.started_at).update(**counts)


def file_stem(enrollment: Enrollment, packet: PacketRequest) -> str:
    return slugify(f"{enrollment.patient.mrn} {enrollment.program.name} {packet.period_start} {packet.period_end}")


def _render_one(packet: PacketRequest, enrollment: Enrollment, rules: Rules):
    """(pdf bytes, csv columns, csv rows) of one enrollment's packet."""
    data = content.packet_content(
        clinic=packet.clinic, enrollment=enrollment, period_start=packet.period_start, period_end=packet.period_end,
        rules=rules,
    )  # fmt: skip
    pdf = document.packet_pdf(data, requested_by=packet.requested_by)
    return pdf, document.csv_columns(data), list(document.csv_rows(data))


def _render_single(packet: PacketRequest, pdf_out, csv_out) -> list[int]:
    _progress(packet, items_total=1)
    pdf, columns, rows = _render_one(packet, packet.enrollment, Rules())
    pdf_out.write(pdf)
    document.write_csv(csv_out, [columns, *rows])
    return [packet.enrollment_id]


def _render_batch(packet: PacketRequest, zip_out, csv_out) -> list[int]:
    """One PDF per enrollment in the ZIP, written as it is made (never all in memory), and one CSV of every
    packet's rows, in the ZIP and beside it."""
    enrollments = batch_enrollments(packet)
    _progress(packet, items_total=len(enrollments))
    rules, header_written = Rules(), False
    with zipfile.ZipFile(zip_out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, enrollment in enumerate(enrollments, start=1):
            pdf, columns, rows = _render_one(packet, enrollment, rules)
            archive.writestr(f"{file_stem(enrollment, packet)}-{enrollment.pk}.pdf", pdf)
            document.write_csv(csv_out, rows if header_written else [columns, *rows])
            header_written = True
            _progress(packet, items_done=done)
        if not header_written:
            document.write_csv(csv_out, [document.columns_for(packet.program)])
        csv_out.flush()
        csv_out.seek(0)
        archive.writestr("packets.csv", csv_out.read())
    return [enrollment.pk for enrollment in enrollments]


def _store(packet: PacketRequest, main, main_name: str, csv_file, enrollment_ids: list[int]) -> bool:
    with transaction.atomic():
        current = _still_ours(packet)
        if current is None:
            logger.warning("packet rendered after it was given to another worker; result dropped",
                           extra={"packet_id": packet.pk})  # fmt: skip
            return False
        main.seek(0)
        csv_file.seek(0)
        current.file.save(main_name, File(main), save=False)
        current.csv_file.save("packet.csv", ContentFile(csv_file.read().encode()), save=False)
        stored = [current.file.name, current.csv_file.name]
        try:
            current.status, current.finished_at, current.error = PacketRequest.Status.READY, timezone.now(), ""
            current.enrollment_ids = enrollment_ids
            current.items_done = current.items_total = max(len(enrollment_ids), current.items_total)
            current.save(update_fields=["file", "csv_file", "status", "finished_at", "error", "enrollment_ids",
                                        "items_done", "items_total"])  # fmt: skip
        except BaseException:
            for name in stored:  # the row was not marked ready: no file without its row
                current.file.storage.delete(name)
            raise
    return True


def _record_failure(packet: PacketRequest, error: BaseException) -> None:
    """Back to the queue (the sweeper retries) until MAX_ATTEMPTS, then failed. Only the error's type is kept:
    its text can quote the data being rendered."""
    with transaction.atomic():
        current = _still_ours(packet)
        if current is None:
            return
        if current.attempts >= MAX_ATTEMPTS:
            current.status, current.finished_at = PacketRequest.Status.FAILED, timezone.now()
            current.error = f"Not rendered ({type(error).__name__}) after {current.attempts} attempts."
        else:
            current.status, current.queued_at = PacketRequest.Status.QUEUED, timezone.now()
            current.error = f"Not rendered ({type(error).__name__}); attempt {current.attempts}."
        current.save(update_fields=["status", "finished_at", "queued_at", "error"])


def packet_render(*, packet_id: int) -> bool:
    """Render a queued packet or batch, store it and mark it ready. True if this call made it; a second call,
    or a call for a row another worker holds, does nothing."""
    packet = _claim(packet_id)
    if packet is None:
        return False
    with tempfile.TemporaryFile() as main, tempfile.TemporaryFile(mode="w+", newline="") as csv_out:
        try:
            if packet.is_batch:
                ids, name = _render_batch(packet, main, csv_out), "packets.zip"
            else:
                ids, name = _render_single(packet, main, csv_out), "packet.pdf"
        except Exception as error:  # noqa: BLE001 (the soft time limit included: recorded, retried by the sweeper)
            logger.warning("packet not rendered", extra={"packet_id": packet.pk, "error": type(error).__name__})
            _record_failure(packet, error)
            return False
        return _store(packet, main, name, csv_out, ids)


# --- The sweeper ---------------------------------------------------------------------------------


def packets_sweep(*, now: datetime.datetime | None = None) -> int:
    """Queue again, clinic by clinic, what no worker took and what a dead worker left. Returns how many."""
    return requested_files.requeue_stalled(
        PacketRequest, request_render=request_render, now=now or timezone.now(), requeue_after=REQUEUE_AFTER,
        given_up_after=RENDERING_GIVEN_UP_AFTER, max_attempts=MAX_ATTEMPTS,
    )  # fmt: skip
