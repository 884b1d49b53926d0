"""Class schedules, bookings, authorizations, the session log of the floor sheet, safety flags and reminders."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from clinic.models import Clinic, Enrollment, Membership, Patient, Program

# --- Schedules ---------------------------------------------------------------------------------


class DeliveryMode(models.TextChoices):
    """How a DPP/MDPP session reaches the participant: it picks the MDPP code and the DPRP's DMODE."""

    IN_PERSON = "in_person", "In person"
    DISTANCE = "distance", "Distance learning"
    ONLINE = "online", "Online"


class ClassTemplate(models.Model):
    """A recurring class ("Cardiac rehab, Mon 9:00, 60 min, Gym A, 12 places") that generates dated occurrences."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="class_templates")
    name = models.CharField(max_length=150)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    room = models.CharField(max_length=100, blank=True)
    capacity = models.PositiveSmallIntegerField(default=12, validators=[MinValueValidator(1), MaxValueValidator(200)])
    staff = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    delivery_mode = models.CharField(
        max_length=10, choices=DeliveryMode.choices, default=DeliveryMode.IN_PERSON, db_default=DeliveryMode.IN_PERSON,
        help_text="How DPP and Medicare DPP sessions of this class reach the participants.",
    )  # fmt: skip
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="class_template_dates"
            )
        ]

    def __str__(self):
        return self.name


class Occurrence(models.Model):
    """A dated class, or a one-off individual appointment (no template, capacity 1).

    `booked_count` counts bookings that hold a place; the check constraint is what keeps a class from
    being overbooked when many people book the last place at once.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(
        ClassTemplate, on_delete=models.PROTECT, null=True, blank=True, related_name="occurrences"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=150)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.CharField(max_length=100, blank=True)
    capacity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(200)])
    booked_count = models.PositiveSmallIntegerField(default=0)
    staff = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # Recorded once per class on the floor sheet: who supervised (CR/ICR/PR) and who coached (DPP/MDPP).
    supervising_practitioner = models.ForeignKey(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    coach = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The class's usual mode; a DPP/MDPP row on the floor sheet may record another for its participant.
    delivery_mode = models.CharField(
        max_length=10, choices=DeliveryMode.choices, default=DeliveryMode.IN_PERSON, db_default=DeliveryMode.IN_PERSON
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(booked_count__lte=F("capacity")), name="occurrence_not_overbooked"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="occurrence_ends_after_start"),
            models.UniqueConstraint(
                fields=["clinic", "template", "starts_at"],
                condition=Q(template__isnull=False),
                name="occurrence_once_per_template_time",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "starts_at"], name="occurrence_day_idx")]

    def __str__(self):
        return f"{self.name} {self.starts_at:%Y-%m-%d %H:%M}"


class StandingBooking(models.Model):
    """A patient booked into a recurring class: every occurrence from `starts_on` gets a booking."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    template = models.ForeignKey(ClassTemplate, on_delete=models.PROTECT, related_name="standing_bookings")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="standing_bookings")
    starts_on = models.DateField()
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "template", "enrollment"],
                condition=Q(ended_at__isnull=True),
                name="standing_booking_once",
            )
        ]

    def __str__(self):
        return f"{self.enrollment.patient} every {self.template}"


class Booking(models.Model):
    """A patient's place in one occurrence (or on its waitlist)."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        WAITLISTED = "waitlisted", "Waitlisted"
        CANCELLED = "cancelled", "Cancelled"
        LATE_CANCELLED = "late_cancelled", "Cancelled late"
        CLASS_CANCELLED = "class_cancelled", "Class cancelled"

    HOLDS_A_PLACE = (Status.BOOKED,)

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    occurrence = models.ForeignKey(Occurrence, on_delete=models.PROTECT, related_name="bookings")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bookings")
    standing_booking = models.ForeignKey(
        StandingBooking, on_delete=models.PROTECT, null=True, blank=True, related_name="bookings"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    is_makeup = models.BooleanField("make-up session", default=False)
    booked_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField(default=now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["booked_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "occurrence", "enrollment"],
                condition=Q(status__in=["booked", "waitlisted"]),
                name="booking_once_per_occurrence",
            )
        ]
        indexes = [
            models.Index(fields=["clinic", "occurrence", "status"], name="booking_occurrence_idx"),
            models.Index(fields=["clinic", "patient"], name="booking_patient_idx"),
        ]

    def __str__(self):
        return f"{self.patient} in {self.occurrence}"


class Authorization(models.Model):
    """An insurer's authorization for an enrollment: how many sessions, between which dates."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="authorizations")
    payer = models.CharField(max_length=100)
    number = models.CharField("authorization number", max_length=50)
    sessions_authorized = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(400)])
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="authorization_dates"),
        ]

    def __str__(self):
        return f"{self.payer} {self.number}"


# --- The floor sheet ---------------------------------------------------------------------------


class SessionLog(models.Model):
    """One patient's row on the floor sheet: attendance, vitals, exercise, times, monitoring, notes.

    Stored in SI units (kg); glucose in mg/dL. `version` rises with every save so that a save made
    from an older copy of the row is refused instead of overwriting a colleague's values.
    """

    class Attendance(models.TextChoices):
        PRESENT = "present", "Present"
        LATE = "late", "Late"
        ABSENT = "absent", "Absent"
        CANCELLED = "cancelled", "Cancelled"
        MAKEUP = "makeup", "Make-up"

    ATTENDED = (Attendance.PRESENT, Attendance.LATE, Attendance.MAKEUP)

    class RpeScale(models.TextChoices):
        BORG = "borg", "6–20"
        CR10 = "cr10", "0–10"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    booking = models.OneToOneField(Booking, on_delete=models.PROTECT, related_name="session_log")
    occurrence = models.ForeignKey(Occurrence, on_delete=models.PROTECT, related_name="session_logs")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="session_logs")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="session_logs")
    attendance = models.CharField(max_length=10, choices=Attendance.choices, blank=True)
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)

    pre_hr = models.PositiveSmallIntegerField("resting HR", null=True, blank=True)
    pre_sbp = models.PositiveSmallIntegerField("resting SBP", null=True, blank=True)
    pre_dbp = models.PositiveSmallIntegerField("resting DBP", null=True, blank=True)
    pre_spo2 = models.PositiveSmallIntegerField("resting SpO2", null=True, blank=True)
    pre_glucose = models.PositiveSmallIntegerField("glucose (mg/dL)", null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    symptoms = models.CharField(max_length=300, blank=True)

    modality = models.CharField(max_length=100, blank=True)
    exercise_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    workload_watts = models.PositiveSmallIntegerField(null=True, blank=True)
    speed_mph = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    grade_percent = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    mets = models.DecimalField("METs", max_digits=4, decimal_places=1, null=True, blank=True)
    load_kg = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    peak_hr = models.PositiveSmallIntegerField(null=True, blank=True)
    peak_sbp = models.PositiveSmallIntegerField(null=True, blank=True)
    peak_dbp = models.PositiveSmallIntegerField(null=True, blank=True)
    rpe = models.DecimalField("RPE", max_digits=3, decimal_places=1, null=True, blank=True)
    rpe_scale = models.CharField(max_length=4, choices=RpeScale.choices, default=RpeScale.BORG)

    post_hr = models.PositiveSmallIntegerField(null=True, blank=True)
    post_sbp = models.PositiveSmallIntegerField(null=True, blank=True)
    post_dbp = models.PositiveSmallIntegerField(null=True, blank=True)
    post_spo2 = models.PositiveSmallIntegerField(null=True, blank=True)

    ecg_monitored = models.BooleanField("ECG monitoring", default=False)
    rhythm_note = models.CharField(max_length=200, blank=True)
    continuous_oximetry = models.BooleanField(default=False)
    o2_flow_lpm = models.DecimalField("O2 flow (L/min)", max_digits=3, decimal_places=1, null=True, blank=True)
    activity_minutes = models.PositiveSmallIntegerField("activity minutes since last session", null=True, blank=True)
    delivery_mode = models.CharField(
        max_length=10, choices=DeliveryMode.choices, default=DeliveryMode.IN_PERSON, db_default=DeliveryMode.IN_PERSON
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "enrollment"], name="session_log_enrollment_idx"),
            models.Index(fields=["clinic", "patient"], name="session_log_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_log_times_in_order",
            )
        ]

    def __str__(self):
        return f"{self.patient} at {self.occurrence}"


class SafetyRule(models.Model):
    """A check run on every save of a floor-sheet row, valid from a date; reference data with its source.

    `field` names a SessionLog value, or one of the derived values `sbp_drop_with_load` and
    `hr_over_ceiling`; the rule fires when `field <comparator> threshold`.
    """

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARN = "warn", "Warning"
        HOLD = "hold", "Hold"

    class Comparator(models.TextChoices):
        GT = "gt", ">"
        GTE = "gte", "≥"
        LT = "lt", "<"
        LTE = "lte", "≤"

    class AppliesTo(models.TextChoices):
        EVERYONE = "everyone", "Every patient"
        DIABETES = "diabetes", "Patients with diabetes"

    code = models.CharField(max_length=40)
    field = models.CharField(max_length=40)
    comparator = models.CharField(max_length=3, choices=Comparator.choices)
    threshold = models.DecimalField(max_digits=7, decimal_places=2)
    applies_to = models.CharField(max_length=10, choices=AppliesTo.choices, default=AppliesTo.EVERYONE)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    message = models.CharField(max_length=200)
    source = models.CharField(max_length=300)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["code", "effective_from"], name="safety_rule_unique_from")]

    def __str__(self):
        return f"{self.code}: {self.field} {self.get_comparator_display()} {self.threshold}"


class SafetyFlag(models.Model):
    """A safety rule that fired on a session log. A hold stops the patient until a reason and the
    supervising practitioner's acknowledgment are recorded (the override)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        OVERRIDDEN = "overridden", "Overridden"
        RESOLVED = "resolved", "Resolved"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    session_log = models.ForeignKey(SessionLog, on_delete=models.PROTECT, related_name="flags")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="safety_flags")
    rule = models.ForeignKey(SafetyRule, on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(max_length=4, choices=SafetyRule.Severity.choices)
    value = models.DecimalField(max_digits=7, decimal_places=2)
    message = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    override_reason = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    overridden_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    overridden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "session_log", "rule"], condition=Q(status="open"), name="safety_flag_open_once"
            )
        ]
        indexes = [models.Index(fields=["clinic", "patient"], condition=Q(status="open"), name="safety_flag_open_idx")]

    def __str__(self):
        return self.message


# --- Reminders ---------------------------------------------------------------------------------


class Reminder(models.Model):
    """A session reminder: one row per booking and channel, written before anything is queued; the beat
    job sends due rows (FOR UPDATE SKIP LOCKED) and marks them sent, so each goes out exactly once."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="reminders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reminders")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "booking", "channel"], name="reminder_once_per_channel")
        ]
        indexes = [
            # The send step's claim: one clinic's pending rows in due order (scheduling/reminders.py).
            models.Index(fields=["clinic", "due_at"], condition=Q(status="pending"), name="reminder_due_idx"),
            models.Index(fields=["clinic", "patient"], name="reminder_patient_idx"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} reminder for {self.booking}"


class TextNotice(models.Model):
    """A text message telling a patient of a change to a booking: a place given from the waitlist, or a
    cancelled class. One row per event (`key`), written in the change's own transaction; the reminder job
    sends pending rows (FOR UPDATE SKIP LOCKED) and marks them sent, so each goes out exactly once
    (scheduling/notices.py). The email of the same event is a clinic.OutboundMessage."""

    class Kind(models.TextChoices):
        PLACE_OFFERED = "place_offered", "Place from the waitlist"
        CLASS_CANCELLED = "class_cancelled", "Class cancelled"

    Status = Reminder.Status  # pending, sent, cancelled, failed: the same life as a reminder's

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="text_notices")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="text_notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=100, help_text="One message per event: e.g. place-offered:42.")
    body = models.TextField(help_text="Time, place and the clinic's phone; nothing clinical.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    next_attempt_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "key"], name="text_notice_once_per_event")]
        indexes = [
            models.Index(
                fields=["clinic", "next_attempt_at"], condition=Q(status="pending"), name="text_notice_due_idx"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} text for {self.booking}"
