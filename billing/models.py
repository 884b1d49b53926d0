"""Payers, patient coverage, fee schedules, the billing rules table, claim lines and claim batches.

Claim lines are derived from attended sessions by billing/claims.py, never typed by hand; every code,
limit and window they use is a BillingRule row with effective dates and its source.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from clinic.models import Clinic, Enrollment, Membership, Patient, Program, ProgramType, normalize_mbi, validate_mbi
from scheduling.models import SessionLog


class Payer(models.Model):
    class Kind(models.TextChoices):
        MEDICARE = "medicare", "Medicare"
        MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage"
        MEDICAID = "medicaid", "Medicaid"
        COMMERCIAL = "commercial", "Commercial insurance"
        EMPLOYER = "employer", "Employer"
        SELF_PAY = "self_pay", "Self-pay"
        GRANT = "grant", "Grant"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="payer_unique_name_per_clinic")]

    def __str__(self):
        return self.name


class Coverage(models.Model):
    """A patient's insurance (or grant, or self-pay) over a date range; priority 1 is billed first."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    member_id = models.CharField("member id or MBI", max_length=50, blank=True)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 = primary, 2 = secondary, …")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["priority", "-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="coverage_dates_in_order"
            )
        ]
        indexes = [models.Index(fields=["clinic", "patient"], name="coverage_patient_idx")]

    def __str__(self):
        return f"{self.payer} from {self.starts_on}"

    def clean(self):
        # Original Medicare identifies the beneficiary by the MBI; its format is checked (clinic.models).
        if self.payer_id and self.payer.kind == Payer.Kind.MEDICARE and self.member_id:
            validate_mbi(self.member_id)
            self.member_id = normalize_mbi(self.member_id)
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "The coverage cannot end before it starts."})

    @property
    def masked_member_id(self) -> str:
        return f"•••••{self.member_id[-4:]}" if self.member_id else ""

    def is_active_on(self, day) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


class FeeScheduleEntry(models.Model):
    """What a payer (or any payer, when empty) pays the clinic for a code between two dates."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="fees", help_text="Empty: any payer."
    )
    code = models.CharField(max_length=10)
    amount = models.DecimalField(max_digits=9, decimal_places=2)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["code", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="fee_dates_in_order",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="fee_amount_not_negative"),
            # No exclusion constraint: btree_gist (needed to compare clinic, payer and code in one) is not in the
            # embedded PostgreSQL. billing/services.py refuses overlaps under a transaction-level advisory lock
            # on (clinic, payer, code), so two concurrent saves cannot both pass the check.
        ]

    def __str__(self):
        return f"{self.code} {self.amount}"


class BillingRule(models.Model):
    """One code, limit or window of a program's billing rules, valid between two dates, with its source.

    Reference data loaded by billing/migrations/0002_billing_rules.py from the domain reference (sections 2
    and 3); `uncertain` marks values the reference asks to verify: the pages show them as "configurable, verify".
    """

    program_type = models.CharField(max_length=30, choices=ProgramType.choices)
    key = models.CharField(max_length=60)
    value = models.CharField(max_length=60)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=300)
    uncertain = models.BooleanField(default=False)

    class Meta:
        ordering = ["program_type", "key", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["program_type", "key", "effective_from"], name="billing_rule_unique_from")
        ]

    def __str__(self):
        return f"{self.program_type}.{self.key} = {self.value}"


class ClaimBatch(models.Model):
    """Ready claim lines exported together. Exported batches never change; a void gives their lines back."""

    class Status(models.TextChoices):
        EXPORTED = "exported", "Exported"
        VOID = "void", "Void"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.EXPORTED)
    # The file as exported, kept: downloading a batch again gives the same bytes, whatever happens later.
    csv = models.TextField(blank=True)
    line_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    line_count = models.PositiveIntegerField(default=0)
    total_expected = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    void_reason = models.TextField(blank=True)
    voided_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(status="void") | ~Q(void_reason=""), name="claim_batch_void_has_reason")
        ]

    def __str__(self):
        return f"Batch {self.pk} ({self.get_status_display()})"


class ClaimLine(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready"
        BLOCKED = "blocked", "Blocked"
        EXPORTED = "exported", "Exported"
        VOID = "void", "Void"

    # Lines are derived rows, written only by billing.claims in bulk (360,000 for a large clinic's first run), from
    # the enrollment, session, class and coverage rows that run has just read under its lock. They have no
    # foreign-key constraints in the database: each cost a look-up and a row lock per line, about 2.5 s of that
    # run, and the single-column indexes that come with them as much again. Django still applies PROTECT to
    # every one of them, and a re-derivation voids a line whose session no longer counts.
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="claim_lines", db_constraint=False
    )
    session_log = models.ForeignKey(  # claim_line_once_per_session_code finds a session's lines
        SessionLog, on_delete=models.PROTECT, null=True, blank=True, related_name="claim_lines", db_constraint=False,
        db_index=False, help_text="Empty for MDPP performance codes, which belong to the enrollment.",
    )  # fmt: skip
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="claim_lines", db_constraint=False, db_index=False
    )
    program_type = models.CharField(max_length=30, choices=ProgramType.choices)
    date_of_service = models.DateField()
    code = models.CharField(max_length=10)
    units = models.PositiveSmallIntegerField(default=1)
    modifiers = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    diagnosis_codes = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    rendering_provider = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    supervising_provider = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    expected_amount = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="E.g. the KX medical-necessity reminder.")
    status = models.CharField(max_length=10, choices=Status.choices)
    blockers = models.JSONField(default=list, blank=True, help_text="[{code, message}], every reason.")
    batch = models.ForeignKey(  # indexed where set (claim_line_batch_idx): a derived line has none
        ClaimBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="lines", db_index=False
    )
    derived_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["date_of_service", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "session_log", "code"], condition=Q(session_log__isnull=False),
                name="claim_line_once_per_session_code",
            ),
            models.UniqueConstraint(
                fields=["clinic", "enrollment", "code"], condition=Q(session_log__isnull=True),
                name="claim_line_once_per_enrollment_code",
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["clinic", "date_of_service", "id"], name="claim_line_date_idx"),
            models.Index(fields=["clinic", "status", "date_of_service"], name="claim_line_status_idx"),
            models.Index(fields=["clinic", "patient"], name="claim_line_patient_idx"),
            models.Index(fields=["batch"], name="claim_line_batch_idx", condition=Q(batch__isnull=False)),
        ]

    def __str__(self):
        return f"{self.code} on {self.date_of_service}"

    @property
    def is_locked(self) -> bool:
        """Exported lines never change; only a void of their batch gives them back."""
        return self.status == self.Status.EXPORTED


# --- CDC DPRP evaluation export (billing/dprp.py) ---------------------------------------------------------------


class DprpParticipant(models.Model):
    """The participant id the CDC sees for an enrollment: random, never derived from a name or an MRN, made
    on the enrollment's first export and kept (rows are never deleted, so an id is never reused)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="+")
    participant_id = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "enrollment"], name="dprp_participant_once_per_enrollment"),
            models.UniqueConstraint(fields=["clinic", "participant_id"], name="dprp_participant_id_unique"),
        ]

    def __str__(self):
        return self.participant_id


def dprp_export_path(instance, filename):
    # Private storage, one folder per clinic; the stored name is random.
    return f"clinics/{instance.clinic_id}/dprp/{uuid.uuid4().hex}.csv"


class DprpExport(models.Model):
    """One request for a program's evaluation file over a period: written before the task is queued; the
    task writes the file and the validation report (issues); the file is downloadable once the report is
    empty or someone accepted it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Writing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    org_code = models.CharField("DPRP organization code", max_length=25)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    columns = ArrayField(models.CharField(max_length=12), default=list, blank=True)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    # The validation report: the first ISSUES_KEPT issues ({row, column, value, message, session_log,
    # occurrence, patient}) and how many there were in all.
    issues = models.JSONField(default=list, blank=True)
    issue_count = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=dprp_export_path, blank=True)
    error = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="dprp_export_period_in_order")
        ]
        indexes = [models.Index(fields=["clinic", "-created_at"], name="dprp_export_recent_idx")]

    def __str__(self):
        return f"DPRP export {self.pk}"

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
    def needs_acceptance(self) -> bool:
        return self.status == self.Status.READY and self.issue_count > 0 and self.accepted_at is None

    @property
    def downloadable(self) -> bool:
        return self.status == self.Status.READY and bool(self.file) and not self.needs_acceptance

    @property
    def filename(self) -> str:
        return f"dprp-{self.org_code}-{self.period_start:%Y%m%d}-{self.period_end:%Y%m%d}.csv"


class MedicalNecessityNote(models.Model):
    """Why a cardiac or pulmonary rehab patient needs sessions past the 36 Medicare pays without question: the
    KX modifier on sessions 37–72 attests that this note is in the record.

    One row per note, per enrollment (the episode whose sessions are counted), covering a range of session
    numbers: a physician may justify twelve more sessions, then twelve more after a review, so one note for
    the whole 37–72 would not say what was judged when. The text is clinical (the patient's status and the
    reason to continue): billing staff see that a note exists, who wrote it, when, and what it covers, never
    the text. Notes are not edited: a correction is a new note (the audit trail keeps both)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="necessity_notes")
    first_session = models.PositiveSmallIntegerField("from session", default=37)
    last_session = models.PositiveSmallIntegerField("to session", default=72)
    text = models.TextField("medical necessity")
    written_on = models.DateField("date of the note")
    author = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["first_session", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_session__gte=1) & Q(last_session__gte=F("first_session")),
                name="necessity_note_sessions_in_order",
            )
        ]
        indexes = [models.Index(fields=["clinic", "enrollment"], name="necessity_note_enrollment_idx")]

    def __str__(self):
        return f"Medical-necessity note, sessions {self.first_session}–{self.last_session}"

    def covers(self, number: int) -> bool:
        return self.first_session <= number <= self.last_session


# Documentation packets keep their model in their own package.
from billing.packets.models import PacketRequest  # noqa: E402, F401
