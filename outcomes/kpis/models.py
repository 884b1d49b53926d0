"""A large export (every observation of a period) made by a Celery task: the row is written before the
task is queued, the task fills in its progress and the file, the page polls the row."""

import uuid

from django.db import models
from django.utils.timezone import now

from clinic.models import Clinic, Membership


def export_path(instance, filename):
    # Private storage, one folder per clinic; the stored name is random.
    return f"clinics/{instance.clinic_id}/exports/{uuid.uuid4().hex}.csv"


class KpiExport(models.Model):
    class Kind(models.TextChoices):
        OBSERVATIONS = "observations", "Observations"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Writing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OBSERVATIONS)
    # The dashboard's filters as chosen (start and end as ISO dates, program, physician, staff ids).
    filters = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_path, blank=True)
    error = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "-created_at"], name="kpi_export_recent_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} export {self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)

    @property
    def filename(self) -> str:
        start, end = self.filters.get("start", ""), self.filters.get("end", "")
        return f"observations-{start}-{end}.csv"
