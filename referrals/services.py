"""Every write of referral data. Each validates first and runs in one transaction; emails to the
referring physician are queued only after the transaction commits."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import events, outbox
from clinic import services as clinic_services
from clinic.models import (
    Clinic,
    Enrollment,
    Measure,
    Membership,
    OutboundMessage,
    Patient,
    PatientPhysician,
    Program,
    ProgramType,
    User,
)
from clinic.permissions import has_permission
from referrals.eligibility import eligibility_or_unknown
from referrals.models import (
    Referral,
    ReferralAttachment,
    ReferralNotification,
    ReferralStatusChange,
    ReferringProvider,
)

# Which status may follow which. Accepting goes through referral_accept (it opens an enrollment).
TRANSITIONS = {
    Referral.Status.RECEIVED: {Referral.Status.IN_REVIEW, Referral.Status.DECLINED, Referral.Status.UNABLE_TO_CONTACT},
    Referral.Status.IN_REVIEW: {Referral.Status.DECLINED, Referral.Status.UNABLE_TO_CONTACT},
    Referral.Status.UNABLE_TO_CONTACT: {Referral.Status.IN_REVIEW, Referral.Status.DECLINED},
    Referral.Status.ACCEPTED: set(),
    Referral.Status.DECLINED: set(),
}
ACCEPTABLE_FROM = {Referral.Status.RECEIVED, Referral.Status.IN_REVIEW, Referral.Status.UNABLE_TO_CONTACT}

ATTACHMENT_SIGNATURES = {
    "application/pdf": [b"%PDF-"],
    "image/png": [b"\x89PNG\r\n\x1a\n"],
    "image/jpeg": [b"\xff\xd8\xff"],
}


# --- Referring providers and programs ----------------------------------------------------------


PROVIDER_FIELDS = [
    "first_name",
    "last_name",
    "credentials",
    "npi",
    "specialty",
    "practice_name",
    "phone",
    "fax",
    "email",
]


def _check_npi_free(provider: ReferringProvider) -> None:
    if (
        provider.npi
        and ReferringProvider.objects.filter(clinic_id=provider.clinic_id, npi=provider.npi)
        .exclude(pk=provider.pk)
        .exists()
    ):
        raise ValidationError({"npi": f"NPI {provider.npi} already belongs to another provider in this clinic."})


@transaction.atomic
def provider_save(*, clinic: Clinic, actor: User | None, data: dict, provider: ReferringProvider | None = None):
    provider = provider or ReferringProvider(clinic=clinic)
    for key in PROVIDER_FIELDS:
        if key in data:
            setattr(provider, key, (data[key] or "").strip())
    _check_npi_free(provider)
    provider.full_clean()
    provider.save()
    return provider


@transaction.atomic
def provider_delete(*, clinic: Clinic, actor: User | None, provider: ReferringProvider) -> None:
    if provider.referrals.exists():
        raise ValidationError("This provider has referrals; their record must stay.")
    provider.delete()


@transaction.atomic
def provider_for_physician(*, membership: Membership) -> ReferringProvider:
    """The physician member's own provider record: on first use, the contact record with their email
    (a referrer who was invited later), or a new record from their account."""
    # Locking the membership makes two first uses at once (two tabs) take turns instead of colliding.
    Membership.objects.select_for_update().filter(pk=membership.pk).first()
    provider = ReferringProvider.objects.filter(clinic_id=membership.clinic_id, membership=membership).first()
    if provider is None:
        provider = (
            ReferringProvider.objects.select_for_update()
            .filter(clinic_id=membership.clinic_id, membership__isnull=True, email__iexact=membership.user.email)
            .first()
        )
        if provider is not None:
            provider.membership = membership
            provider.save(update_fields=["membership"])
            for referral in provider.referrals.filter(patient__isnull=False).select_related("referring_provider"):
                _link_physician(referral)
    if provider is None:
        user = membership.user
        provider = ReferringProvider.objects.create(
            clinic_id=membership.clinic_id, membership=membership, first_name=user.first_name or user.email,
            last_name=user.last_name, email=user.email,
        )  # fmt: skip
    return provider


PROGRAM_FIELDS = ["name", "program_type", "description", "default_length_weeks", "default_session_count",
                  "sessions_per_week", "headline_measure", "is_active"]  # fmt: skip

# A new program's headline measure when none is chosen: the outcome its type's guidelines lead with
# (domain.md section 4: 6MWD in CR/ICR/PR, weight in DPP/MDPP, TUG in falls prevention). Only a starting
# value: each program's own field is what the pages read, and admins change it in the program form.
HEADLINE_DEFAULTS = {
    ProgramType.CR: "64098-7", ProgramType.ICR: "64098-7", ProgramType.PR: "64098-7",
    ProgramType.DPP: "29463-7", ProgramType.MDPP: "29463-7", ProgramType.WEIGHT_MANAGEMENT: "29463-7",
    ProgramType.FALLS_PREVENTION: "tug",
}  # fmt: skip


def headline_default(program_type: str) -> Measure | None:
    code = HEADLINE_DEFAULTS.get(program_type)
    return Measure.objects.filter(clinic=None, code=code).first() if code else None


@transaction.atomic
def program_save(*, clinic: Clinic, actor: User | None, data: dict, program: Program | None = None) -> Program:
    """Create or update a program. A new one without a headline measure gets its type's usual one; on an
    edit, none means none (the first classified measure leads)."""
    creating = program is None
    program = program or Program(clinic=clinic)
    for key in PROGRAM_FIELDS:
        if key in data:
            setattr(program, key, data[key])
    if creating and program.headline_measure is None:
        program.headline_measure = headline_default(program.program_type)
    if program.headline_measure and program.headline_measure.clinic_id not in (None, clinic.pk):
        raise ValidationError({"headline_measure": "Choose a measure of this clinic's catalog."})
    if Program.objects.filter(clinic=clinic, name__iexact=program.name).exclude(pk=program.pk).exists():
        raise ValidationError({"name": f"This clinic already has a program named {program.name}."})
    program.full_clean()
    program.save()
    return program


# --- Referrals ---------------------------------------------------------------------------------

REFERRAL_FIELDS = [
    field.name
    for field in Referral._meta.get_fields()
    if field.concrete
    and field.name
    not in {"id", "clinic", "status", "source", "patient", "possible_duplicate", "enrollment", "created_by",
            "created_at", "last_action_at", "status_reason", "eligibility_override_reason",
            "eligibility_overridden_by", "eligibility_overridden_at"}
]  # fmt: skip


def _record_status(referral: Referral, actor: User | None, to_status: str, reason: str = "") -> None:
    ReferralStatusChange.objects.create(
        clinic_id=referral.clinic_id, referral=referral, from_status=referral.status if referral.pk else "",
        to_status=to_status, reason=reason, changed_by=actor,
    )  # fmt: skip


def _link_physician(referral: Referral) -> None:
    """The referring physician, if a member, may now see this patient."""
    if referral.patient_id and referral.referring_provider.membership_id:
        PatientPhysician.objects.get_or_create(
            clinic_id=referral.clinic_id, patient_id=referral.patient_id,
            physician_id=referral.referring_provider.membership_id,
            relationship=PatientPhysician.Relationship.REFERRING,
        )  # fmt: skip


def _match_patient(referral: Referral, actor: User | None) -> bool:
    """Link the referral to the patient it describes, or flag a possible duplicate; never guess.
    True when it linked an existing chart.

    MRN, name and date of birth all agree: that patient. Anything partial (the MRN of someone with
    another name, or the same name and birth date under another or no MRN) is a possible duplicate
    for staff to resolve: linking on an MRN alone would let a referrer reach any chart by its MRN.
    No match at all: a new patient record from the referral.
    """
    same_person = Patient.objects.filter(
        clinic_id=referral.clinic_id, first_name__iexact=referral.patient_first_name,
        last_name__iexact=referral.patient_last_name, date_of_birth=referral.patient_date_of_birth,
    )  # fmt: skip
    mrn_owner = (
        Patient.objects.filter(clinic_id=referral.clinic_id, mrn__iexact=referral.patient_mrn).first()
        if referral.patient_mrn
        else None
    )
    if mrn_owner is not None and same_person.filter(pk=mrn_owner.pk).exists():
        referral.patient = mrn_owner
        return True
    if mrn_owner is not None or same_person.exists():
        referral.possible_duplicate = True
    else:
        referral.patient = _patient_from_referral(referral, actor)
    return False


def _patient_from_referral(referral: Referral, actor: User | None) -> Patient:
    return clinic_services.patient_create(
        clinic=referral.clinic,
        actor=actor,
        data={
            "mrn": referral.patient_mrn or clinic_services.next_mrn(clinic=referral.clinic),
            "first_name": referral.patient_first_name, "last_name": referral.patient_last_name,
            "date_of_birth": referral.patient_date_of_birth, "sex": referral.patient_sex,
            "phone": referral.patient_phone, "email": referral.patient_email,
        },
    )  # fmt: skip


def attachment_content_type(upload) -> str:
    """Return the checked content type of an uploaded referral document, or raise."""
    limit = settings.REFERRAL_ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError({"attachment": f"The file is larger than {limit // (1024 * 1024)} MB."})
    head = upload.read(16)
    upload.seek(0)
    for content_type, signatures in ATTACHMENT_SIGNATURES.items():
        if any(head.startswith(signature) for signature in signatures):
            return content_type
    raise ValidationError({"attachment": "Attach a PDF, PNG or JPEG file."})


def _save_attachment(referral: Referral, upload, actor: User | None) -> ReferralAttachment:
    content_type = attachment_content_type(upload)
    return ReferralAttachment.objects.create(
        clinic_id=referral.clinic_id, referral=referral, file=upload, original_name=upload.name[:255],
        content_type=content_type, size=upload.size, uploaded_by=actor,
    )  # fmt: skip


@transaction.atomic
def referral_create(
    *,
    clinic: Clinic,
    actor: User | None,
    data: dict,
    source: str = Referral.Source.STAFF,
    attachment=None,
    external_identifier: str = "",
    new_provider: dict | None = None,
) -> Referral:
    """`new_provider`: the details of a referring provider to add, instead of naming one in `data`. It is
    saved only with the referral: if the referral is refused, so is the provider."""
    if new_provider is not None:
        if data.get("referring_provider"):
            raise ValidationError({"referring_provider": "Name an existing provider or add a new one, not both."})
        data = {**data, "referring_provider": provider_save(clinic=clinic, actor=actor, data=new_provider)}
    referral = Referral(clinic=clinic, source=source, created_by=actor, external_identifier=external_identifier)
    for key in REFERRAL_FIELDS:
        if key in data:
            setattr(referral, key, data[key])
    _check_belongs_to_clinic(referral, clinic)
    if referral.program_id and not referral.program.is_active:
        raise ValidationError({"program": f"{referral.program.name} no longer takes referrals."})
    # The unique (clinic, external identifier) is left to the database, which alone sees a concurrent post.
    referral.full_clean(exclude=["patient"], validate_constraints=False)
    if attachment is not None:
        attachment_content_type(attachment)
    linked_an_existing_chart = _match_patient(referral, actor)
    referral.save()
    _record_status(referral, actor, Referral.Status.RECEIVED)
    # A referral that did not pass through staff (portal, FHIR) opens an existing chart to its
    # referrer only once staff accept it; until then the physician sees what they submitted.
    if referral.source == Referral.Source.STAFF or not linked_an_existing_chart:
        _link_physician(referral)
    if attachment is not None:
        _save_attachment(referral, attachment, actor)
    return referral


def _check_belongs_to_clinic(referral: Referral, clinic: Clinic) -> None:
    if referral.referring_provider_id and referral.referring_provider.clinic_id != clinic.pk:
        raise ValidationError({"referring_provider": "Choose a provider of this clinic."})
    if referral.program_id and referral.program.clinic_id != clinic.pk:
        raise ValidationError({"program": "Choose a program of this clinic."})


@transaction.atomic
def referral_submit(*, membership: Membership, data: dict, attachment=None) -> Referral:
    """A referral from a member: staff name the referrer; a physician always refers as themself."""
    if has_permission(membership, "referral.manage"):
        return referral_create(clinic=membership.clinic, actor=membership.user, data=data, attachment=attachment)
    return portal_referral_submit(membership=membership, profile={}, data=data, attachment=attachment)


@transaction.atomic
def portal_referral_submit(*, membership: Membership, profile: dict, data: dict, attachment=None) -> Referral:
    """A physician's referral from the portal: their details are remembered, and both are saved, or neither."""
    provider = provider_for_physician(membership=membership)
    provider_save(clinic=membership.clinic, actor=membership.user, data=profile, provider=provider)
    return referral_create(
        clinic=membership.clinic, actor=membership.user, source=Referral.Source.PORTAL,
        data={**data, "referring_provider": provider}, attachment=attachment,
    )  # fmt: skip


# Once a referral is decided, these describe what was decided on and stay as they were; clinical
# facts, clearance and precautions may still be corrected.
FIXED_ONCE_DECIDED = ["program", "referring_provider", "patient_mrn", "patient_first_name", "patient_last_name",
                      "patient_date_of_birth"]  # fmt: skip


@transaction.atomic
def referral_update(*, clinic: Clinic, actor: User | None, referral: Referral, data: dict) -> Referral:
    referral = (
        Referral.objects.select_for_update().select_related("referring_provider").get(pk=referral.pk, clinic=clinic)
    )
    previous_provider = referral.referring_provider
    previous_program_id = referral.program_id
    for key in REFERRAL_FIELDS:
        if key in data:
            if not referral.is_open and key in FIXED_ONCE_DECIDED and getattr(referral, key) != data[key]:
                label = Referral._meta.get_field(key).verbose_name
                raise ValidationError({key: f"The {label} cannot change once the referral is decided."})
            setattr(referral, key, data[key])
    _check_belongs_to_clinic(referral, clinic)
    if referral.program_id != previous_program_id and not referral.program.is_active:
        raise ValidationError({"program": f"{referral.program.name} no longer takes referrals."})
    referral.full_clean(exclude=["patient"])
    referral.last_action_at = timezone.now()
    referral.save()
    if referral.referring_provider_id != previous_provider.pk:
        _move_physician_link(referral, previous_provider)
    return referral


def _move_physician_link(referral: Referral, previous_provider: ReferringProvider) -> None:
    """The new referrer may see the patient; the old one keeps access only through another referral."""
    _link_physician(referral)
    if referral.patient_id and previous_provider.membership_id:
        still_refers = Referral.objects.filter(
            clinic_id=referral.clinic_id, patient_id=referral.patient_id,
            referring_provider__membership_id=previous_provider.membership_id,
        ).exists()  # fmt: skip
        if not still_refers:
            PatientPhysician.objects.filter(
                clinic_id=referral.clinic_id, patient_id=referral.patient_id,
                physician_id=previous_provider.membership_id, relationship=PatientPhysician.Relationship.REFERRING,
            ).delete()  # fmt: skip


@transaction.atomic
def referral_add_attachment(*, clinic: Clinic, actor: User | None, referral: Referral, upload) -> ReferralAttachment:
    return _save_attachment(referral, upload, actor)


@transaction.atomic
def referral_link_patient(
    *, clinic: Clinic, actor: User | None, referral: Referral, patient: Patient | None
) -> Referral:
    """Resolve a possible duplicate: link an existing patient, or (patient=None) create a new one."""
    if referral.patient_id:
        raise ValidationError("This referral is already linked to a patient.")
    if patient is not None and patient.clinic_id != clinic.pk:
        raise ValidationError("Choose a patient of this clinic.")
    referral.patient = patient or _patient_from_referral(referral, actor)
    referral.possible_duplicate = False
    referral.last_action_at = timezone.now()
    referral.save(update_fields=["patient", "possible_duplicate", "last_action_at"])
    _link_physician(referral)
    return referral


@transaction.atomic
def referral_set_status(
    *, clinic: Clinic, actor: User | None, referral: Referral, status: str, reason: str = ""
) -> Referral:
    referral = Referral.objects.select_for_update().get(pk=referral.pk, clinic=clinic)
    if status not in TRANSITIONS.get(referral.status, set()):
        raise ValidationError(
            f"A referral that is {referral.get_status_display().lower()} cannot become "
            f"{Referral.Status(status).label.lower() if status in Referral.Status.values else status}."
        )
    reason = reason.strip()
    if status == Referral.Status.DECLINED and not reason:
        raise ValidationError({"reason": "Give the reason for declining; the referring physician sees it."})
    _record_status(referral, actor, status, reason)
    referral.status, referral.status_reason, referral.last_action_at = status, reason, timezone.now()
    referral.save(update_fields=["status", "status_reason", "last_action_at"])
    if status == Referral.Status.DECLINED:
        _notify(referral, ReferralNotification.Event.DECLINED)
    return referral


@transaction.atomic
def referral_override_eligibility(*, clinic: Clinic, actor: User, referral: Referral, reason: str) -> Referral:
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the patient should be accepted despite the eligibility result."})
    referral.eligibility_override_reason = reason
    referral.eligibility_overridden_by = actor
    referral.eligibility_overridden_at = timezone.now()
    referral.last_action_at = timezone.now()
    referral.save(update_fields=["eligibility_override_reason", "eligibility_overridden_by",
                                 "eligibility_overridden_at", "last_action_at"])  # fmt: skip
    return referral


@transaction.atomic
def referral_accept(*, clinic: Clinic, actor: User | None, referral: Referral, start_date: datetime.date) -> Referral:
    """Accept the referral and open the patient's enrollment (episode of care) in the program."""
    referral = Referral.objects.select_for_update().select_related("program").get(pk=referral.pk, clinic=clinic)
    if referral.status not in ACCEPTABLE_FROM:
        raise ValidationError(f"A referral that is {referral.get_status_display().lower()} cannot be accepted.")
    if referral.patient_id is None:
        raise ValidationError("Link the referral to a patient record first (possible duplicate).")
    eligibility = eligibility_or_unknown(referral)
    if eligibility.status == "not_eligible" and not eligibility.overridden:
        raise ValidationError(
            "The patient is not eligible for this program. Override the result with a reason to accept."
        )
    if start_date is None:
        raise ValidationError({"start_date": "Choose the start date."})
    open_episode = Enrollment.objects.filter(
        clinic=clinic, patient_id=referral.patient_id, program=referral.program,
        status__in=[Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE],
    )  # fmt: skip
    if open_episode.exists():
        raise ValidationError(f"The patient is already enrolled in {referral.program.name}; decline this referral.")
    enrollment = Enrollment.objects.create(
        clinic=clinic, patient_id=referral.patient_id, program=referral.program, start_date=start_date,
        **precautions_from(referral),
    )  # fmt: skip
    _record_status(referral, actor, Referral.Status.ACCEPTED)
    referral.status, referral.enrollment, referral.last_action_at = Referral.Status.ACCEPTED, enrollment, timezone.now()
    referral.save(update_fields=["status", "enrollment", "last_action_at"])
    _link_physician(referral)
    _notify(referral, ReferralNotification.Event.ACCEPTED)
    return referral


DIABETES_CODE_PREFIXES = ("E08", "E09", "E10", "E11", "E13")  # ICD-10-CM diabetes mellitus categories


def precautions_from(referral: Referral) -> dict:
    """What the floor sheet needs to know from the referral, copied onto the enrollment at acceptance."""
    notes = "\n".join(
        text.strip()
        for text in (
            referral.contraindications, referral.weight_bearing_restrictions,
            referral.range_of_motion_restrictions, referral.precaution_notes,
        )
        if text and text.strip()
    )  # fmt: skip
    return {
        "beta_blocker": referral.beta_blocker,
        "supplemental_oxygen": referral.supplemental_oxygen,
        "hr_ceiling": referral.target_hr_ceiling,
        "has_diabetes": bool(referral.diabetes_diagnosis)
        or any(code.upper().startswith(DIABETES_CODE_PREFIXES) for code in referral.diagnosis_codes),
        "precaution_notes": notes,
    }


@transaction.atomic
def enrollment_discharge(
    *, clinic: Clinic, actor: User | None, enrollment: Enrollment, reason: str, ended_on: datetime.date | None = None
) -> Enrollment:
    if enrollment.clinic_id != clinic.pk:
        raise ValidationError("This enrollment belongs to another clinic.")
    if enrollment.status in (Enrollment.Status.COMPLETED, Enrollment.Status.DISCHARGED):
        raise ValidationError("This enrollment has already ended.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the discharge reason."})
    ended_on = ended_on or timezone.localdate()
    if ended_on < enrollment.start_date:
        raise ValidationError({"ended_on": "The discharge date is before the start date."})
    enrollment.status = Enrollment.Status.DISCHARGED
    enrollment.discharge_reason = reason.strip()
    enrollment.ended_on = ended_on
    enrollment.save(update_fields=["status", "discharge_reason", "ended_on"])
    # Scheduling frees the patient's future places now, in this transaction (clinic/events.py).
    events.enrollment_ended.send(sender=Enrollment, clinic=clinic, enrollment=enrollment)
    referral = Referral.objects.filter(clinic=clinic, enrollment=enrollment).first()
    if referral is not None:
        _notify(referral, ReferralNotification.Event.DISCHARGED)
    return enrollment


# --- Notifications to the referring physician ------------------------------------------------


NOTICE_TEXT = {
    ReferralNotification.Event.ACCEPTED: "A referral you sent to {clinic} was accepted.",
    ReferralNotification.Event.DECLINED: "A referral you sent to {clinic} was declined.",
    ReferralNotification.Event.DISCHARGED: "A patient you referred to {clinic} was discharged from the program.",
}


def _notify(referral: Referral, event: str) -> None:
    """Tell the referring physician, once per event. The email carries no patient data: only a prompt
    to sign in."""
    notification, created = ReferralNotification.objects.get_or_create(
        clinic_id=referral.clinic_id, referral=referral, event=event
    )
    provider = referral.referring_provider
    recipient = provider.membership.user.email if provider.membership_id else provider.email
    if created and recipient:
        text = NOTICE_TEXT[event].format(clinic=referral.clinic.name)
        outbox.message_queue(
            clinic=referral.clinic,
            kind=OutboundMessage.Kind.REFERRAL_NOTICE,
            key=f"referral-notice:{notification.pk}",
            to_email=recipient,
            subject=f"MedFit: {text}",
            body=f"{text} Sign in to view:\n{settings.SITE_URL.rstrip('/')}/portal/\n",
        )
