"""`seed_demo`, the demo `make run` seeds: seeded once for the tests that read it (seeding takes seconds)."""

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clinic.models import Clinic, Membership, Patient, PatientPhysician
from referrals.models import Referral
from referrals.selectors import overdue_cutoff
from tests.conftest import rows_shared_by_the_module


@pytest.fixture(scope="module")
def demo_rows(django_db_setup, django_db_blocker):
    with rows_shared_by_the_module(django_db_blocker):
        with override_settings(DEBUG=True):
            call_command("seed_demo")
        yield


@pytest.fixture
def seeded_demo(demo_rows, db):
    """The demo, seeded once for the module's tests that read it (seeding takes seconds)."""


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
