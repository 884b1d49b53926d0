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


class KpiRollup(models.Model):
    """When the clinic's KPI roll-ups were last rebuilt (kpis/rollups.py). The dashboard reads them only while
    fresh; a clinic without a row is computed live from its rows."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="+")
    refreshed_at = models.DateTimeField()
    # Session days before this local date are in KpiSessionDay; later ones are read live.
    days_before = models.DateField()
    # Outcome pairs count observations up to this instant (midnight after the refresh's local day).
    observations_before = models.DateTimeField()
    took_ms = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"KPI roll-up of clinic {self.clinic_id} at {self.refreshed_at:%Y-%m-%d %H:%M}"


class KpiSessionDay(models.Model):
    """Per clinic, local day and program: the counts the attendance, no-show, late-cancel and capacity KPIs
    divide (queries.SESSION_DAY_SQL and CAPACITY_DAY_SQL, stored)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    program = models.ForeignKey("clinic.Program", on_delete=models.CASCADE, related_name="+")
    held = models.PositiveIntegerField(default=0)
    attended = models.PositiveIntegerField(default=0)
    absent = models.PositiveIntegerField(default=0)
    late_cancelled = models.PositiveIntegerField(default=0)
    bookings = models.PositiveIntegerField(default=0)
    booked_places = models.PositiveIntegerField(default=0)
    capacity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "day", "program"], name="kpi_session_day_unique"),
        ]

    def __str__(self):
        return f"{self.day} program {self.program_id}"


class KpiOutcomePair(models.Model):
    """Per clinic, enrollment and headline measure: the change from baseline to the latest value
    (queries.OUTCOME_PAIRS_SQL, stored). Counted in the month of `latest_at`."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey("clinic.Enrollment", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("clinic.Program", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=20)
    latest_at = models.DateTimeField()
    change = models.DecimalField(max_digits=24, decimal_places=12)
    percent = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    reached_mcid = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "enrollment", "code"], name="kpi_outcome_pair_unique"),
        ]
        indexes = [models.Index(fields=["clinic", "latest_at"], name="kpi_outcome_pair_latest_idx")]

    def __str__(self):
        return f"{self.code} of enrollment {self.enrollment_id}"
