"""A packet's PDF (templates/billing/pdf/packet.html, WeasyPrint through clinic/pdf.py) and its CSV rows."""

import csv
import io
import zoneinfo
from decimal import Decimal

from django.template.loader import render_to_string
from django.utils import timezone

from billing.packets.content import DPP_TYPES, Packet
from clinic.csvexport import neutralize
from clinic.pdf import render_pdf

REHAB_COLUMNS = [
    "mrn", "patient", "program", "enrollment", "session_number", "date", "start", "end", "minutes", "attendance",
    "monitoring", "pre_hr", "pre_bp", "pre_spo2", "peak_hr", "peak_bp", "post_hr", "post_bp", "post_spo2",
    "weight", "weight_unit", "modality", "exercise_minutes", "workload_watts", "speed_mph", "grade_percent", "mets",
    "rpe", "o2_flow_lpm", "supervising_practitioner", "claim_codes", "claim_status",
]  # fmt: skip
DPP_COLUMNS = [
    "mrn", "participant", "program", "enrollment", "session_number", "date", "session_type", "delivery_mode",
    "coach", "weight", "weight_unit", "weight_change_percent", "activity_minutes", "codes_claimed", "claim_status",
]  # fmt: skip


def _bp(systolic, diastolic) -> str:
    return f"{systolic}/{diastolic}" if systolic and diastolic else ""


def _time(moment) -> str:
    return f"{moment:%H:%M}" if moment else ""


def columns_for(program) -> list[str]:
    return DPP_COLUMNS if program.program_type in DPP_TYPES else REHAB_COLUMNS


def csv_columns(packet: Packet) -> list[str]:
    return columns_for(packet.program)


def csv_rows(packet: Packet):
    """One row per attended session of the period, in the order of csv_columns."""
    patient, program, enrollment = packet.patient, packet.program, packet.enrollment
    name = f"{patient.last_name}, {patient.first_name}"
    for row in packet.sessions:
        log = row.log
        head = [patient.mrn, name, program.name, enrollment.pk, row.number, row.day.isoformat()]
        weight = "" if row.weight is None else row.weight
        if packet.is_dpp:
            change = "" if row.weight_change is None else row.weight_change
            yield [*head, row.session_type, row.delivery, row.coach, weight, packet.weight_unit, change,
                   log.activity_minutes, row.codes, row.line_status]  # fmt: skip
            continue
        yield [
            *head, _time(row.start), _time(row.end), row.minutes, row.attendance, row.monitoring,
            log.pre_hr, _bp(log.pre_sbp, log.pre_dbp), log.pre_spo2, log.peak_hr, _bp(log.peak_sbp, log.peak_dbp),
            log.post_hr, _bp(log.post_sbp, log.post_dbp), log.post_spo2, weight, packet.weight_unit, log.modality,
            log.exercise_minutes, log.workload_watts, log.speed_mph, log.grade_percent, log.mets, log.rpe,
            log.o2_flow_lpm, row.supervisor, row.codes, row.line_status,
        ]  # fmt: skip


def write_csv(out, rows) -> None:
    """Rows (with None for empty) to a text stream; text cells neutralised against spreadsheet formulas, numbers
    (a weight change of -4.0) left as numbers."""
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell if isinstance(cell, int | Decimal) else neutralize(cell) for cell in row])


def packet_csv(packet: Packet) -> bytes:
    out = io.StringIO()
    write_csv(out, [csv_columns(packet), *csv_rows(packet)])
    return out.getvalue().encode()


def packet_html(packet: Packet, *, requested_by=None) -> str:
    # Times print in the clinic's zone (a date of service and a signature's time are the clinic's), whichever
    # zone the worker runs in.
    with timezone.override(zoneinfo.ZoneInfo(packet.clinic.timezone)):
        return render_to_string("billing/pdf/packet.html", {"packet": packet, "requested_by": requested_by})


def packet_pdf(packet: Packet, *, requested_by=None) -> bytes:
    return render_pdf(packet_html(packet, requested_by=requested_by))
