"""Every write to the core record. Each validates before it writes and runs in one transaction."""

import datetime
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from clinic import outbox
from clinic.models import (
    ApiToken,
    Clinic,
    Invitation,
    Membership,
    OutboundMessage,
    Patient,
    Role,
    User,
    normalize_mbi,
)
from clinic.tokens import hash_token, new_token

INVITATION_VALID_FOR = datetime.timedelta(days=7)

PATIENT_FIELDS = [
    "mrn", "first_name", "last_name", "date_of_birth", "sex", "preferred_language", "phone", "email",
    "address_line1", "address_line2", "city", "state", "postal_code", "emergency_contact_name",
    "emergency_contact_phone", "primary_payer", "payer_member_id", "mbi", "consent_to_treatment",
    "consent_date", "email_opt_in", "sms_opt_in",
]  # fmt: skip


# --- Clinics ----------------------------------------------------------------------------------


@transaction.atomic
def clinic_create(*, name: str, slug: str, **fields) -> Clinic:
    clinic = Clinic(name=name, slug=slug, **fields)
    clinic.full_clean()
    clinic.save()
    return clinic


CLINIC_SETTINGS_FIELDS = [
    "name", "timezone", "weight_unit", "length_unit", "phone", "email", "address", "npi", "tax_id",
    "mfa_required", "idle_timeout_minutes", "logout_on_browser_close",
    "reminder_lead_hours", "reminder_by_email", "reminder_by_sms", "late_cancel_hours",
]  # fmt: skip


@transaction.atomic
def clinic_update_settings(*, clinic: Clinic, actor: User, data: dict) -> Clinic:
    for key in CLINIC_SETTINGS_FIELDS:
        if key in data:
            setattr(clinic, key, data[key])
    clinic.full_clean()
    clinic.save()
    return clinic


# --- Patients ---------------------------------------------------------------------------------


def _clean_patient(patient: Patient) -> None:
    patient.mrn = patient.mrn.strip()
    patient.mbi = normalize_mbi(patient.mbi or "")
    patient.email = (patient.email or "").strip().lower()
    duplicate = Patient.objects.filter(clinic_id=patient.clinic_id, mrn__iexact=patient.mrn).exclude(pk=patient.pk)
    if patient.mrn and duplicate.exists():
        raise ValidationError({"mrn": f"MRN {patient.mrn} already belongs to another patient in this clinic."})
    # Not the model's constraints: when another save of the same MRN commits between the check above
    # and this one, they would say "Patient with this Clinic and MRN already exists." The database's
    # constraint still decides, with the message above (_save_patient).
    patient.full_clean(validate_constraints=False)


def _save_patient(patient: Patient) -> Patient:
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:  # two people saving the same MRN at once
        raise ValidationError(
            {"mrn": f"MRN {patient.mrn} already belongs to another patient in this clinic."}
        ) from error
    return patient


def next_mrn(*, clinic: Clinic) -> str:
    """An MRN for a patient who arrives without one (from a referral): MF000001, MF000002, …"""
    taken = Patient.objects.filter(clinic=clinic, mrn__startswith="MF").count()
    number = taken + 1
    while Patient.objects.filter(clinic=clinic, mrn=f"MF{number:06}").exists():
        number += 1
    return f"MF{number:06}"


@transaction.atomic
def patient_create(*, clinic: Clinic, actor: User, data: dict) -> Patient:
    patient = Patient(clinic=clinic, **{key: value for key, value in data.items() if key in PATIENT_FIELDS})
    _clean_patient(patient)
    return _save_patient(patient)


@transaction.atomic
def patient_update(*, clinic: Clinic, actor: User, patient: Patient, data: dict) -> Patient:
    if patient.clinic_id != clinic.pk:
        raise ValidationError("This patient belongs to another clinic.")
    for key, value in data.items():
        if key in PATIENT_FIELDS:
            setattr(patient, key, value)
    _clean_patient(patient)
    return _save_patient(patient)


@transaction.atomic
def patient_set_status(*, clinic: Clinic, actor: User, patient: Patient, status: str) -> Patient:
    if status not in Patient.Status.values:
        raise ValidationError({"status": "Unknown status."})
    patient.status = status
    patient.save(update_fields=["status", "updated_at"])
    return patient


# --- Staff: invitations and memberships -------------------------------------------------------


def _validate_roles(roles) -> list[str]:
    roles = sorted(set(roles or []))
    if not roles:
        raise ValidationError({"roles": "Choose at least one role."})
    unknown = [role for role in roles if role not in Role.values]
    if unknown:
        raise ValidationError({"roles": f"Unknown role: {', '.join(unknown)}."})
    return roles


@transaction.atomic
def invitation_create(*, clinic: Clinic, actor: User, email: str, roles: list[str]) -> tuple[Invitation, str]:
    """Invite someone by email. Returns the invitation and the raw token (only its hash is stored)."""
    email = email.strip().lower()
    roles = _validate_roles(roles)
    if Membership.objects.filter(clinic=clinic, user__email=email, is_active=True).exists():
        raise ValidationError({"email": f"{email} is already a member of {clinic.name}."})
    # A new invitation replaces any earlier pending one for the same person.
    Invitation.objects.filter(clinic=clinic, email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    raw = secrets.token_urlsafe(32)
    invitation = Invitation(
        clinic=clinic,
        email=email,
        roles=roles,
        token_hash=hash_token(raw),
        invited_by=actor,
        expires_at=timezone.now() + INVITATION_VALID_FOR,
    )
    invitation.full_clean()
    invitation.save()
    outbox.message_queue(
        clinic=clinic,
        kind=OutboundMessage.Kind.INVITATION,
        key=f"invitation:{invitation.pk}",
        to_email=invitation.email,
        subject=f"You're invited to {clinic.name} on MedFit",
        body=(
            f"{actor} invited you to join {clinic.name} on MedFit.\n\n"
            f"Accept the invitation within 7 days:\n{invitation_url(raw)}\n\n"
            "If you did not expect this email, you can ignore it."
        ),
        erase_body_after_send=True,
    )
    return invitation, raw


def invitation_url(raw_token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[raw_token])


def invitation_find(raw_token: str) -> Invitation | None:
    return Invitation.objects.select_related("clinic").filter(token_hash=hash_token(raw_token)).first()


@transaction.atomic
def invitation_accept(
    *, raw_token: str, user: User | None = None, first_name: str = "", last_name: str = "", password: str = ""
) -> Membership:
    """Accept an invitation: as the signed-in `user`, or by creating an account with `password`."""
    invitation = (
        Invitation.objects.select_for_update().select_related("clinic").filter(token_hash=hash_token(raw_token)).first()
    )
    if invitation is None or invitation.status != "pending":
        raise ValidationError("This invitation link is invalid, expired or already used.")
    if user is None:
        if User.objects.filter(email=invitation.email).exists():
            raise ValidationError("An account with this email exists: sign in first, then open the link again.")
        from django.contrib.auth.password_validation import validate_password

        candidate = User(email=invitation.email, first_name=first_name, last_name=last_name)
        try:
            validate_password(password, candidate)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from error
        user = User.objects.create_user(invitation.email, password, first_name=first_name, last_name=last_name)
    elif user.email.lower() != invitation.email:
        raise ValidationError(f"This invitation is for {invitation.email}; you are signed in as {user.email}.")
    membership = Membership.objects.filter(clinic=invitation.clinic, user=user).first()
    if membership is None:
        membership = Membership(clinic=invitation.clinic, user=user, roles=invitation.roles)
    else:  # a returning member
        membership.roles, membership.is_active, membership.deactivated_at = invitation.roles, True, None
    membership.save()
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def invitation_revoke(*, clinic: Clinic, actor: User, invitation: Invitation) -> Invitation:
    if invitation.status != "pending":
        raise ValidationError("Only a pending invitation can be revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


def _other_active_admins(clinic: Clinic, membership: Membership) -> bool:
    """Locks the clinic's admin memberships, so two admins demoting each other at once cannot both pass."""
    admins = Membership.objects.select_for_update().filter(clinic=clinic, is_active=True, roles__contains=[Role.ADMIN])
    return any(admin.pk != membership.pk for admin in admins)


@transaction.atomic
def membership_set_roles(*, clinic: Clinic, actor: User, membership: Membership, roles: list[str]) -> Membership:
    roles = _validate_roles(roles)
    if Role.ADMIN in membership.roles and Role.ADMIN not in roles and not _other_active_admins(clinic, membership):
        raise ValidationError({"roles": "A clinic needs at least one administrator."})
    membership.roles = roles
    membership.save(update_fields=["roles"])
    return membership


@transaction.atomic
def membership_deactivate(*, clinic: Clinic, actor: User, membership: Membership) -> Membership:
    """Ends the person's access to this clinic at once (the next request is refused); history stays."""
    if not membership.is_active:
        raise ValidationError("This membership is already inactive.")
    if membership.user_id == actor.pk:
        raise ValidationError("You cannot deactivate your own membership.")
    if Role.ADMIN in membership.roles and not _other_active_admins(clinic, membership):
        raise ValidationError("A clinic needs at least one administrator.")
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at"])
    ApiToken.objects.filter(membership=membership, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return membership


# --- API tokens -------------------------------------------------------------------------------


@transaction.atomic
def api_token_create(*, membership: Membership, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, such as the integration that will use it."})
    raw = new_token()
    token = ApiToken.objects.create(
        clinic_id=membership.clinic_id,
        membership=membership,
        name=name,
        prefix=raw[:10],
        token_hash=hash_token(raw),
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, membership: Membership, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
