"""Writes of treatment plans: draft, edit the draft, sign, start a review.

A signature is the physician re-entering their password or a code from their authenticator app
(django-allauth's TOTP, the same check as at sign-in), agreeing to what the signature means. A wrong
password or code changes nothing and leaves a "failed signature" entry in the audit trail; after
MAX_FAILED_SIGNATURES failures in SIGNATURE_LOCKOUT the signer must wait, as at sign-in.
"""

import datetime
import re

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from clinic.audit import record_access
from clinic.models import (
    ITP_PROGRAM_TYPES,
    ITP_SIGNATURE_MEANING,
    AuditEntry,
    Clinic,
    Enrollment,
    ExercisePrescription,
    Membership,
    PatientPhysician,
    TreatmentPlan,
    TreatmentPlanService,
    validate_icd10,
)
from clinic.treatment_plans.selectors import OPEN_ENROLLMENT, may_sign

MAX_FAILED_SIGNATURES = 5
SIGNATURE_LOCKOUT = datetime.timedelta(minutes=15)
# Non-physician practitioners may supervise CR/PR since 2024, but whether they may sign the ITP is
# unverified (domain.md 3.5), so their signatures are refused until it is.
NPP_CREDENTIALS = {"NP", "PA", "PA-C", "CNS", "APRN", "FNP", "ANP"}
SERVICE_FIELDS = ["kind", "description", "minutes_per_session", "sessions_per_week", "duration_weeks", "notes"]
LOCKED_MESSAGE = "Version {version} is signed and locked. Start a review to change the plan."


class SignatureRefused(ValidationError):
    """A signature that was not accepted; the message says why."""


def parse_codes(value) -> list[str]:
    """ICD-10 codes as a list, from a list or from text separated by commas, semicolons or spaces."""
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    return [code.strip().upper() for code in value or [] if code and code.strip()]


def _validate(*, data: dict, services: list[dict]) -> tuple[dict, list[TreatmentPlanService]]:
    """Every problem at once, keyed by field ("services.0.minutes_per_session" for a service's)."""
    errors: dict[str, str] = {}
    cleaned = {
        "diagnosis": (data.get("diagnosis") or "").strip(),
        "goals": (data.get("goals") or "").strip(),
        "diagnosis_codes": parse_codes(data.get("diagnosis_codes")),
    }
    if not cleaned["diagnosis"]:
        errors["diagnosis"] = "Enter the diagnosis."
    if not cleaned["goals"]:
        errors["goals"] = "Enter the goals of the plan."
    wrong = []
    for code in cleaned["diagnosis_codes"]:
        try:
            validate_icd10(code)
        except ValidationError:
            wrong.append(code)
    if wrong:
        errors["diagnosis_codes"] = f"Not ICD-10-CM codes: {', '.join(wrong)}. Enter codes like I21.4 or J44.9."
    rows = []
    for index, values in enumerate(services):
        if all(values.get(name) in (None, "") for name in SERVICE_FIELDS):
            continue
        row = TreatmentPlanService(**{name: values.get(name) for name in SERVICE_FIELDS}, position=len(rows))
        for name in ("description", "notes"):
            setattr(row, name, (getattr(row, name) or "").strip())
        try:
            row.full_clean(exclude=["clinic", "plan"])
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors[f"services.{index}.{name}"] = " ".join(messages)
        rows.append(row)
    if not rows:
        errors["services"] = "Add at least one service: its type, amount, frequency and duration."
    return cleaned, errors, rows


def _check_enrollment(clinic: Clinic, actor: Membership, enrollment: Enrollment) -> None:
    if enrollment.clinic_id != clinic.pk or actor.clinic_id != clinic.pk:
        raise ValidationError("This enrollment belongs to another clinic.")
    if enrollment.program.program_type not in ITP_PROGRAM_TYPES:
        raise ValidationError("Only cardiac, intensive cardiac and pulmonary rehab enrollments have a treatment plan.")
    if enrollment.status not in OPEN_ENROLLMENT:
        raise ValidationError("This enrollment has ended; its plans can no longer change.")


def _current_prescription(clinic: Clinic, enrollment: Enrollment) -> ExercisePrescription | None:
    return ExercisePrescription.objects.filter(clinic=clinic, enrollment=enrollment, superseded_at__isnull=True).first()


def _save_services(clinic: Clinic, plan: TreatmentPlan, rows: list[TreatmentPlanService]) -> None:
    for row in rows:
        row.clinic = clinic
        row.plan = plan
    TreatmentPlanService.objects.bulk_create(rows)


def _lock_enrollment(clinic: Clinic, enrollment: Enrollment) -> Enrollment:
    """Drafts of one enrollment take turns from here (versions are numbered under this lock)."""
    return (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(clinic=clinic, pk=enrollment.pk)
    )


@transaction.atomic
def itp_draft(
    *, clinic: Clinic, actor: Membership, enrollment: Enrollment, data: dict, services: list[dict]
) -> TreatmentPlan:
    """Draft the next version of an enrollment's plan, with the exercise prescription now in force."""
    _check_enrollment(clinic, actor, enrollment)
    cleaned, errors, rows = _validate(data=data, services=services)
    if errors:
        raise ValidationError(errors)
    locked = _lock_enrollment(clinic, enrollment)
    plans = TreatmentPlan.objects.filter(clinic=clinic, enrollment=locked)
    draft = plans.filter(signed_at__isnull=True).first()
    if draft is not None:
        raise ValidationError(f"Version {draft.version} is already a draft: edit it instead of starting another.")
    now = timezone.now()
    plan = TreatmentPlan(
        clinic=clinic, enrollment=locked, version=(plans.aggregate(v=Max("version"))["v"] or 0) + 1,
        prescription=_current_prescription(clinic, locked), drafted_by=actor, created_at=now, updated_at=now,
        **cleaned,
    )  # fmt: skip
    plan.patient_id = locked.patient_id  # names the patient in the audit trail's entry
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError as error:  # a concurrent draft that did not take the lock
        raise ValidationError("Someone else just started a draft of this plan. Reload to see it.") from error
    _save_services(clinic, plan, rows)
    return plan


@transaction.atomic
def itp_update_draft(
    *, clinic: Clinic, actor: Membership, plan: TreatmentPlan, data: dict, services: list[dict]
) -> TreatmentPlan:
    """Change a draft (not a signed version): its text, its services, and the prescription in force."""
    locked = (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("enrollment__program")
        .get(clinic=clinic, pk=plan.pk)
    )
    if locked.is_signed:
        raise ValidationError(LOCKED_MESSAGE.format(version=locked.version))
    _check_enrollment(clinic, actor, locked.enrollment)
    cleaned, errors, rows = _validate(data=data, services=services)
    if errors:
        raise ValidationError(errors)
    for name, value in cleaned.items():
        setattr(locked, name, value)
    locked.prescription = _current_prescription(clinic, locked.enrollment)
    locked.updated_at = timezone.now()
    locked.patient_id = locked.enrollment.patient_id
    locked.save()
    locked.services.all().delete()
    _save_services(clinic, locked, rows)
    return locked


@transaction.atomic
def itp_start_review(*, clinic: Clinic, actor: Membership, enrollment: Enrollment) -> TreatmentPlan:
    """Draft the next version as a copy of the last signed one, for the physician to review and sign."""
    _check_enrollment(clinic, actor, enrollment)
    locked = _lock_enrollment(clinic, enrollment)
    plans = TreatmentPlan.objects.filter(clinic=clinic, enrollment=locked)
    draft = plans.filter(signed_at__isnull=True).first()
    if draft is not None:
        raise ValidationError(f"Version {draft.version} is already a draft awaiting signature.")
    last = plans.filter(signed_at__isnull=False).order_by("-signed_at").first()
    if last is None:
        raise ValidationError("There is no signed plan to review yet: draft the first one.")
    copied = [
        TreatmentPlanService(**{name: getattr(service, name) for name in SERVICE_FIELDS}, position=service.position)
        for service in last.services.all()
    ]
    now = timezone.now()
    plan = TreatmentPlan(
        clinic=clinic, enrollment=locked, version=(plans.aggregate(v=Max("version"))["v"] or 0) + 1,
        diagnosis=last.diagnosis, diagnosis_codes=list(last.diagnosis_codes), goals=last.goals,
        prescription=_current_prescription(clinic, locked), drafted_by=actor, created_at=now, updated_at=now,
    )  # fmt: skip
    plan.patient_id = locked.patient_id
    plan.save()
    _save_services(clinic, plan, copied)
    return plan


# --- Signing ------------------------------------------------------------------------------------


def _recent_failures(clinic: Clinic, actor: Membership) -> int:
    since = timezone.now() - SIGNATURE_LOCKOUT
    return AuditEntry.objects.filter(
        clinic=clinic, actor=actor.user, event=AuditEntry.Event.SIGN_FAILED, timestamp__gte=since
    ).count()


def _credential(actor: Membership) -> str:
    try:
        return actor.referring_provider.credentials.strip()
    except ObjectDoesNotExist:
        return ""


def _verify(user, *, password: str | None, mfa_code: str | None) -> tuple[str, bool]:
    """(method, proved). An authenticator code is checked as allauth checks it at sign-in (and may be
    used once); a password by the user's password hash."""
    if mfa_code:
        authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if authenticator is None:
            raise SignatureRefused("You have no authenticator app set up: sign with your password instead.")
        proved = TOTP(authenticator).validate_code(mfa_code.replace(" ", ""))
        if proved:
            authenticator.record_usage()
        return TreatmentPlan.SignatureMethod.MFA, proved
    return TreatmentPlan.SignatureMethod.PASSWORD, user.check_password(password)


def itp_sign(
    *,
    clinic: Clinic,
    actor: Membership,
    plan: TreatmentPlan,
    password: str | None = None,
    mfa_code: str | None = None,
    meaning: str,
    request=None,
) -> TreatmentPlan:
    """Sign a draft. Refused (SignatureRefused, nothing changed) unless the signer is a physician
    linked to the patient, agrees to ITP_SIGNATURE_MEANING, and proves who they are; a wrong password
    or code is recorded in the audit trail (in its own transaction, so the refusal does not undo it)."""
    if plan.clinic_id != clinic.pk or actor.clinic_id != clinic.pk:
        raise SignatureRefused("This plan belongs to another clinic.")
    if plan.is_signed:
        raise SignatureRefused(LOCKED_MESSAGE.format(version=plan.version))
    if not may_sign(actor, plan):
        raise SignatureRefused("Only a physician who referred this patient or signs their plan may sign it.")
    credential = _credential(actor)
    if credential.upper() in NPP_CREDENTIALS:
        raise SignatureRefused(
            "Signatures by nurse practitioners, physician assistants and clinical nurse specialists are not "
            "accepted yet: whether Medicare lets them sign the ITP is still being verified. A physician must sign."
        )
    if (meaning or "").strip() != ITP_SIGNATURE_MEANING:
        raise SignatureRefused(f"Confirm what your signature means: “{ITP_SIGNATURE_MEANING}”.")
    if not password and not mfa_code:
        raise SignatureRefused("Enter your password or a code from your authenticator app to sign.")
    if _recent_failures(clinic, actor) >= MAX_FAILED_SIGNATURES:
        raise SignatureRefused("Too many failed signature attempts. Wait 15 minutes and try again.")
    method, proved = _verify(actor.user, password=password, mfa_code=mfa_code)
    if not proved:
        with transaction.atomic():
            record_access(
                clinic=clinic, actor=actor.user, obj=plan, request=request, event=AuditEntry.Event.SIGN_FAILED,
                detail=f"Wrong {'authenticator code' if method == 'mfa' else 'password'} signing plan v{plan.version}",
            )  # fmt: skip
        what = "That authenticator code is not valid (or was used already)" if method == "mfa" else "Wrong password"
        raise SignatureRefused(f"{what}. The plan was not signed.")
    return _sign(clinic=clinic, actor=actor, plan=plan, method=method, credential=credential)


@transaction.atomic
def _sign(*, clinic, actor, plan, method, credential) -> TreatmentPlan:
    locked = (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("enrollment")
        .get(clinic=clinic, pk=plan.pk)
    )
    if locked.is_signed:  # signed by someone else a moment ago
        raise SignatureRefused(LOCKED_MESSAGE.format(version=locked.version))
    locked.signed_by = actor
    locked.signed_at = timezone.now()
    locked.signature_meaning = ITP_SIGNATURE_MEANING
    locked.signature_method = method
    locked.signer_name = actor.user.get_full_name() or actor.user.email
    locked.signer_credential = credential
    locked.patient_id = locked.enrollment.patient_id
    locked.clinic = clinic
    locked.save()
    PatientPhysician.objects.get_or_create(
        clinic=clinic, patient_id=locked.enrollment.patient_id, physician=actor,
        relationship=PatientPhysician.Relationship.PLAN_SIGNER,
    )  # fmt: skip
    return locked
