"""The core record: users, clinics (tenants), memberships and roles, patients, the audit trail."""

import datetime
import re
import zoneinfo

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.timezone import localdate, now

# --- Users -------------------------------------------------------------------------------------


class EmailUserManager(UserManager):
    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """One account per person (HIPAA unique user identification); people sign in with their email."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = EmailUserManager()

    def __str__(self):
        return self.get_full_name() or self.email


# --- Clinics and memberships ------------------------------------------------------------------


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Clinic(models.Model):
    """The tenant. Every tenant-owned row points at one."""

    class WeightUnit(models.TextChoices):
        LB = "lb", "Pounds (lb)"
        KG = "kg", "Kilograms (kg)"

    class LengthUnit(models.TextChoices):
        IN = "in", "Inches (in)"
        CM = "cm", "Centimetres (cm)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    weight_unit = models.CharField(max_length=2, choices=WeightUnit.choices, default=WeightUnit.LB)
    length_unit = models.CharField(max_length=2, choices=LengthUnit.choices, default=LengthUnit.IN)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    npi = models.CharField("NPI", max_length=10, blank=True)
    tax_id = models.CharField("tax id", max_length=20, blank=True)
    mfa_required = models.BooleanField("require two-factor authentication", default=True)
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(2), MaxValueValidator(60)],
        help_text="Sign members out after this many idle minutes (2–60).",
    )
    logout_on_browser_close = models.BooleanField(default=False)
    # Scheduling preferences (scheduling/): reminders and the late-cancellation window.
    reminder_lead_hours = models.PositiveSmallIntegerField(
        "send reminders this many hours ahead", default=24, validators=[MinValueValidator(1), MaxValueValidator(168)]
    )
    reminder_by_email = models.BooleanField("email reminders", default=True)
    reminder_by_sms = models.BooleanField("text message reminders", default=False)
    late_cancel_hours = models.PositiveSmallIntegerField(
        "cancellations inside this many hours count as late",
        default=24,
        validators=[MaxValueValidator(168)],
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    PHYSIOLOGIST = "physiologist", "Exercise physiologist"
    PHYSICIAN = "physician", "Physician"
    BILLING = "billing", "Billing"


class Membership(models.Model):
    """A user's place in one clinic, with one or more roles. Deactivated, never deleted."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    roles = ArrayField(models.CharField(max_length=20, choices=Role.choices))
    is_active = models.BooleanField(default=True)
    # Claims name the rendering and supervising practitioner, and every MDPP line the coach, by NPI.
    npi = models.CharField("NPI", max_length=10, blank=True)
    created_at = models.DateTimeField(default=now)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "user"], name="membership_unique_user_per_clinic"),
            models.CheckConstraint(condition=~models.Q(roles=[]), name="membership_has_a_role"),
        ]

    def __str__(self):
        return f"{self.user} at {self.clinic}"

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def role_labels(self) -> list[str]:
        return [Role(role).label for role in self.roles]


class Invitation(models.Model):
    """A single-use link that lets someone join a clinic with the given roles."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    roles = ArrayField(models.CharField(max_length=20, choices=Role.choices))
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "token_hash"], name="invitation_unique_token"),
        ]
        indexes = [models.Index(fields=["token_hash"], name="invitation_token_idx")]

    def __str__(self):
        return f"Invitation for {self.email} to {self.clinic}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now():
            return "expired"
        return "pending"


class ApiToken(models.Model):
    """A member's personal API token. Only a hash is stored; the token is shown once."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "token_hash"], name="apitoken_unique_hash")]
        indexes = [models.Index(fields=["token_hash"], name="apitoken_hash_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


# --- Patients ---------------------------------------------------------------------------------

# CMS Medicare Beneficiary Identifier: 11 characters, positions typed as
# C A AN N A AN N A A N N (C = 1-9, N = 0-9, A = letters without S L O I B Z).
_MBI_ALPHA = "AC-HJKMNP-RT-Y"
MBI_PATTERN = re.compile(
    rf"^[1-9][{_MBI_ALPHA}][{_MBI_ALPHA}0-9][0-9][{_MBI_ALPHA}][{_MBI_ALPHA}0-9][0-9]"
    rf"[{_MBI_ALPHA}][{_MBI_ALPHA}][0-9][0-9]$"
)


def normalize_mbi(value: str) -> str:
    return value.replace("-", "").replace(" ", "").upper()


def validate_mbi(value: str):
    if value and not MBI_PATTERN.match(normalize_mbi(value)):
        raise ValidationError(
            "Enter a valid Medicare Beneficiary Identifier: 11 characters such as 1EG4-TE5-MK73 "
            "(no S, L, O, I, B or Z)."
        )


EARLIEST_PLAUSIBLE_DATE = datetime.date(1900, 1, 1)


def validate_not_future(value):
    """Kept for the migrations that name it; fields use validate_birth_date."""
    validate_birth_date(value)


def validate_birth_date(value):
    if value > localdate():
        raise ValidationError("Date of birth cannot be in the future.")
    if value < EARLIEST_PLAUSIBLE_DATE:
        raise ValidationError("Date of birth cannot be before 1900.")


class Patient(models.Model):
    """A person the clinic serves. Never hard-deleted: deactivate instead."""

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "X", "Other / non-binary"
        UNKNOWN = "U", "Not reported"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=30)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_birth_date])
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    preferred_language = models.CharField(max_length=50, default="English")
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=50, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=30, blank=True)
    primary_payer = models.CharField(max_length=100, blank=True)
    payer_member_id = models.CharField("member id", max_length=50, blank=True)
    mbi = models.CharField("Medicare MBI", max_length=13, blank=True, validators=[validate_mbi])
    consent_to_treatment = models.BooleanField(default=False)
    consent_date = models.DateField(null=True, blank=True)
    email_opt_in = models.BooleanField("email reminders", default=False)
    sms_opt_in = models.BooleanField("text message reminders", default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_unique_mrn_per_clinic")]
        indexes = [
            models.Index(fields=["clinic", "last_name", "first_name", "id"], name="patient_name_order_idx"),
            # The default list (active patients in name order) reads this index.
            models.Index(
                fields=["clinic", "status", "last_name", "first_name", "id"], name="patient_status_name_order_idx"
            ),
            # ...and its capped count (clinic.paging) this one, from the index alone: an eighth of the size of the
            # one above (deduplicated), so counting bench-big's 10,001 active patients costs PostgreSQL 0.7 ms of
            # CPU instead of 1.0–1.2 (issue 11).
            models.Index(fields=["clinic", "status"], name="patient_status_idx"),
            models.Index(fields=["clinic", "date_of_birth"], name="patient_dob_idx"),
            # Prefix search on names and MRN is case-insensitive: UPPER(col) LIKE 'SMI%'. Each index includes
            # what the search filters on, so that the search's count reads the indexes alone
            # (selectors.patient_search_to_count; issue 11).
            models.Index(
                F("clinic"),
                OpClass(Upper("last_name"), name="text_pattern_ops"),
                name="patient_last_name_search",
                include=["id", "status", "last_name", "first_name"],
            ),
            models.Index(
                F("clinic"),
                OpClass(Upper("first_name"), name="text_pattern_ops"),
                name="patient_first_name_search",
                include=["id", "status", "first_name"],
            ),
            models.Index(
                F("clinic"),
                OpClass(Upper("mrn"), name="text_pattern_ops"),
                name="patient_mrn_search",
                include=["id", "status", "mrn"],
            ),
        ]

    def __str__(self):
        return f"{self.last_name}, {self.first_name} (MRN {self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def age(self) -> int:
        today = localdate()
        dob = self.date_of_birth
        return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def masked_mbi(self) -> str:
        return f"•••••••{self.mbi[-4:]}" if self.mbi else ""


class PatientPhysician(models.Model):
    """A physician member linked to a patient: they referred the patient or sign the patient's plan.

    A physician sees only these patients. Referrals and treatment plans create the links.
    """

    class Relationship(models.TextChoices):
        REFERRING = "referring", "Referring physician"
        PLAN_SIGNER = "plan_signer", "Signs the treatment plan"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="physician_links")
    physician = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="patient_links")
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "physician", "patient", "relationship"], name="patient_physician_unique"
            )
        ]

    def __str__(self):
        return f"{self.physician.user} – {self.get_relationship_display()} of patient {self.patient_id}"


# --- Programs and enrollments -----------------------------------------------------------------


class ProgramType(models.TextChoices):
    CR = "cr", "Cardiac rehab"
    ICR = "icr", "Intensive cardiac rehab"
    PR = "pr", "Pulmonary rehab"
    DPP = "dpp", "CDC National DPP"
    MDPP = "mdpp", "Medicare DPP"
    POST_REHAB = "post_rehab", "Post-rehab conditioning"
    CHRONIC_DISEASE = "chronic_disease", "Chronic disease exercise"
    FALLS_PREVENTION = "falls_prevention", "Older adults / falls prevention"
    CANCER_RECOVERY = "cancer_recovery", "Cancer exercise recovery"
    WEIGHT_MANAGEMENT = "weight_management", "Medical weight management"
    YOUTH = "youth", "Youth medical fitness"
    GROUP_SPECIALTY = "group_specialty", "Group specialty program"


class Program(models.Model):
    """A program a clinic offers, e.g. "Phase II Cardiac Rehab" of type CR."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=150)
    program_type = models.CharField(max_length=30, choices=ProgramType.choices)
    description = models.TextField(blank=True)
    default_length_weeks = models.PositiveSmallIntegerField(default=12)
    default_session_count = models.PositiveSmallIntegerField(default=36)
    sessions_per_week = models.PositiveSmallIntegerField(default=3)
    # Only programs CMS has approved as intensive cardiac rehab (Ornish, Pritikin, Benson-Henry) may bill
    # G0422/G0423 (domain reference section 3.1); billing/claims.py blocks ICR lines of any other.
    cms_approved_icr = models.BooleanField("CMS-approved intensive cardiac rehab program", default=False)
    # The outcome the program is judged by first: the physician portal's one-line summary, the progress page's
    # and the report's headline. Empty: the first measure whose change its MCID classifies.
    headline_measure = models.ForeignKey(
        "Measure", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The outcome shown first on the physician portal and in progress reports.",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="program_unique_name_per_clinic")]

    def __str__(self):
        return self.name


class Enrollment(models.Model):
    """An episode of care: one patient in one program, from start to completion or discharge."""

    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        ACTIVE = "active", "Attending"
        COMPLETED = "completed", "Completed"
        DISCHARGED = "discharged", "Discharged"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="enrollments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ENROLLED)
    start_date = models.DateField()
    first_session_at = models.DateTimeField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=300, blank=True)
    # Precautions for the gym floor, taken from the referral at enrollment and kept current by staff:
    # the referral stays what the physician sent, these are what the physiologist works with today.
    beta_blocker = models.BooleanField("takes a beta-blocker (heart-rate targets unreliable)", default=False)
    supplemental_oxygen = models.BooleanField(default=False)
    hr_ceiling = models.PositiveSmallIntegerField(
        "heart-rate ceiling (bpm)", null=True, blank=True, validators=[MinValueValidator(60), MaxValueValidator(220)]
    )
    has_diabetes = models.BooleanField("has diabetes (check glucose before exercise)", default=False)
    precaution_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "patient"], name="enrollment_patient_idx")]

    def __str__(self):
        return f"{self.patient} in {self.program}"


# --- Exercise prescription (FITT-VP) -----------------------------------------------------------


class HrMaxMethod(models.TextChoices):
    MEASURED = "measured", "Measured (exercise test)"
    AGE = "220_age", "220 − age"
    TANAKA = "tanaka", "Tanaka: 208 − 0.7 × age"
    GELLISH = "gellish", "Gellish: 207 − 0.7 × age"


class ExercisePrescription(models.Model):
    """One version of an enrollment's exercise prescription. A new version supersedes the current
    one; old versions stay as they were signed off, so the history reads as it happened."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="prescriptions")
    version = models.PositiveSmallIntegerField()
    resting_hr = models.PositiveSmallIntegerField(
        "resting heart rate (bpm)", null=True, blank=True, validators=[MinValueValidator(20), MaxValueValidator(250)]
    )
    hr_max_method = models.CharField("HRmax from", max_length=10, choices=HrMaxMethod.choices, default=HrMaxMethod.AGE)
    hr_max_measured = models.PositiveSmallIntegerField(
        "measured peak heart rate (bpm)",
        null=True,
        blank=True,
        validators=[MinValueValidator(60), MaxValueValidator(250)],
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "enrollment", "version"], name="prescription_version_unique"),
            models.UniqueConstraint(
                fields=["clinic", "enrollment"],
                condition=models.Q(superseded_at__isnull=True),
                name="prescription_one_current",
            ),
        ]

    def __str__(self):
        return f"Prescription v{self.version} for {self.enrollment}"


class PrescriptionComponent(models.Model):
    """Aerobic, resistance, flexibility or neuromotor work: frequency, intensity, time, type, volume, progression."""

    class Kind(models.TextChoices):
        AEROBIC = "aerobic", "Aerobic"
        RESISTANCE = "resistance", "Resistance"
        FLEXIBILITY = "flexibility", "Flexibility"
        NEUROMOTOR = "neuromotor", "Neuromotor / balance"

    class Intensity(models.TextChoices):
        HRR = "pct_hrr", "% heart-rate reserve (Karvonen)"
        HRMAX = "pct_hrmax", "% HRmax"
        TARGET_HR = "target_hr", "Target heart rate (bpm)"
        RPE = "rpe", "RPE (6–20)"
        CR10 = "cr10", "RPE (CR10, 0–10)"
        METS = "mets", "METs"
        WATTS = "watts", "Watts"
        SPEED_GRADE = "speed_grade", "Treadmill speed and grade"
        PCT_1RM = "pct_1rm", "% 1RM"
        LOAD = "load", "Load (kg)"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    prescription = models.ForeignKey(ExercisePrescription, on_delete=models.PROTECT, related_name="components")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    frequency_per_week = models.PositiveSmallIntegerField(
        "days per week", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(7)]
    )
    intensity_method = models.CharField(max_length=12, choices=Intensity.choices, blank=True)
    intensity_low = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    intensity_high = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    speed_mph = models.DecimalField("speed (mph)", max_digits=4, decimal_places=1, null=True, blank=True)
    grade_percent = models.DecimalField("grade (%)", max_digits=4, decimal_places=1, null=True, blank=True)
    target_hr_low = models.PositiveSmallIntegerField(null=True, blank=True)
    target_hr_high = models.PositiveSmallIntegerField(null=True, blank=True)
    minutes = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(240)])
    sets = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(20)])
    reps = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    modality = models.CharField("type / modality", max_length=200, blank=True)
    volume = models.CharField(max_length=200, blank=True)
    progression = models.TextField("progression", blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "prescription", "kind"], name="prescription_component_unique")
        ]

    def __str__(self):
        return self.get_kind_display()


# --- Individualized treatment plan (ITP) --------------------------------------------------------

# ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and 1–4 more characters.
ICD10_PATTERN = r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"


def validate_icd10(value: str):
    """Names the code, so a list of several says which one is wrong."""
    if not re.match(ICD10_PATTERN, value):
        raise ValidationError(f"{value} is not an ICD-10-CM code: enter codes like I21.4 or R73.03.")


ITP_PROGRAM_TYPES = ("cr", "icr", "pr")
# Programs whose sessions 37–72 carry the KX modifier and need a medical-necessity note (billing/).
KX_PROGRAM_TYPES = ("cr", "pr")
ITP_SIGNATURE_MEANING = "I have reviewed and approve this individualized treatment plan"


class TreatmentPlan(models.Model):
    """One version of the individualized treatment plan of a CR, ICR or PR enrollment (42 CFR
    410.47/410.49: diagnosis; type, amount, frequency and duration of services; goals), drafted by
    staff and signed by a physician. A signed version is locked (a database trigger refuses changes);
    a review drafts the next version from the last signed one."""

    class SignatureMethod(models.TextChoices):
        PASSWORD = "password", "Password re-entered"
        MFA = "mfa", "Authenticator code"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="treatment_plans")
    version = models.PositiveSmallIntegerField()
    diagnosis = models.TextField()
    diagnosis_codes = ArrayField(
        models.CharField(max_length=8, validators=[validate_icd10]),
        default=list,
        blank=True,
        help_text="ICD-10-CM codes, e.g. I21.4, J44.9.",
    )
    goals = models.TextField()
    prescription = models.ForeignKey(
        ExercisePrescription,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The exercise prescription in force when the plan was drafted.",
    )
    drafted_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    # The electronic signature: who, when, what it means, how the signer proved who they are, and
    # their name and credential as they were at signing (a later rename does not rewrite history).
    signed_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    signature_meaning = models.CharField(max_length=200, blank=True)
    signature_method = models.CharField(max_length=10, choices=SignatureMethod.choices, blank=True)
    signer_name = models.CharField(max_length=200, blank=True)
    signer_credential = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "enrollment", "version"], name="treatment_plan_version_unique"),
            models.UniqueConstraint(
                fields=["clinic", "enrollment"],
                condition=models.Q(signed_at__isnull=True),
                name="treatment_plan_one_open_draft",
            ),
            models.CheckConstraint(
                condition=models.Q(signed_at__isnull=True, signed_by__isnull=True)
                | (
                    models.Q(signed_at__isnull=False, signed_by__isnull=False)
                    & ~models.Q(signature_meaning="")
                    & ~models.Q(signature_method="")
                    & ~models.Q(signer_name="")
                ),
                name="treatment_plan_signature_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "enrollment", "signed_at"], name="treatment_plan_signed_idx"),
        ]

    def __str__(self):
        return f"Treatment plan v{self.version} for {self.enrollment}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def signed_on(self) -> datetime.date | None:
        """The signature's date in the clinic's time zone (a date of service is a local date)."""
        if self.signed_at is None:
            return None
        return self.signed_at.astimezone(zoneinfo.ZoneInfo(self.clinic.timezone)).date()

    @property
    def covers_until(self) -> datetime.date | None:
        """The last date of service this signature covers (settings.ITP_REVIEW_DAYS after signing)."""
        from django.conf import settings

        signed_on = self.signed_on
        return signed_on + datetime.timedelta(days=settings.ITP_REVIEW_DAYS) if signed_on else None

    def covers(self, date: datetime.date) -> bool:
        """A signed plan covers dates of service from its signature date up to ITP_REVIEW_DAYS after."""
        return self.signed_at is not None and self.signed_on <= date <= self.covers_until


class TreatmentPlanService(models.Model):
    """One service of a plan: its type (kind and description), amount (minutes per session),
    frequency (sessions per week) and duration (weeks). Numbers where a reviewer or a claim check
    may compare them; a note for whatever does not fit."""

    class Kind(models.TextChoices):
        EXERCISE = "exercise", "Supervised exercise"
        EDUCATION = "education", "Education / risk-factor modification"
        PSYCHOSOCIAL = "psychosocial", "Psychosocial support"
        NUTRITION = "nutrition", "Nutrition counselling"
        BREATHING = "breathing", "Breathing retraining"
        OTHER = "other", "Other"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="services")
    kind = models.CharField("type", max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    minutes_per_session = models.PositiveSmallIntegerField(
        "amount (minutes per session)", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(480)]
    )
    sessions_per_week = models.PositiveSmallIntegerField(
        "frequency (sessions per week)", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(14)]
    )
    duration_weeks = models.PositiveSmallIntegerField(
        "duration (weeks)", null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(52)]
    )
    notes = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["clinic", "plan"], name="treatment_plan_service_idx")]

    def __str__(self):
        return self.get_kind_display()


# --- Measures and observations ------------------------------------------------------------------


class Measure(models.Model):
    """A coded measure (LOINC where one fits, a local code otherwise) with its UCUM unit, valid range,
    which direction is better and its minimal clinically important difference (MCID).

    Rows without a clinic are reference data shared by all clinics, loaded by migrations with their
    sources (../shared/reference/domain.md section 4); a clinic's admins add their own, visible to that
    clinic only. Everything measured is stored in the measure's unit; pages convert for display.
    """

    class Direction(models.TextChoices):
        HIGHER = "higher", "Higher is better"
        LOWER = "lower", "Lower is better"
        CONTEXT = "context", "Depends on context"

    class McidKind(models.TextChoices):
        ABSOLUTE = "absolute", "In the measure's unit"
        PERCENT = "percent", "% of baseline"

    class Category(models.TextChoices):
        FUNCTIONAL = "functional", "Functional capacity"
        VITAL = "vital", "Vital signs"
        BODY = "body", "Body composition"
        LAB = "lab", "Laboratory"
        PSYCHOSOCIAL = "psychosocial", "Psychosocial"
        SESSION = "session", "Session effort"

    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for shared reference measures.",
    )
    code = models.CharField(max_length=40)
    code_system = models.CharField(max_length=60, default="http://loinc.org")
    name = models.CharField(max_length=120)
    unit = models.CharField("UCUM unit", max_length=30)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.FUNCTIONAL)
    min_value = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    max_value = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    decimal_places = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(3)])
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.CONTEXT)
    mcid = models.DecimalField("MCID", max_digits=9, decimal_places=3, null=True, blank=True)
    mcid_kind = models.CharField("MCID is", max_length=10, choices=McidKind.choices, default=McidKind.ABSOLUTE)
    mcid_source = models.CharField("MCID source", max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=models.Q(clinic__isnull=True), name="measure_shared_code"
            ),
            models.UniqueConstraint(
                fields=["clinic", "code"], condition=models.Q(clinic__isnull=False), name="measure_clinic_code"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit})"


class MeasureBand(models.Model):
    """A norm or risk band of a measure: values from `low` (inclusive unless `low_inclusive` is off) up
    to `high` (exclusive unless `high_inclusive`) carry `label`, for patients of the given sex and age
    (blank and empty mean any). E.g. the STEADI 30-second chair stand cut-offs, TUG >= 12 s, PHQ-9
    severity bands, BMI classes."""

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="bands")
    sex = models.CharField(max_length=1, blank=True, help_text="M or F; blank for both.")
    age_min = models.PositiveSmallIntegerField(null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Inclusive.")
    low = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    low_inclusive = models.BooleanField(default=True)
    high = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    high_inclusive = models.BooleanField(default=False)
    label = models.CharField(max_length=80)
    is_risk = models.BooleanField(default=False, help_text="The band means the patient is at risk.")
    source = models.CharField(max_length=300)

    class Meta:
        ordering = ["measure", "sex", "age_min", "low"]

    def __str__(self):
        return f"{self.measure.code}: {self.label}"

    def contains(self, value, *, sex: str = "", age: int | None = None) -> bool:
        if self.sex and self.sex != sex:
            return False
        if (self.age_min is not None or self.age_max is not None) and age is None:
            return False
        if self.age_min is not None and age < self.age_min:
            return False
        if self.age_max is not None and age > self.age_max:
            return False
        if self.low is not None and (value < self.low if self.low_inclusive else value <= self.low):
            return False
        above_high = self.high is not None and (value > self.high if self.high_inclusive else value >= self.high)
        return not above_high


class Observation(models.Model):
    """One measured value of one patient, in the measure's unit. `source` says what recorded it (the
    floor sheet's session log, an assessment) and `source_id` which row, as FHIR's Observation points
    at its encounter."""

    class Source(models.TextChoices):
        SESSION = "session", "Session log"
        ASSESSMENT = "assessment", "Assessment"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="+")
    value = models.DecimalField(max_digits=9, decimal_places=3)
    unit = models.CharField(max_length=30)
    observed_at = models.DateTimeField()
    phase = models.CharField(max_length=20, blank=True, help_text="pre, peak or post for session vitals.")
    source = models.CharField(max_length=20, choices=Source.choices)
    source_id = models.BigIntegerField()
    recorded_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "measure", "observed_at"], name="observation_series_idx"),
            models.Index(fields=["clinic", "source", "source_id"], name="observation_source_idx"),
        ]

    def __str__(self):
        return f"{self.measure.code} = {self.value} {self.unit}"


class ClinicalAlert(models.Model):
    """Something about a patient that needs a clinician the same day (a PHQ-9 item 9 answer above 0).
    Raised by the service that recorded its cause, in the same transaction, once per cause (`source`,
    `source_id`); shown on the chart and the physiologist's "today" page until acknowledged with a note.
    The message says what to do, not the clinical detail: the chart holds that."""

    class Kind(models.TextChoices):
        PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9 above 0"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="clinical_alerts")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.CharField(max_length=200)
    raised_at = models.DateTimeField(default=now)
    source = models.CharField(max_length=20, help_text="What raised it: assessment, ...")
    source_id = models.BigIntegerField()
    acknowledged_by = models.ForeignKey(Membership, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="The follow-up, written when acknowledging.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "source", "source_id"], name="clinical_alert_once_per_cause"
            )
        ]
        indexes = [
            models.Index(
                fields=["clinic", "-raised_at"], condition=models.Q(acknowledged_at__isnull=True), name="alert_open_idx"
            ),
            models.Index(fields=["clinic", "patient"], name="alert_patient_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.raised_at:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


# --- Messages ---------------------------------------------------------------------------------


class OutboundMessage(models.Model):
    """An email the platform sends. Written in the same transaction as the change that causes it, so
    a change and its message are saved together or not at all; clinic/outbox.py sends it exactly once
    (a row lock), and a beat job sends whatever Redis or a killed worker left behind."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Staff invitation"
        REFERRAL_NOTICE = "referral_notice", "Referral notice to the referring physician"
        CLASS_CANCELLED = "class_cancelled", "Class cancelled notice to a booked patient"
        PLACE_OFFERED = "place_offered", "A place from the waitlist, to the patient"
        REPORT_READY = "report_ready", "Progress report ready, to the referring physician"
        ITP_DUE = "itp_due", "Treatment plans due, daily count to a physician"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    key = models.CharField(max_length=100, help_text="One message per event: e.g. invitation:42.")
    to_email = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # An invitation's body holds a sign-in link: once sent, it has no business in the database.
    erase_body_after_send = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    next_attempt_at = models.DateTimeField(default=now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "key"], name="outbound_message_once_per_event")]
        indexes = [
            models.Index(
                fields=["clinic", "next_attempt_at"],
                condition=models.Q(sent_at__isnull=True),
                name="message_unsent_idx",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to_email}"


# --- Audit trail ------------------------------------------------------------------------------


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log=False, **kwargs):
        """django-auditlog calls this for every change; we add the clinic and patient columns."""
        kwargs.setdefault("clinic_id", audit_clinic_id(instance))
        kwargs.setdefault("patient_id", audit_patient_id(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)


def audit_clinic_id(instance):
    if isinstance(instance, Clinic):
        return instance.pk
    return getattr(instance, "clinic_id", None)


def audit_patient_id(instance):
    if isinstance(instance, Patient):
        return instance.pk
    return getattr(instance, "patient_id", None)


class AuditEntry(AbstractLogEntry):
    """django-auditlog's log entry with the clinic and patient as columns, so a clinic's trail, or
    one patient's, is read from an index instead of a scan of every clinic's rows."""

    class Event(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        LOGOUT = "logout", "Signed out"
        MFA_CHANGE = "mfa_change", "Two-factor change"
        RLS_BYPASS = "rls_bypass", "Read across clinics"
        SIGN_FAILED = "sign_failed", "Failed signature"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    event = models.CharField(max_length=20, choices=Event.choices, blank=True)
    # The hash chain (clinic/auditchain.py): set by a database trigger on insert, whatever the ORM sends.
    chain_seq = models.BigIntegerField(null=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        swappable = "AUDITLOG_LOGENTRY_MODEL"
        indexes = [
            models.Index(fields=["clinic", "chain_seq"], name="audit_clinic_chain_idx"),
            models.Index(fields=["clinic", "-timestamp"], name="audit_clinic_time_idx"),
            models.Index(fields=["clinic", "patient", "-timestamp"], name="audit_clinic_patient_idx"),
            models.Index(fields=["clinic", "actor", "-timestamp"], name="audit_clinic_actor_idx"),
            # The trail filtered by action: without it, counting a clinic's updates read all its entries.
            models.Index(fields=["clinic", "event", "-timestamp"], name="audit_clinic_event_idx"),
        ]

    def save(self, *args, **kwargs):
        # auditlog only knows create/update/delete/access; the event column names what happened.
        if not self.event:
            self.event = {
                self.Action.CREATE: self.Event.CREATE,
                self.Action.UPDATE: self.Event.UPDATE,
                self.Action.DELETE: self.Event.DELETE,
                self.Action.ACCESS: self.Event.VIEW,
            }[self.action]
        super().save(*args, **kwargs)


class AuditCheckpoint(models.Model):
    """Where a clinic's audit chain resumes after `audit_retention` removed its oldest entries: the
    sequence number and hash of the last entry removed (the next kept entry's prev_hash)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    chain_seq = models.BigIntegerField()
    entry_hash = models.CharField(max_length=64)
    removed_before = models.DateTimeField()
    removed_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "-chain_seq"], name="audit_checkpoint_idx")]

    def __str__(self):
        return f"Audit checkpoint at entry {self.chain_seq}"
