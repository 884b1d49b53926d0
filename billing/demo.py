"""Demo billing (called by `manage.py seed_demo` after the floor sheet's seeder): payers, every patient's
coverage (one left without, to show coverage_missing), a fee schedule with demonstration amounts (not CMS
figures), staff NPIs, a few session records with documentation gaps, and the derived claim lines.

The gaps are written onto existing floor-sheet rows so that the claim lines page shows blocked lines of the
reasons a three-month demo can reach: coverage_missing, duration_short, time_missing, weight_missing,
coach_npi_missing (and itp_missing for plans not signed in time, once treatment plans are seeded).
"""

import datetime

from billing.claims import claim_lines_derive
from billing.models import Coverage, FeeScheduleEntry, Payer
from clinic.models import Membership, Patient, Program
from scheduling.models import Occurrence, SessionLog

PAYERS = [
    ("Medicare", Payer.Kind.MEDICARE),
    ("Humana Medicare Advantage", Payer.Kind.MEDICARE_ADVANTAGE),
    ("Aetna", Payer.Kind.COMMERCIAL),
    ("Self-pay", Payer.Kind.SELF_PAY),
]
# Demonstration amounts only: real ones come from the payer's yearly fee file.
FEES = {"93798": "117.50", "93797": "104.00", "94626": "58.00", "94625": "52.00", "G0422": "131.00",
        "G0423": "131.00", "G9886": "25.00", "G9887": "25.00", "G9871": "18.00", "G9880": "145.00",
        "G9881": "25.00", "G9888": "8.00"}  # fmt: skip
FEE_START = datetime.date(2024, 1, 1)


def demo_mbi(number: int) -> str:
    """A well-formed, made-up MBI (C A AN N A AN N A A N N)."""
    digits = f"{number:04d}"
    return f"{1 + number % 9}EG{digits[-1]}TE{digits[-2]}MK{digits[-3]}{digits[-4]}"


def seed(clinic) -> None:
    if Payer.objects.filter(clinic=clinic).exists():
        return
    payers = {
        name: Payer.objects.create(clinic=clinic, name=name, kind=kind) for name, kind in PAYERS
    }  # fmt: skip
    # The demo's Pritikin program is one of the three CMS-approved ICR programs (domain reference section 3.1).
    Program.objects.filter(clinic=clinic, program_type="icr", name__icontains="pritikin").update(cms_approved_icr=True)
    attended = SessionLog.objects.filter(clinic=clinic, attendance__in=SessionLog.ATTENDED)
    icr = attended.filter(enrollment__program__program_type="icr")
    uncovered = icr.order_by("-pk").values_list("patient_id", flat=True).first()  # shows coverage_missing
    patients = Patient.objects.filter(clinic=clinic).exclude(pk=uncovered).order_by("pk")
    for number, patient in enumerate(patients, start=1):
        payer = payers["Aetna"] if number % 7 == 0 else payers["Medicare"]
        member_id = demo_mbi(number) if payer.kind == Payer.Kind.MEDICARE else f"W{number:08d}"
        Coverage.objects.create(
            clinic=clinic, patient=patient, payer=payer, member_id=member_id, starts_on=datetime.date(2024, 1, 1)
        )
    FeeScheduleEntry.objects.bulk_create(
        FeeScheduleEntry(clinic=clinic, code=code, amount=amount, effective_from=FEE_START)
        for code, amount in FEES.items()
    )
    for number, member in enumerate(
        Membership.objects.filter(clinic=clinic, roles__overlap=["physiologist", "physician"])
    ):
        member.npi = f"12345678{number % 10}{(number * 3) % 10}"
        member.save(update_fields=["npi"])
    _documentation_gaps(clinic)
    claim_lines_derive(clinic=clinic)


def _documentation_gaps(clinic) -> None:
    """One session each with a short time, no times, no weight, and a coach without an NPI."""
    logs = SessionLog.objects.filter(clinic=clinic, attendance__in=SessionLog.ATTENDED).order_by("pk")
    rehab = list(logs.filter(enrollment__program__program_type__in=["cr", "pr"], started_at__isnull=False)[:2])
    if len(rehab) == 2:
        SessionLog.objects.filter(pk=rehab[0].pk).update(ended_at=rehab[0].started_at + datetime.timedelta(minutes=25))
        SessionLog.objects.filter(pk=rehab[1].pk).update(started_at=None, ended_at=None)
    mdpp = logs.filter(enrollment__program__program_type="mdpp").first()
    if mdpp:
        SessionLog.objects.filter(pk=mdpp.pk).update(weight_kg=None)
        no_npi = Membership.objects.filter(clinic=clinic, npi="").first()
        later = logs.filter(enrollment__program__program_type="mdpp").exclude(occurrence=mdpp.occurrence).first()
        if no_npi and later:
            Occurrence.objects.filter(pk=later.occurrence_id).update(coach=no_npi)
