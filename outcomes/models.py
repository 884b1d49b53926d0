"""Assessment batteries and assessments (issue 9). The values an assessment records are
`clinic.Observation` rows (source "assessment", source_id the assessment's id): one store of measured
values for the floor sheet, assessments, progress and reports."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.timezone import now

from clinic.models import Clinic, Enrollment, Measure, Membership, Patient, ProgramType


class Timepoint(models.TextChoices):
    BASELINE = "baseline", "Baseline (entry)"
    INTERIM = "interim", "Interim (30-day)"
    DISCHARGE = "discharge", "Discharge"


class Battery(models.Model):
    """A set of measures taken together at given timepoints of a program type (CR entry/discharge: 6MWT,
    vitals, weight, BMI, waist, PHQ-9, DASI).

    Rows without a clinic are the shared defaults, loaded by a data migration with their source and
    readable by every clinic (as shared measures are). A clinic edits a default by copying it
    (`based_on`): its copy then stands in for the default in that clinic, and new clinics start with
    the defaults without any per-clinic setup."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Empty for the shared defaults.",
    )  # fmt: skip
    program_type = models.CharField(max_length=30, choices=ProgramType.choices)
    name = models.CharField(max_length=120)
    timepoints = ArrayField(models.CharField(max_length=10, choices=Timepoint.choices), default=list)
    is_active = models.BooleanField(default=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The shared default this clinic's battery replaces.",
    )  # fmt: skip
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["program_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program_type", "name"], condition=models.Q(clinic__isnull=True), name="battery_shared_name"
            ),
            models.UniqueConstraint(
                fields=["clinic", "program_type", "name"], condition=models.Q(clinic__isnull=False),
                name="battery_clinic_name",
            ),
            models.UniqueConstraint(
                fields=["clinic", "based_on"], condition=models.Q(based_on__isnull=False), name="battery_one_copy"
            ),
        ]  # fmt: skip

    def __str__(self):
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.clinic_id is None

    def get_timepoints_display(self) -> str:
        labels = dict(Timepoint.choices)
        return ", ".join(labels.get(t, t) for t in self.timepoints)


class BatteryItem(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    battery = models.ForeignKey(Battery, on_delete=models.CASCADE, related_name="items")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    required = models.BooleanField(default=False)

    class Meta:
        ordering = ["battery", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["battery", "measure"], name="battery_item_once")]

    def __str__(self):
        return f"{self.battery}: {self.measure.name}"


class Assessment(models.Model):
    """One battery taken by one patient at one timepoint of an enrollment.

    Baseline and discharge happen once per enrollment and battery (a second one would make "change from
    baseline" ambiguous: correct the first instead, which replaces its observations); interim
    assessments may repeat (30 days, 60 days, ...)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="assessments")
    battery = models.ForeignKey(Battery, on_delete=models.PROTECT, related_name="+")
    timepoint = models.CharField(max_length=10, choices=Timepoint.choices)
    assessed_on = models.DateField()
    performed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-assessed_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "enrollment", "battery", "timepoint"],
                condition=~models.Q(timepoint="interim"),
                name="assessment_once_per_timepoint",
            )
        ]
        indexes = [models.Index(fields=["clinic", "enrollment", "assessed_on"], name="assessment_enrollment_idx")]

    def __str__(self):
        return f"{self.battery.name}, {self.get_timepoint_display().lower()} {self.assessed_on:%m/%d/%Y}"


# Progress reports and KPI exports keep their models in their own packages.
from outcomes.kpis.models import KpiExport, KpiOutcomePair, KpiRollup, KpiSessionDay  # noqa: E402, F401
from outcomes.reports.models import ReportRequest  # noqa: E402, F401
