"""A floor-sheet save, new row or edit, re-derives its enrollment's claim lines through the worker."""

import datetime

from billing.models import ClaimLine
from scheduling import floorsheet
from tests.billing.factories import START, add_session, covered_enrollment, staff
from tests.stack import wait_for


def blockers_of(enrollment) -> list[str]:
    line = ClaimLine.objects.filter(enrollment=enrollment).first()
    return None if line is None else [blocker["code"] for blocker in line.blockers]


def test_editing_a_floor_sheet_row_re_derives_its_claim_line(celery_worker, clinic_a):
    enrollment = covered_enrollment(clinic_a)
    log = add_session(enrollment, START + datetime.timedelta(days=1), minutes=20)
    assert wait_for(lambda: blockers_of(enrollment) == ["duration_short"], 30)
    floorsheet.session_log_save(
        clinic=clinic_a, actor=staff(clinic_a), booking=log.booking, version=log.version,
        data={"attendance": "present", "ecg_monitored": True, "started_at": log.started_at,
              "ended_at": log.started_at + datetime.timedelta(minutes=45)},
    )  # fmt: skip
    assert wait_for(lambda: blockers_of(enrollment) == [], 30)
