"""A DPP/MDPP session's delivery mode: the class's by default, set on the floor-sheet row, and the MDPP
attendance code it picks (billing/claims.py)."""

import pytest

from billing.claims import claim_lines_derive
from billing.models import ClaimLine
from tests.billing.factories import START, add_session, covered_enrollment, kg, staff


@pytest.mark.parametrize(("mode", "code"), [("in_person", "G9886"), ("distance", "G9887"), ("online", "G9871")])
def test_mdpp_attendance_code_follows_the_sessions_delivery_mode(clinic_a, mode, code):
    enrollment = covered_enrollment(clinic_a, "mdpp")
    add_session(enrollment, START, coach=staff(clinic_a), supervisor=None, weight_kg=kg(100), delivery_mode=mode)
    claim_lines_derive(clinic=clinic_a, enrollment_ids=[enrollment.pk])
    assert [(line.code, line.status) for line in ClaimLine.objects.filter(enrollment=enrollment)] == [(code, "ready")]
