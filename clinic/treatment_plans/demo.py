"""Demo treatment plans (called by `manage.py seed_demo` after the enrollments and prescriptions).

Each open CR/ICR/PR enrollment gets plans in one of four states, in turn: overdue (signed 35 days
ago, its review drafted and awaiting the physician), covered (a review signed 10 days ago after a
first version signed 40 days ago), due soon (signed 26 days ago) and new (a first draft awaiting
signature). The drafts go through the services; the past signatures are dated in the past directly,
as a signature of that day would have been.
"""

import datetime

from django.utils import timezone

from clinic.models import (
    ITP_PROGRAM_TYPES,
    ITP_SIGNATURE_MEANING,
    Enrollment,
    Membership,
    PatientPhysician,
    TreatmentPlan,
)
from clinic.treatment_plans import services

GOALS = {
    "cr": "Walk 30 minutes on most days without angina; resting BP below 130/80; return to work; "
    "quit smoking (counselling offered); PHQ-9 below 10.",
    "icr": "Exercise 60 minutes with the group daily; plant-based diet; stress management practice daily.",
    "pr": "6-minute walk distance up by 30 m or more; less breathlessness (mMRC down one grade); "
    "pursed-lip breathing during activity; use oxygen as prescribed.",
}
DIAGNOSES = {
    "cr": ("Acute NSTEMI treated with PCI and a drug-eluting stent to the LAD.", ["I21.4", "I25.10"]),
    "icr": ("Stable angina pectoris with coronary artery disease.", ["I20.8", "I25.10"]),
    "pr": ("COPD, GOLD 3, with chronic exertional dyspnea.", ["J44.9"]),
}
SERVICES = {
    "cr": [
        {"kind": "exercise", "description": "Monitored aerobic and resistance training", "minutes_per_session": 60,
         "sessions_per_week": 3, "duration_weeks": 12},
        {"kind": "education", "description": "Risk factors, medications, heart-healthy eating",
         "minutes_per_session": 30, "sessions_per_week": 1, "duration_weeks": 12},
        {"kind": "psychosocial", "description": "Depression screening and stress management",
         "minutes_per_session": 30, "sessions_per_week": 1, "duration_weeks": 4},
    ],
    "icr": [
        {"kind": "exercise", "description": "Supervised exercise", "minutes_per_session": 60,
         "sessions_per_week": 4, "duration_weeks": 18},
        {"kind": "nutrition", "description": "Plant-based nutrition", "minutes_per_session": 60,
         "sessions_per_week": 2, "duration_weeks": 18},
    ],
    "pr": [
        {"kind": "exercise", "description": "Aerobic and strength training with oximetry", "minutes_per_session": 60,
         "sessions_per_week": 2, "duration_weeks": 18},
        {"kind": "breathing", "description": "Breathing retraining and airway clearance", "minutes_per_session": 15,
         "sessions_per_week": 2, "duration_weeks": 18},
        {"kind": "education", "description": "Inhaler technique, action plan", "minutes_per_session": 30,
         "sessions_per_week": 1, "duration_weeks": 6},
    ],
}  # fmt: skip


def seed(clinic) -> None:
    if TreatmentPlan.objects.filter(clinic=clinic).exists():
        return
    physiologist = _member(clinic, "physiologist")
    physician = _member(clinic, "physician")
    if physiologist is None or physician is None:
        return
    enrollments = (
        Enrollment.objects.filter(
            clinic=clinic,
            status__in=(Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE),
            program__program_type__in=ITP_PROGRAM_TYPES,
        )
        .select_related("program", "patient")
        .order_by("pk")
    )
    today = timezone.localdate()
    for index, enrollment in enumerate(enrollments):
        signer = _signer(clinic, enrollment, physician)
        state = index % 4
        if state == 0:  # overdue, its review drafted and awaiting the physician
            _signed(enrollment, physiologist, signer, today - datetime.timedelta(days=35))
            _review(enrollment, physiologist)
        elif state == 1:  # covered: a first version and its review
            _signed(enrollment, physiologist, signer, today - datetime.timedelta(days=40))
            _review(enrollment, physiologist)
            _sign_at(enrollment, signer, today - datetime.timedelta(days=10))
        elif state == 2:  # due soon
            _signed(enrollment, physiologist, signer, today - datetime.timedelta(days=26))
        else:  # new: a first draft awaiting signature
            _draft(enrollment, physiologist)


def _member(clinic, role: str) -> Membership | None:
    members = Membership.objects.filter(clinic=clinic, is_active=True, roles__contains=[role]).select_related("user")
    return members.filter(user__email=f"{role}@{clinic.slug}.example").first() or members.order_by("pk").first()


def _signer(clinic, enrollment, fallback: Membership) -> Membership:
    """The patient's referring physician when a member, else the demo physician (linked to the patient)."""
    link = (
        PatientPhysician.objects.filter(clinic=clinic, patient=enrollment.patient)
        .select_related("physician__user")
        .order_by("pk")
        .first()
    )
    if link is not None:
        return link.physician
    PatientPhysician.objects.get_or_create(
        clinic=clinic, patient=enrollment.patient, physician=fallback,
        relationship=PatientPhysician.Relationship.PLAN_SIGNER,
    )  # fmt: skip
    return fallback


def _kind(enrollment) -> str:
    return enrollment.program.program_type


def _draft(enrollment, physiologist) -> TreatmentPlan:
    diagnosis, codes = DIAGNOSES[_kind(enrollment)]
    return services.itp_draft(
        clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment,
        data={"diagnosis": diagnosis, "diagnosis_codes": codes, "goals": GOALS[_kind(enrollment)]},
        services=SERVICES[_kind(enrollment)],
    )  # fmt: skip


def _review(enrollment, physiologist) -> TreatmentPlan:
    return services.itp_start_review(clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment)


def _signed(enrollment, physiologist, signer, day: datetime.date) -> None:
    _draft(enrollment, physiologist)
    _sign_at(enrollment, signer, day)


def _sign_at(enrollment, signer: Membership, day: datetime.date) -> None:
    """Sign the open draft as if on `day` at 4 pm (clinic time), drafted two days before."""
    signed_at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(16)))
    credential = getattr(getattr(signer, "referring_provider", None), "credentials", "") or "MD"
    TreatmentPlan.objects.filter(clinic=enrollment.clinic, enrollment=enrollment, signed_at__isnull=True).update(
        created_at=signed_at - datetime.timedelta(days=2), updated_at=signed_at - datetime.timedelta(days=2),
        signed_by=signer, signed_at=signed_at, signature_meaning=ITP_SIGNATURE_MEANING,
        signature_method=TreatmentPlan.SignatureMethod.PASSWORD,
        signer_name=signer.user.get_full_name() or signer.user.email, signer_credential=credential,
    )  # fmt: skip
