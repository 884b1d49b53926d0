"""The demo treatment plans: signed, due, overdue and awaiting signature, for the rehab enrollments."""

from django.core.management import call_command

from clinic.models import Clinic, Membership, TreatmentPlan
from clinic.treatment_plans import selectors


def test_seed_demo_builds_signed_overdue_and_draft_plans(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    riverside = Clinic.objects.get(slug="riverside")
    plans = TreatmentPlan.objects.filter(clinic=riverside)
    assert plans.filter(signed_at__isnull=False).exists()
    assert plans.filter(signed_at__isnull=True).exists()
    staff = Membership.objects.get(clinic=riverside, user__email="physiologist@riverside.example")
    assert any(row.status.startswith("Overdue") for row in selectors.plans_due(membership=staff))
    today = selectors.clinic_today(riverside)
    assert any(plan.covers(today) for plan in plans.filter(signed_at__isnull=False))
    physician = Membership.objects.get(clinic=riverside, user__email="physician@riverside.example")
    assert selectors.plans_awaiting_signature(membership=physician).exists()
