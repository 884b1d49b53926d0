"""Fixtures shared by the tests of clinic."""

import pytest

from tests.conftest import make_clinic, make_member


@pytest.fixture
def person_in_three_clinics(team_a, clinic_b):
    """A person active in clinics A and B, no longer in C: (user, {"active": [A, B], "gone": C})."""
    user = team_a["admin"].user
    make_member(clinic_b, "physiologist", email=user.email)
    gone = make_member(make_clinic("charlie"), "billing", email=user.email)
    gone.is_active = False
    gone.save()
    return user, {"active": [team_a["admin"].membership.clinic_id, clinic_b.pk], "gone": gone.clinic_id}
