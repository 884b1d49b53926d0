"""Referrals: who refers, what they send, where it stands, and the thresholds eligibility is judged by."""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.timezone import localdate, now
from stdnum import luhn

from clinic.models import (  # noqa: F401 (validate_icd10 and ICD10_PATTERN are named by migrations)
    EARLIEST_PLAUSIBLE_DATE,
    ICD10_PATTERN,
    Clinic,
    Enrollment,
    Membership,
    Patient,
    Program,
    validate_birth_date,
    validate_icd10,
)

# A referral may be written a few days ahead of the date it takes effect; no further.
REFERRAL_DATE_MAX_DAYS_AHEAD = 7


def validate_referral_date(value):
    if value < EARLIEST_PLAUSIBLE_DATE:
        raise ValidationError("The referral date cannot be before 1900.")
    if value > localdate() + datetime.timedelta(days=REFERRAL_DATE_MAX_DAYS_AHEAD):
        raise ValidationError(f"The referral date can be at most {REFERRAL_DATE_MAX_DAYS_AHEAD} days ahead.")


def validate_past_date(value):
    """Events, blood tests and clearances have happened: not in the future, not before 1900."""
    if value > localdate():
        raise ValidationError("This date is in the future.")
    if value < EARLIEST_PLAUSIBLE_DATE:
        raise ValidationError("This date is before 1900.")


def between(low, high, what: str) -> list:
    """Bounds of what a measurement can physically be, with a message that names it."""
    message = f"{what} must be between {low} and {high}.".replace("%", "%%")  # validators %-format messages
    return [MinValueValidator(low, message), MaxValueValidator(high, message)]


def validate_npi(value: str):
    """An NPI is 10 digits whose last is a Luhn check digit computed with the prefix 80840."""
    if not (len(value) == 10 and value.isdigit() and luhn.is_valid("80840" + value)):
        raise ValidationError("Enter a valid 10-digit NPI (the check digit does not match).")


class ReferringProvider(models.Model):
    """A physician (or NPP) who refers patients: a physician member of the clinic, or a contact who
    is not a user (yet)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="referring_providers")
    membership = models.OneToOneField(
        Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="referring_provider"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    credentials = models.CharField(max_length=30, blank=True, help_text="MD, DO, NP, PA…")
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    specialty = models.CharField(max_length=100, blank=True)
    practice_name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    fax = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "npi"], condition=~models.Q(npi=""), name="referring_provider_unique_npi"
            )
        ]

    def __str__(self):
        return self.display_name(self.first_name, self.last_name, self.credentials)

    @staticmethod
    def display_name(first_name: str, last_name: str, credentials: str) -> str:
        """ "Jo Smith, MD": also for a provider read as values (the referral queue)."""
        name = f"{first_name} {last_name}"
        return f"{name}, {credentials}" if credentials else name


class Referral(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_REVIEW = "in_review", "In review"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        UNABLE_TO_CONTACT = "unable_to_contact", "Unable to contact"

    class Source(models.TextChoices):
        STAFF = "staff", "Entered by staff"
        PORTAL = "portal", "Physician portal"
        FHIR = "fhir", "FHIR interface"

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"

    class Condition(models.TextChoices):
        MI = "mi", "Acute myocardial infarction"
        CABG = "cabg", "Coronary artery bypass graft (CABG)"
        STABLE_ANGINA = "stable_angina", "Stable angina"
        VALVE = "valve", "Heart valve repair or replacement"
        PCI = "pci", "PCI / coronary stent"
        TRANSPLANT = "transplant", "Heart or heart-lung transplant"
        HEART_FAILURE = "heart_failure", "Stable chronic heart failure"
        COPD = "copd", "COPD"
        POST_COVID = "post_covid", "Post-COVID persistent symptoms"
        PREDIABETES = "prediabetes", "Prediabetes"
        OTHER = "other", "Other"

    OPEN_STATUSES = (Status.RECEIVED, Status.IN_REVIEW)

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="referrals")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    referring_provider = models.ForeignKey(ReferringProvider, on_delete=models.PROTECT, related_name="referrals")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="referrals")
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    referral_date = models.DateField(default=localdate, validators=[validate_referral_date])
    reason = models.TextField(blank=True)
    diagnosis_codes = ArrayField(models.CharField(max_length=8, validators=[validate_icd10]), default=list, blank=True)

    # The patient as the referrer described them; linked to a patient record once matched.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals")
    possible_duplicate = models.BooleanField(default=False)
    patient_mrn = models.CharField("MRN", max_length=30, blank=True)
    patient_first_name = models.CharField("first name", max_length=100)
    patient_last_name = models.CharField("last name", max_length=100)
    patient_date_of_birth = models.DateField("date of birth", validators=[validate_birth_date])
    patient_sex = models.CharField("sex", max_length=1, choices=Patient.Sex.choices, default=Patient.Sex.UNKNOWN)
    patient_phone = models.CharField("phone", max_length=30, blank=True)
    patient_email = models.EmailField("email", blank=True)

    # Qualifying event (cardiac and pulmonary rehab).
    qualifying_condition = models.CharField(max_length=20, choices=Condition.choices, blank=True)
    qualifying_event_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    lvef_percent = models.PositiveSmallIntegerField(
        "LVEF (%)", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    nyha_class = models.PositiveSmallIntegerField(
        "NYHA class", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    hf_optimal_therapy_weeks = models.PositiveSmallIntegerField(
        "weeks of optimal HF therapy", null=True, blank=True, validators=between(0, 1000, "Weeks of therapy")
    )
    # Heart failure is "stable" (NCD 20.10.1) without a recent or planned major CV hospitalization or procedure.
    hf_recent_cv_event = models.BooleanField(
        "major cardiovascular hospitalization or procedure in the past 6 weeks", null=True, blank=True
    )
    hf_planned_cv_procedure = models.BooleanField(
        "major cardiovascular hospitalization or procedure planned in the next 6 months", null=True, blank=True
    )
    gold_stage = models.PositiveSmallIntegerField(
        "COPD GOLD stage", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    covid_symptom_weeks = models.PositiveSmallIntegerField(
        "weeks of post-COVID symptoms", null=True, blank=True, validators=between(0, 1000, "Weeks of symptoms")
    )
    covid_confirmed_or_suspected = models.BooleanField("confirmed or suspected COVID-19", null=True, blank=True)
    fev1_fvc_ratio = models.DecimalField(
        "FEV1/FVC", max_digits=3, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )  # fmt: skip
    fev1_percent_predicted = models.PositiveSmallIntegerField(
        "FEV1 % predicted", null=True, blank=True, validators=between(1, 200, "FEV1 % predicted")
    )

    # Diabetes prevention (CDC DPP and Medicare DPP).
    height_cm = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, validators=between(50, 272, "Height (cm)")
    )
    weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, validators=between(20, 450, "Weight (kg)")
    )
    bmi = models.DecimalField(
        "BMI", max_digits=4, decimal_places=1, null=True, blank=True, validators=between(10, 100, "BMI")
    )
    asian_american = models.BooleanField("self-identifies as Asian American", default=False)
    a1c_percent = models.DecimalField(
        "HbA1c (%)", max_digits=3, decimal_places=1, null=True, blank=True, validators=between(3, 20, "HbA1c (%)")
    )
    fasting_glucose = models.PositiveSmallIntegerField(
        "fasting glucose (mg/dL)", null=True, blank=True, validators=between(20, 1000, "Fasting glucose (mg/dL)")
    )
    ogtt_2h = models.PositiveSmallIntegerField(
        "2-h OGTT (mg/dL)", null=True, blank=True, validators=between(20, 1500, "2-h OGTT (mg/dL)")
    )
    lab_test_date = models.DateField("blood test date", null=True, blank=True, validators=[validate_past_date])
    lab_self_reported = models.BooleanField("blood test result is self-reported", default=False)
    gestational_diabetes_history = models.BooleanField("previous gestational diabetes", null=True, blank=True)
    risk_test_score = models.PositiveSmallIntegerField("prediabetes risk test score", null=True, blank=True)
    diabetes_diagnosis = models.BooleanField("diagnosed with type 1 or type 2 diabetes", null=True, blank=True)
    esrd = models.BooleanField("end-stage renal disease", null=True, blank=True)
    prior_mdpp = models.BooleanField("has received Medicare DPP before", null=True, blank=True)
    pregnant = models.BooleanField(null=True, blank=True)
    medicare_part_b = models.BooleanField("enrolled in Medicare Part B", null=True, blank=True)

    # Medical clearance and precautions: these follow the patient to the session screen.
    cleared_for_exercise = models.BooleanField(null=True, blank=True)
    clearance_date = models.DateField(null=True, blank=True, validators=[validate_past_date])
    contraindications = models.TextField(blank=True)
    beta_blocker = models.BooleanField("takes a beta-blocker (heart-rate targets unreliable)", default=False)
    supplemental_oxygen = models.BooleanField(default=False)
    target_hr_ceiling = models.PositiveSmallIntegerField(
        "heart-rate ceiling (bpm)", null=True, blank=True, validators=[MinValueValidator(60), MaxValueValidator(220)]
    )
    weight_bearing_restrictions = models.TextField("weight-bearing restrictions", blank=True)
    range_of_motion_restrictions = models.TextField(blank=True)
    precaution_notes = models.TextField(blank=True)

    eligibility_override_reason = models.TextField(blank=True)
    eligibility_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    eligibility_overridden_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="referral"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    last_action_at = models.DateTimeField(default=now)
    # The sender's identifier of the order ("system|value", as in FHIR token searches): a Bundle posted
    # again with the same ServiceRequest identifier returns this referral instead of creating another.
    external_identifier = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        constraints = [
            # Unique per clinic, so that two posts of one order at the same moment create one referral.
            models.UniqueConstraint(
                fields=["clinic", "external_identifier"],
                condition=~models.Q(external_identifier=""),
                name="referral_unique_external_identifier",
            )
        ]
        indexes = [
            models.Index(fields=["clinic", "status", "created_at"], name="referral_queue_idx"),
            # The queue's tab counts (a GROUP BY status) from the index alone: deduplicated, it is a sixth of
            # referral_queue_idx, so PostgreSQL reads it even where one clinic is most of the table (issue 11).
            models.Index(fields=["clinic", "status"], name="referral_status_idx"),
            # The "Overdue" count from the index alone, in the plan PostgreSQL keeps for the prepared statement:
            # that plan cannot use the open queue's partial index (the statuses are parameters there).
            models.Index(fields=["clinic", "status", "last_action_at"], name="referral_overdue_idx"),
            models.Index(fields=["clinic", "created_at", "id"], name="referral_created_idx"),
            # The open queue (received or in review), oldest first, read straight from an index.
            models.Index(
                fields=["clinic", "created_at", "id"],
                condition=models.Q(status__in=["received", "in_review"]),
                name="referral_open_queue_idx",
            ),
            # The physician portal reads a provider's referrals newest first. With the clinic, which row-level
            # security checks on every row, it also counts them from the index alone (issue 11).
            models.Index(
                fields=["referring_provider", "-created_at", "-id"], include=["clinic"], name="referral_provider_idx"
            ),
            models.Index(fields=["clinic", "patient"], name="referral_patient_idx"),
            models.Index(
                F("clinic"),
                OpClass(Upper("patient_last_name"), name="text_pattern_ops"),
                name="referral_last_name_search",
            ),
            models.Index(
                F("clinic"),
                OpClass(Upper("patient_first_name"), name="text_pattern_ops"),
                name="referral_first_name_search",
            ),
            models.Index(
                F("clinic"), OpClass(Upper("patient_mrn"), name="text_pattern_ops"), name="referral_mrn_search"
            ),
        ]

    def __str__(self):
        return f"Referral of {self.patient_first_name} {self.patient_last_name} to {self.program}"

    @property
    def patient_name(self) -> str:
        return f"{self.patient_last_name}, {self.patient_first_name}"

    @property
    def days_since_referral(self) -> int:
        return (localdate() - self.referral_date).days

    @property
    def days_to_first_session(self) -> int | None:
        """Referral to first attended session, in days: the number programs are judged on."""
        enrollment = self.enrollment
        if enrollment is None or enrollment.first_session_at is None:
            return None
        return (localdate(enrollment.first_session_at) - self.referral_date).days

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class ReferralStatusChange(models.Model):
    """Every step of the funnel, with who and when, so referral-to-first-session time can be reported."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    changed_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["clinic", "referral"], name="referral_change_idx")]

    def __str__(self):
        return f"{self.from_status or '—'} → {self.to_status}"

    @property
    def to_status_label(self) -> str:
        return Referral.Status(self.to_status).label


def attachment_path(instance, filename):
    # Private storage, one folder per clinic; the stored name is random, the original kept in the row.
    import uuid

    return f"clinics/{instance.clinic_id}/referrals/{instance.referral_id}/{uuid.uuid4().hex}"


class ReferralAttachment(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    uploaded_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "referral"], name="referral_attachment_idx")]

    def __str__(self):
        return self.original_name


class ReferralNotification(models.Model):
    """A referral event the referring physician is told of, once (its email is a clinic.OutboundMessage)."""

    class Event(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        DISCHARGED = "discharged", "Discharged"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="notifications")
    event = models.CharField(max_length=20, choices=Event.choices)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "referral", "event"], name="referral_notification_once")
        ]

    def __str__(self):
        return f"{self.get_event_display()} notice for referral {self.referral_id}"


class EligibilityThreshold(models.Model):
    """A number an eligibility rule compares against, valid from a date (rules change every year).

    Reference data shared by all clinics; see referrals/migrations for the values and their sources.
    """

    key = models.CharField(max_length=60)
    value = models.DecimalField(max_digits=8, decimal_places=2)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200)
    source = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["key", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["key", "effective_from"], name="threshold_unique_from")]

    def __str__(self):
        return f"{self.key} = {self.value} from {self.effective_from}"
