"""A progress report request: a row first, then a Celery task renders it (outcomes/reports/rendering.py)."""

from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.timezone import now

from clinic.models import Clinic, Enrollment, Membership, Patient


def report_path(instance, filename):
    """Private storage, one folder per clinic. The name is a keyed hash of the row (its id and creation time,
    so two databases sharing a folder never meet), so a path tells nothing and cannot be guessed; and it is the
    same for every attempt, so an attempt killed after writing its file leaves a file the next attempt
    replaces (services._store), not a second copy."""
    row = f"{instance.pk}:{instance.created_at.isoformat()}"
    name = salted_hmac("outcomes.reports.file", row, algorithm="sha256").hexdigest()[:32]
    return f"reports/{instance.clinic_id}/{instance.enrollment_id}/{name}.pdf"


class ReportRequest(models.Model):
    """One progress report of one enrollment over one period. A scheduled report exists once per period
    (`report_scheduled_once_per_period`), so the beat job may run twice, or twice at once."""

    class Kind(models.TextChoices):
        ON_DEMAND = "on_demand", "On demand"
        SCHEDULED = "scheduled", "Every 30 days"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Empty: scheduled."
    )
    comment = models.TextField("physiologist's comment", blank=True)
    file = models.FileField(upload_to=report_path, blank=True)
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
                fields=["clinic", "enrollment", "period_start", "period_end"],
                condition=models.Q(kind="scheduled"),
                name="report_scheduled_once_per_period",
            ),
            models.CheckConstraint(condition=models.Q(period_start__lte=models.F("period_end")), name="report_period"),
        ]
        indexes = [
            models.Index(fields=["clinic", "enrollment", "-created_at"], name="report_enrollment_idx"),
            models.Index(fields=["clinic", "patient", "-created_at"], name="report_patient_idx"),
            # The sweeper's scan: unfinished rows only.
            models.Index(
                fields=["clinic", "queued_at"],
                condition=models.Q(status__in=["queued", "rendering"]),
                name="report_unfinished_idx",
            ),
        ]

    def __str__(self):
        return f"Progress report {self.period_start:%m/%d/%Y}–{self.period_end:%m/%d/%Y}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)
