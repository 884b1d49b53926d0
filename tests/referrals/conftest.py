"""Fixtures shared by the referral tests."""

import pytest

from referrals import services
from tests.conftest import make_program


@pytest.fixture
def program(clinic_a):
    """A program whose only eligibility rule is medical clearance."""
    return make_program(clinic_a, "post_rehab", name="Post-Rehab Medical Fitness")


@pytest.fixture
def doctor(team_a):
    """Clinic A's physician member, as a referring provider."""
    return services.provider_for_physician(membership=team_a["physician"].membership)
