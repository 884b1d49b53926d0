"""The demo's billing: coverage, fee schedules and blocked lines of the reasons a short demo can reach."""

from django.core.management import call_command

from billing.models import ClaimLine, Coverage, FeeScheduleEntry
from clinic.models import Clinic


def test_seed_demo_builds_coverage_fees_and_blocked_claim_lines(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    riverside = Clinic.objects.get(slug="riverside")
    assert Coverage.objects.filter(clinic=riverside).exists()
    assert FeeScheduleEntry.objects.filter(clinic=riverside, code="93798").count() == 1
    reasons = {b["code"] for line in ClaimLine.objects.filter(clinic=riverside) for b in line.blockers}
    assert {"coverage_missing", "duration_short", "time_missing"} <= reasons
    assert ClaimLine.objects.filter(clinic=riverside, status="ready").exists()
