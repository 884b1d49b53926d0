"""Exports of the dashboard: each table as CSV or XLSX (streamed), and every observation of the period as
CSV, written by a Celery task into the clinic's private storage with its progress in a KpiExport row.

Nothing is held whole in memory: the small tables stream row by row (CSV) or from a temporary file
(openpyxl's write-only workbook writes rows as they come); the observations are copied out of
PostgreSQL with COPY in chunks into a temporary file, then handed to Django's storage.
"""

import datetime
import logging
import tempfile

import psycopg
from django.core.files import File
from django.db import connection, transaction
from django.http import FileResponse, Http404
from django.utils import timezone
from openpyxl import Workbook

from clinic import audit
from clinic.csvexport import csv_response, neutralize
from clinic.models import AuditEntry, Clinic, Membership
from outcomes.kpis.dashboard import Table
from outcomes.kpis.models import KpiExport
from outcomes.kpis.queries import KpiFilters, Sql

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROGRESS_EVERY = 50_000  # rows between two progress updates of the export row


def table_filename(clinic: Clinic, table: Table, filters: KpiFilters, extension: str) -> str:
    return f"{table.key}-{clinic.slug}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.{extension}"


def table_download(request, *, board, form, kind: str):
    """The board's table named by ?table= as "CSV" or "XLSX", recorded in the audit trail as an export (the KPI
    dashboard's and the financial KPIs' tables)."""
    try:
        table = board.table(request.GET.get("table", ""))
    except StopIteration:
        raise Http404 from None
    record_download(request, f"the table {table.title} as {kind}", form)
    write = csv_table if kind == "CSV" else xlsx_table
    return write(request.clinic, table, board.filters)


def record_download(request, what: str, form) -> None:
    """A download of a board's figures, with its period and chosen filters, as an export in the audit trail."""
    filters = form.filters()
    audit.record_access(
        clinic=request.clinic, actor=request.user, obj=request.clinic, request=request, event=AuditEntry.Event.EXPORT,
        detail=f"Downloaded {what}, {filters.start} to {filters.end}"
               + "".join(f", {label}: {choice}" for label, choice in form.chosen()),
    )  # fmt: skip


def csv_table(clinic: Clinic, table: Table, filters: KpiFilters):
    return csv_response(table_filename(clinic, table, filters, "csv"), table.header, table.rows)


def xlsx_table(clinic: Clinic, table: Table, filters: KpiFilters) -> FileResponse:
    """A write-only workbook (rows go to disk as they are appended), streamed from a temporary file."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.title[:31])
    sheet.append(table.header)
    for row in table.rows:
        # Numbers stay numbers; text that a spreadsheet would read as a formula gets a leading quote.
        sheet.append([neutralize(cell) if isinstance(cell, str) else cell for cell in row])
    spooled = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
    workbook.save(spooled)
    spooled.seek(0)
    response = FileResponse(spooled, content_type=XLSX_TYPE, as_attachment=True,
                            filename=table_filename(clinic, table, filters, "xlsx"))  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


# --- The observations export (Celery) ----------------------------------------------------------------


def filters_to_json(filters: KpiFilters) -> dict:
    return {"start": filters.start.isoformat(), "end": filters.end.isoformat(), "program": filters.program_id,
            "physician": filters.physician_id, "staff": filters.staff_id}  # fmt: skip


def filters_from_json(data: dict) -> KpiFilters:
    return KpiFilters(
        start=datetime.date.fromisoformat(data["start"]), end=datetime.date.fromisoformat(data["end"]),
        program_id=data.get("program"), physician_id=data.get("physician"), staff_id=data.get("staff"),
    )  # fmt: skip


def export_request(*, clinic: Clinic, actor: Membership, filters: KpiFilters) -> KpiExport:
    """The export row first, then the task (after commit): a dead broker leaves a pending row that
    `exports_run_pending` picks up."""
    from outcomes.kpis import tasks

    with transaction.atomic():
        export = KpiExport.objects.create(clinic=clinic, requested_by=actor, filters=filters_to_json(filters))
        transaction.on_commit(lambda: tasks.enqueue_export(clinic.pk, export.pk))
    return export


def _neutralized(column: str) -> str:
    """SQL for a text column with clinic.csvexport's quote before what a spreadsheet would read as a formula."""
    starts = "'=', '+', '-', '@', chr(9), chr(13)"
    return f"CASE WHEN left({column}, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"


OBSERVATIONS_HEADER = ["observed_at", "mrn", "program", "measure_code", "measure", "value", "unit", "phase", "source"]
OBSERVATIONS_SQL = """
SELECT to_char(o.observed_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'), {mrn}, {program}, m.code, m.name,
       o.value, o.unit, o.phase, o.source
FROM clinic_observation o
JOIN clinic_patient pt ON pt.id = o.patient_id AND pt.clinic_id = %(clinic)s
JOIN clinic_measure m ON m.id = o.measure_id
LEFT JOIN clinic_enrollment e ON e.id = o.enrollment_id AND e.clinic_id = %(clinic)s
LEFT JOIN clinic_program p ON p.id = e.program_id AND p.clinic_id = %(clinic)s
WHERE o.clinic_id = %(clinic)s AND o.observed_at >= %(start_at)s AND o.observed_at < %(end_at)s {enrollment}
ORDER BY o.observed_at, o.id
"""


COUNT_SQL = "SELECT count(*) FROM ({query}) AS observations"


def observations_sql(clinic: Clinic, filters: KpiFilters) -> tuple[str, dict]:
    sql = Sql(clinic, filters)
    enrollment = sql.enrollment()
    if enrollment:  # an enrollment filter leaves out observations without an enrollment
        enrollment = " AND e.id IS NOT NULL" + enrollment
    query = OBSERVATIONS_SQL.format(mrn=_neutralized("pt.mrn"), program=_neutralized("p.name"), enrollment=enrollment)
    return query, sql.params


def observations_count(clinic: Clinic, filters: KpiFilters) -> int:
    query, params = observations_sql(clinic, filters)
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL.format(query=query), params)
        return cursor.fetchone()[0]


def observations_copy(clinic: Clinic, filters: KpiFilters, out, progress=None) -> int:
    """Write the observations as CSV (header first) to the binary file `out`, with PostgreSQL's COPY: chunks
    of bytes, never the whole result. `progress(rows)` is called every PROGRESS_EVERY rows."""
    query, params = observations_sql(clinic, filters)
    with connection.cursor() as cursor:
        # COPY takes no parameters: let the driver quote them into the statement (a client-side cursor does;
        # the connection's own cursors leave binding to the server, settings.DB_PREPARED_STATEMENTS).
        statement = psycopg.ClientCursor(cursor.cursor.connection).mogrify(query, params)
        out.write((",".join(OBSERVATIONS_HEADER) + "\n").encode())
        rows = reported = 0
        with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                out.write(chunk)
                rows += bytes(chunk).count(b"\n")
                if progress and rows - reported >= PROGRESS_EVERY:
                    progress(rows)
                    reported = rows
    return rows


def export_run(*, export_id: int) -> KpiExport | None:
    """Write one pending export (the task's body; safe to run twice: a finished row is left alone, and a
    row another worker holds is skipped)."""
    with transaction.atomic():
        export = KpiExport.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
        if export is None or export.is_finished:
            return export
        export.status = KpiExport.Status.RUNNING
        export.save(update_fields=["status"])
    clinic = Clinic.objects.get(pk=export.clinic_id)
    filters = filters_from_json(export.filters)
    try:
        total = observations_count(clinic, filters)
        KpiExport.objects.filter(pk=export.pk).update(rows_total=total)

        def progress(rows):
            KpiExport.objects.filter(pk=export.pk).update(rows_done=rows)

        with tempfile.TemporaryFile() as out:
            rows = observations_copy(clinic, filters, out, progress)
            out.seek(0)
            export.file.save(export.filename, File(out), save=False)
        KpiExport.objects.filter(pk=export.pk).update(
            file=export.file.name, rows_done=rows, rows_total=rows, status=KpiExport.Status.READY,
            finished_at=timezone.now(),
        )  # fmt: skip
    except Exception:
        logger.exception("Observation export %s failed", export.pk)
        KpiExport.objects.filter(pk=export.pk).update(
            status=KpiExport.Status.FAILED, error="The export could not be written.", finished_at=timezone.now()
        )
    export.refresh_from_db()
    return export
