"""Demo programs, referring providers and referrals in every status (called by `manage.py seed_demo`)."""

import datetime
import random

from django.utils import timezone

from clinic.models import Membership, Patient, Program, ProgramType
from referrals import services
from referrals.models import Referral, ReferralStatusChange, ReferringProvider

PROGRAMS = {
    "riverside": [
        (
            "Phase II Cardiac Rehab",
            ProgramType.CR,
            12,
            36,
            3,
            "Monitored exercise and education after a cardiac event.",
        ),
        (
            "Intensive Cardiac Rehab (Pritikin)",
            ProgramType.ICR,
            18,
            72,
            4,
            "Pritikin ICR: exercise, nutrition, mindset.",
        ),
        ("Pulmonary Rehab", ProgramType.PR, 12, 36, 3, "Exercise and breathing retraining for COPD and post-COVID."),
        (
            "Post-Rehab Medical Fitness",
            ProgramType.POST_REHAB,
            12,
            24,
            2,
            "Supervised exercise after cardiac or pulmonary rehab.",
        ),
        (
            "Cancer Exercise Recovery",
            ProgramType.CANCER_RECOVERY,
            12,
            24,
            2,
            "Strength and endurance during and after treatment.",
        ),
    ],
    "northside": [
        ("CDC National DPP", ProgramType.DPP, 52, 22, 1, "Year-long lifestyle change program (CDC-recognized)."),
        ("Medicare DPP", ProgramType.MDPP, 52, 22, 1, "The Medicare Diabetes Prevention Program."),
        (
            "Steady Steps Falls Prevention",
            ProgramType.FALLS_PREVENTION,
            10,
            20,
            2,
            "Balance and strength for older adults.",
        ),
        (
            "Medical Weight Management",
            ProgramType.WEIGHT_MANAGEMENT,
            16,
            32,
            2,
            "Exercise and nutrition with physician oversight.",
        ),
        ("Chronic Disease Exercise", ProgramType.CHRONIC_DISEASE, 12, 24, 2, "For diabetes, arthritis, hypertension."),
    ],
}

CONTACTS = [
    ("Helen", "Park", "MD", "1245319599", "Cardiology", "Riverside Cardiology Associates"),
    ("Marcus", "Reyes", "DO", "1679576722", "Pulmonology", "Lakeshore Lung Center"),
    ("Amy", "Chen", "NP", "1003000126", "Family medicine", "Northside Family Practice"),
]

# The demo physician's NPI (a valid check digit, not a real provider).
DEMO_NPI = {"riverside": "1922334457", "northside": "1811223340"}


def seed(clinic) -> None:
    if Referral.objects.filter(clinic=clinic).exists():
        return
    programs = _seed_programs(clinic)
    providers = _seed_providers(clinic)
    _seed_referrals(clinic, programs, providers)


def _seed_programs(clinic) -> list[Program]:
    programs = []
    for name, program_type, weeks, sessions, per_week, description in PROGRAMS.get(clinic.slug, []):
        program, _ = Program.objects.get_or_create(
            clinic=clinic,
            name=name,
            defaults={
                "program_type": program_type,
                "default_length_weeks": weeks,
                "default_session_count": sessions,
                "sessions_per_week": per_week,
                "description": description,
                "headline_measure": services.headline_default(program_type),
            },
        )
        programs.append(program)
    return programs


def _seed_providers(clinic) -> list[ReferringProvider]:
    providers = []
    physician = Membership.objects.filter(clinic=clinic, user__email=f"physician@{clinic.slug}.example").first()
    if physician is not None:
        own = services.provider_for_physician(membership=physician)
        services.provider_save(
            clinic=clinic,
            actor=None,
            provider=own,
            data={
                "credentials": "MD",
                "npi": DEMO_NPI.get(clinic.slug, ""),
                "specialty": "Cardiology" if clinic.slug == "riverside" else "Internal medicine",
                "practice_name": f"{clinic.name} Medical Group",
                "phone": "(555) 201-4410",
                "fax": "(555) 201-4411",
            },
        )
        providers.append(own)
    for first, last, credentials, npi, specialty, practice in CONTACTS:
        provider, _ = ReferringProvider.objects.get_or_create(
            clinic=clinic,
            npi=npi,
            defaults={
                "first_name": first,
                "last_name": last,
                "credentials": credentials,
                "specialty": specialty,
                "practice_name": practice,
                "phone": "(555) 400-1200",
                "fax": "(555) 400-1201",
            },
        )
        providers.append(provider)
    return providers


def _clinical_facts(program: Program, rng: random.Random, today: datetime.date) -> dict:
    if program.program_type in (ProgramType.CR, ProgramType.ICR):
        condition = rng.choice(["mi", "cabg", "pci", "valve", "stable_angina", "heart_failure"])
        facts = {
            "qualifying_condition": condition,
            "qualifying_event_date": today - datetime.timedelta(rng.randint(10, 90)),
            "diagnosis_codes": ["I21.4"] if condition == "mi" else ["I25.10"],
        }
        if condition == "heart_failure":
            facts.update(
                lvef_percent=rng.choice([25, 30, 35, 40]),
                nyha_class=rng.choice([2, 3]),
                hf_optimal_therapy_weeks=8,
                hf_recent_cv_event=False,
                hf_planned_cv_procedure=False,
                diagnosis_codes=["I50.22"],
            )
        return facts
    if program.program_type == ProgramType.PR:
        return {
            "qualifying_condition": "copd",
            "gold_stage": rng.choice([1, 2, 3]),
            "fev1_fvc_ratio": "0.62",
            "fev1_percent_predicted": rng.choice([45, 60, 75]),
            "diagnosis_codes": ["J44.9"],
            "supplemental_oxygen": rng.random() < 0.3,
        }
    if program.program_type in (ProgramType.DPP, ProgramType.MDPP):
        return {
            "qualifying_condition": "prediabetes",
            "bmi": str(rng.choice([24.2, 27.5, 31.0, 35.4])),
            "a1c_percent": str(rng.choice([5.5, 5.8, 6.1, 6.6])),
            "lab_test_date": today - datetime.timedelta(rng.randint(10, 300)),
            "diabetes_diagnosis": False,
            "esrd": False,
            "prior_mdpp": False,
            "pregnant": False,
            "medicare_part_b": program.program_type == ProgramType.MDPP,
            "diagnosis_codes": ["R73.03"],
        }
    return {"diagnosis_codes": ["Z87.891"]}


def _seed_referrals(clinic, programs, providers) -> None:
    rng = random.Random(f"referrals-{clinic.slug}")
    today = timezone.localdate()
    patients = list(Patient.objects.filter(clinic=clinic, status=Patient.Status.ACTIVE).order_by("mrn")[:24])
    plan = (
        ["received"] * 5
        + ["in_review"] * 4
        + ["accepted"] * 8
        + ["declined"] * 2
        + ["unable_to_contact"] * 2
        + ["discharged"] * 3
    )
    for patient, outcome in zip(patients, plan, strict=False):
        program = rng.choice(programs)
        received_at = timezone.now() - datetime.timedelta(days=_age_in_days(outcome, rng), hours=rng.randint(0, 8))
        data = {
            "referring_provider": rng.choice(providers),
            "program": program,
            "urgency": "urgent" if rng.random() < 0.2 else "routine",
            "referral_date": timezone.localdate(received_at) - datetime.timedelta(days=rng.randint(0, 3)),
            "reason": f"Please evaluate for {program.name.lower()}.",
            "patient_mrn": patient.mrn,
            "patient_first_name": patient.first_name,
            "patient_last_name": patient.last_name,
            "patient_date_of_birth": patient.date_of_birth,
            "patient_sex": patient.sex,
            "patient_phone": patient.phone,
            "cleared_for_exercise": True,
            "clearance_date": today - datetime.timedelta(days=rng.randint(1, 20)),
            "beta_blocker": rng.random() < 0.4,
            "target_hr_ceiling": rng.choice([None, 120, 130]),
            **_clinical_facts(program, rng, today),
        }
        referral = services.referral_create(
            clinic=clinic, actor=None, data=data, source=rng.choice(["staff", "portal"])
        )
        _advance(clinic, referral, outcome, today)
        _spread_history(referral, received_at, rng)


def _age_in_days(outcome: str, rng: random.Random) -> int:
    """How long ago the demo referral arrived: open ones from today to two weeks (so some are overdue),
    finished ones over the last six weeks."""
    if outcome in ("received", "in_review"):
        return rng.choice([0, 1, 2, 4, 7, 12])
    return rng.randint(10, 42)


def _spread_history(referral: Referral, received_at: datetime.datetime, rng: random.Random) -> None:
    """Demo only: the services stamp every step `now`; move the referral's arrival and each later step back
    in time, a few hours to days apart and never in the future, so the queue's ages and the overdue marker
    show something real."""
    now = timezone.now()
    moment = received_at
    for change in referral.status_changes.order_by("changed_at", "pk"):
        ReferralStatusChange.objects.filter(pk=change.pk).update(changed_at=moment)
        last = moment
        moment = min(now, moment + datetime.timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 20)))
    Referral.objects.filter(pk=referral.pk).update(created_at=received_at, last_action_at=last)


def _advance(clinic, referral: Referral, outcome: str, today: datetime.date) -> None:
    if outcome == "received":
        return
    if outcome in ("in_review", "unable_to_contact", "declined"):
        services.referral_set_status(clinic=clinic, actor=None, referral=referral, status="in_review")
    if outcome in ("unable_to_contact", "declined"):
        reason = "Patient prefers a program closer to home." if outcome == "declined" else "Three calls, no answer."
        services.referral_set_status(clinic=clinic, actor=None, referral=referral, status=outcome, reason=reason)
    if outcome in ("accepted", "discharged"):
        referral.eligibility_override_reason = "Demo data: accepted by the medical director."
        referral.save(update_fields=["eligibility_override_reason"])
        services.referral_accept(clinic=clinic, actor=None, referral=referral, start_date=today)
        if outcome == "discharged":
            referral.refresh_from_db()
            services.enrollment_discharge(
                clinic=clinic, actor=None, enrollment=referral.enrollment, reason="Completed 36 sessions; goals met."
            )
