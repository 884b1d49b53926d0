"""A packet request: a row first, then a Celery task renders it (billing/packets/services.py)."""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from clinic.models import Clinic, Enrollment, Membership, Patient, Program

PENDING = ["queued", "rendering"]


def packet_path(instance, filename):
    # Private storage, one folder per clinic; a random name, so a path tells nothing and cannot be guessed.
    extension = filename.rsplit(".", 1)[-1]
    return f"clinics/{instance.clinic_id}/packets/{uuid.uuid4().hex}.{extension}"


class PacketRequest(models.Model):
    """One documentation packet of one enrollment over a period, or the ZIP of every packet of a program over
    a period. While queued or rendering it is unique per kind, enrollment (or program) and period, so asking
    twice, or twice at once, gives the one row; once finished, asking again makes a new one (the data may have
    changed)."""

    class Kind(models.TextChoices):
        REHAB = "rehab", "Cardiac/pulmonary rehab packet"
        DPP = "dpp", "DPP/MDPP attendance packet"
        BATCH = "batch", "All packets of a program (ZIP)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: a batch."
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to=packet_path, blank=True, help_text="The PDF, or the batch's ZIP.")
    csv_file = models.FileField(upload_to=packet_path, blank=True)
    # The enrollments whose packets the file holds (one for a packet), for the download's audit entry.
    enrollment_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    # When it was last put on the queue (the sweeper puts back what no worker took, and what a dead one left).
    queued_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "enrollment", "period_start", "period_end"],
                condition=Q(status__in=PENDING, enrollment__isnull=False),
                name="packet_pending_once_per_enrollment",
            ),
            models.UniqueConstraint(
                fields=["clinic", "kind", "program", "period_start", "period_end"],
                condition=Q(status__in=PENDING, kind="batch"),
                name="packet_batch_pending_once",
            ),
            models.CheckConstraint(condition=Q(period_start__lte=F("period_end")), name="packet_period"),
            models.CheckConstraint(
                condition=Q(kind="batch", enrollment__isnull=True) | (~Q(kind="batch") & Q(enrollment__isnull=False)),
                name="packet_enrollment_unless_batch",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "-created_at"], name="packet_recent_idx"),
            models.Index(fields=["clinic", "queued_at"], condition=Q(status__in=PENDING), name="packet_unfinished_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.period_start:%m/%d/%Y}–{self.period_end:%m/%d/%Y}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)

    @property
    def is_batch(self) -> bool:
        return self.kind == self.Kind.BATCH

    @property
    def percent(self) -> int | None:
        """Done so far, for the page's <progress>; None while there is nothing to count (a single packet)."""
        if self.status == self.Status.READY:
            return 100
        if self.items_total < 2:
            return None
        return min(99, self.items_done * 100 // self.items_total)
