"""Reads of packet requests, scoped by clinic; billing staff and administrators only (clinic/permissions.py)."""

from django.db.models import QuerySet
from django.http import Http404

from billing.packets.content import DPP_TYPES, REHAB_TYPES
from billing.packets.models import PacketRequest
from clinic.models import Clinic, Enrollment, Patient, Program

PACKET_PROGRAM_TYPES = [*REHAB_TYPES, *DPP_TYPES]


def packets_of(*, clinic: Clinic) -> QuerySet[PacketRequest]:
    return (
        PacketRequest.objects.filter(clinic=clinic)
        .select_related("patient", "program", "requested_by__user")
        .order_by("-created_at", "-id")
    )


def packet_get(*, clinic: Clinic, packet_id: int) -> PacketRequest:
    packet = packets_of(clinic=clinic).filter(pk=packet_id).first()
    if packet is None:
        raise Http404
    return packet


def ready_packet_get(*, clinic: Clinic, packet_id: int, csv: bool = False) -> PacketRequest:
    packet = packet_get(clinic=clinic, packet_id=packet_id)
    if packet.status != PacketRequest.Status.READY or not (packet.csv_file if csv else packet.file):
        raise Http404
    return packet


def packet_programs(*, clinic: Clinic) -> QuerySet[Program]:
    return Program.objects.filter(clinic=clinic, program_type__in=PACKET_PROGRAM_TYPES).order_by("name", "id")


def packet_enrollments(*, clinic: Clinic, patient: Patient) -> QuerySet[Enrollment]:
    """The patient's enrollments a packet can be made of (CR, ICR, PR, DPP, MDPP), newest first."""
    return (
        Enrollment.objects.filter(clinic=clinic, patient=patient, program__program_type__in=PACKET_PROGRAM_TYPES)
        .select_related("program")
        .order_by("-start_date", "-id")
    )
