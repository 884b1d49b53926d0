"""`seed_demo`, the demo `make run` seeds: seeded once for all the tests that read it, each area's (seeding
takes tens of seconds), and seeded twice, so that every area's rows are checked after a second run too."""

import datetime
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from billing.models import ClaimLine, Coverage, FeeScheduleEntry
from clinic.models import (
    Clinic,
    ClinicalAlert,
    Enrollment,
    ExercisePrescription,
    Membership,
    Observation,
    OutboundMessage,
    Patient,
    PatientPhysician,
    TreatmentPlan,
)
from clinic.treatment_plans import selectors as plan_selectors
from outcomes.models import Assessment
from outcomes.reports.models import ReportRequest
from referrals.models import Referral
from referrals.selectors import overdue_cutoff
from scheduling.models import Authorization, Booking, ClassTemplate, Occurrence, StandingBooking
from tests.conftest import rows_shared_by_the_module


@pytest.fixture(scope="module")
def demo_rows(django_db_setup, django_db_blocker):
    with rows_shared_by_the_module(django_db_blocker):
        with override_settings(DEBUG=True):
            call_command("seed_demo")
            call_command("seed_demo")  # idempotent: each area's tests below count its rows
        yield


@pytest.fixture
def seeded_demo(demo_rows, db):
    """The demo, seeded once for the module's tests that read it."""


def test_seed_demo_creates_two_clinics_with_four_roles_and_patients(seeded_demo):
    assert set(Clinic.objects.values_list("slug", flat=True)) == {"riverside", "northside"}
    assert Membership.objects.filter(clinic__slug="riverside").count() == 4
    assert Patient.objects.filter(clinic__slug="northside").count() == 60


def test_seed_demo_is_idempotent(seeded_demo, settings):
    settings.DEBUG = True
    call_command("seed_demo")  # the second time
    assert Patient.objects.count() == 120


def test_seed_demo_spreads_referrals_over_recent_weeks_so_some_are_overdue(seeded_demo):
    referrals = Referral.objects.filter(clinic__slug="riverside")
    open_referrals = referrals.filter(status__in=Referral.OPEN_STATUSES)
    cutoff = overdue_cutoff()
    assert open_referrals.filter(last_action_at__lt=cutoff).exists()
    assert open_referrals.filter(last_action_at__gte=cutoff).exists()
    oldest, newest = min(r.created_at for r in referrals), max(r.created_at for r in referrals)
    assert newest - oldest > datetime.timedelta(weeks=3)
    for referral in referrals:
        steps = list(referral.status_changes.order_by("pk").values_list("changed_at", flat=True))
        assert steps == sorted(steps) and steps[0] == referral.created_at and steps[-1] == referral.last_action_at
        assert steps[-1] <= timezone.now()


def test_seed_demo_links_the_physician_as_referrer_only_to_patients_their_referrals_name(seeded_demo):
    # Plan-signer links (the demo's treatment plans) need no referral of theirs: a physician signs the plan
    # of a patient a colleague referred.
    links = PatientPhysician.objects.filter(
        physician__user__email="physician@riverside.example", relationship=PatientPhysician.Relationship.REFERRING
    )
    assert links.exists()
    for link in links:
        assert Referral.objects.filter(patient=link.patient, referring_provider__membership=link.physician).exists()


def test_seed_demo_physicians_home_card_counts_what_my_patients_lists(seeded_demo, settings, client):
    settings.DEBUG = True
    client.force_login(Membership.objects.get(user__email="physician@riverside.example").user)
    home = client.get(reverse("clinic_home", args=["riverside"])).content.decode()
    listed = client.get(reverse("my_patients", args=["riverside"])).context["page"].paginator.count
    assert f'<span class="stat-number">{listed}</span>' in home and listed > 0


def test_seed_demo_refuses_to_run_in_production(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")


def test_demo_physicians_home_card_equals_my_patients_and_portal(seeded_demo, settings):
    """Each physician's home card counts exactly what My patients lists (issue 9 found the card saying 21
    and the list showing 6): both come from referrals.selectors.physician_referrals."""
    settings.DEBUG = True
    physicians = Membership.objects.filter(roles__contains=["physician"]).select_related("clinic", "user")
    assert physicians.count() == 2
    for membership in physicians:
        client = Client()
        client.force_login(membership.user)
        home = client.get(reverse("clinic_home", args=[membership.clinic.slug])).content.decode()
        card = int(re.search(r'<span class="stat-number">(\d+)</span>\s*<span>patients? you referred', home).group(1))
        listed = client.get(reverse("my_patients", args=[membership.clinic.slug])).context["page"]
        portal = client.get(reverse("portal_home")).context["page"]
        assert card == listed.paginator.count == portal.paginator.count == len(listed.object_list) > 0


# --- Schedules: classes per program, three months of booked sessions, upcoming bookings ----------------


def test_seed_demo_builds_schedules_with_past_and_upcoming_bookings(seeded_demo):
    riverside = Clinic.objects.get(slug="riverside")
    now = timezone.now()
    assert ClassTemplate.objects.filter(clinic=riverside, name__startswith="Cardiac rehab 9:00").count() == 3
    assert StandingBooking.objects.filter(clinic=riverside).exists()
    booked = Booking.objects.filter(clinic=riverside, status=Booking.Status.BOOKED)
    assert booked.filter(occurrence__starts_at__lt=now).count() > 20
    assert booked.filter(occurrence__starts_at__gt=now).exists()
    assert Occurrence.objects.filter(clinic=riverside, status=Occurrence.Status.CANCELLED).count() == 1
    assert OutboundMessage.objects.filter(clinic=riverside, kind=OutboundMessage.Kind.CLASS_CANCELLED).exists()
    assert Authorization.objects.filter(clinic=riverside).exists()
    assert Booking.objects.filter(clinic=riverside, status__in=["cancelled", "late_cancelled"]).count() == 3


# --- Billing: coverage, fee schedules and blocked lines of the reasons a short demo can reach ----------


def test_seed_demo_builds_coverage_fees_and_blocked_claim_lines(seeded_demo):
    riverside = Clinic.objects.get(slug="riverside")
    assert Coverage.objects.filter(clinic=riverside).exists()
    assert FeeScheduleEntry.objects.filter(clinic=riverside, code="93798").count() == 1
    reasons = {b["code"] for line in ClaimLine.objects.filter(clinic=riverside) for b in line.blockers}
    assert {"coverage_missing", "duration_short", "time_missing"} <= reasons
    assert ClaimLine.objects.filter(clinic=riverside, status="ready").exists()


# --- Treatment plans: signed, due, overdue and awaiting signature, for the rehab enrollments -----------


def test_seed_demo_builds_signed_overdue_and_draft_plans(seeded_demo):
    riverside = Clinic.objects.get(slug="riverside")
    plans = TreatmentPlan.objects.filter(clinic=riverside)
    assert plans.filter(signed_at__isnull=False).exists()
    assert plans.filter(signed_at__isnull=True).exists()
    staff = Membership.objects.get(clinic=riverside, user__email="physiologist@riverside.example")
    assert any(row.status.startswith("Overdue") for row in plan_selectors.plans_due(membership=staff))
    today = plan_selectors.clinic_today(riverside)
    assert any(plan.covers(today) for plan in plans.filter(signed_at__isnull=False))
    physician = Membership.objects.get(clinic=riverside, user__email="physician@riverside.example")
    assert plan_selectors.plans_awaiting_signature(membership=physician).exists()


def test_seed_demo_gives_open_enrollments_a_current_prescription_and_some_an_older_version(seeded_demo):
    open_enrollments = Enrollment.objects.filter(status__in=[Enrollment.Status.ENROLLED, Enrollment.Status.ACTIVE])
    assert open_enrollments.exists()
    for enrollment in open_enrollments:
        assert enrollment.prescriptions.filter(superseded_at__isnull=True).count() == 1
    assert ExercisePrescription.objects.filter(superseded_at__isnull=False).exists()


# --- Outcomes: a baseline per open enrollment, interims for those past 30 days, mostly improving; reports --


def test_seed_demo_records_baselines_and_interims_that_mostly_improve(seeded_demo):
    riverside = Clinic.objects.get(slug="riverside")
    assessments = Assessment.objects.filter(clinic=riverside)
    assert assessments.filter(timepoint="baseline").count() >= 5
    interims = assessments.filter(timepoint="interim")
    assert interims.exists()
    compared = better = 0
    for interim in interims:
        baseline = assessments.get(enrollment=interim.enrollment, timepoint="baseline", battery=interim.battery)
        values = {
            (o.source_id, o.measure.code): o.value
            for o in Observation.objects.filter(
                source="assessment", source_id__in=[baseline.pk, interim.pk]
            ).select_related("measure")
        }
        # The headline measure: 6MWD (higher is better), else weight (lower is better).
        for code, sign in (("64098-7", 1), ("29463-7", -1)):
            if (baseline.pk, code) in values and (interim.pk, code) in values:
                compared += 1
                better += sign * (values[(interim.pk, code)] - values[(baseline.pk, code)]) > 0
                break
    assert compared and better / compared >= 0.6
    assert ClinicalAlert.objects.filter(clinic=riverside, acknowledged_at__isnull=True).count() == 1


def test_seed_demo_gives_every_cr_patient_one_report(seeded_demo):
    enrollments = Enrollment.objects.filter(clinic__slug="riverside", program__program_type="cr",
                                            status__in=["enrolled", "active"])  # fmt: skip
    assert enrollments.exists()
    for enrollment in enrollments:
        assert ReportRequest.objects.filter(enrollment=enrollment).count() == 1
