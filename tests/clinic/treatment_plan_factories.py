"""Treatment plans for tests: a draft, or a plan signed at a given moment (billing's tests use these too)."""

import datetime

from django.utils import timezone

from clinic.models import (
    ITP_SIGNATURE_MEANING,
    Enrollment,
    Membership,
    TreatmentPlan,
    TreatmentPlanService,
)
from tests.conftest import make_program

DRAFT = {"diagnosis": "NSTEMI, PCI to the LAD", "diagnosis_codes": ["I21.4"], "goals": "Walk 30 minutes daily"}
EXERCISE = {"kind": "exercise", "description": "Aerobic and resistance", "minutes_per_session": 60,
            "sessions_per_week": 3, "duration_weeks": 12}  # fmt: skip


def make_itp_enrollment(patient, program_type: str = "cr", **fields) -> Enrollment:
    program = make_program(patient.clinic, program_type, name=f"{program_type.upper()} {patient.mrn}")
    return Enrollment.objects.create(
        clinic=patient.clinic, patient=patient, program=program, start_date=timezone.localdate(), **fields
    )


def make_plan(enrollment: Enrollment, drafted_by: Membership, **fields) -> TreatmentPlan:
    """A plan saved directly (no service), with one exercise service."""
    version = fields.pop("version", None) or (TreatmentPlan.objects.filter(enrollment=enrollment).count() + 1)
    plan = TreatmentPlan.objects.create(
        clinic=enrollment.clinic, enrollment=enrollment, version=version, drafted_by=drafted_by,
        **{**DRAFT, **fields},
    )  # fmt: skip
    if not plan.is_signed:
        TreatmentPlanService.objects.create(clinic=plan.clinic, plan=plan, **EXERCISE)
    return plan


def make_signed_plan(
    enrollment: Enrollment, drafted_by: Membership, signer: Membership, signed_at: datetime.datetime
) -> TreatmentPlan:
    """A plan signed at `signed_at` (the lock trigger forbids signing an existing row's services later,
    so the services are written while it is a draft, then the signature)."""
    plan = make_plan(enrollment, drafted_by)
    TreatmentPlan.objects.filter(pk=plan.pk).update(
        signed_by=signer, signed_at=signed_at, signature_meaning=ITP_SIGNATURE_MEANING,
        signature_method=TreatmentPlan.SignatureMethod.PASSWORD,
        signer_name=signer.user.get_full_name() or signer.user.email, signer_credential="MD",
    )  # fmt: skip
    plan.refresh_from_db()
    return plan
