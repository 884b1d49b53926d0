"""Demo progress reports (run by `manage.py seed_demo` through settings.DEMO_SEEDERS): one report per demo
patient in cardiac rehab. Only the rows are seeded; the reports worker of `make run` renders them (asked
after commit, and the sweeper finds any it missed), exactly as for a real request."""

import datetime

from django.db import transaction
from django.utils import timezone

from clinic.models import Enrollment, Membership, ProgramType
from outcomes.reports import services
from outcomes.reports.models import ReportRequest

COMMENT = (
    "Attending regularly and tolerating the prescribed intensity without symptoms. "
    "Plan: progress aerobic work by 5 minutes a session and repeat the 6-minute walk at the next assessment."
)


def seed(clinic) -> None:
    if ReportRequest.objects.filter(clinic=clinic).exists():
        return
    physiologist = (
        Membership.objects.filter(clinic=clinic, is_active=True, roles__contains=["physiologist"])
        .order_by("pk")
        .first()
    )
    today = timezone.localdate()
    enrollments = Enrollment.objects.filter(
        clinic=clinic, program__program_type=ProgramType.CR, status__in=services.ACTIVE_STATUSES
    ).order_by("pk")
    with transaction.atomic():
        for enrollment in enrollments:
            period = services.next_period(enrollment, None, today)
            if period is not None:  # 30 days in: the automatic report, as the beat job would have made it
                kind, requested_by, comment = ReportRequest.Kind.SCHEDULED, None, ""
            elif physiologist is not None:  # newer: one asked for from the chart, with a comment
                period = (max(enrollment.start_date, today - datetime.timedelta(days=29)), today)
                kind, requested_by, comment = ReportRequest.Kind.ON_DEMAND, physiologist, COMMENT
            else:
                continue
            report = ReportRequest.objects.create(
                clinic=clinic, patient_id=enrollment.patient_id, enrollment=enrollment, period_start=period[0],
                period_end=period[1], kind=kind, requested_by=requested_by, comment=comment,
            )  # fmt: skip
            transaction.on_commit(lambda report=report: services.request_render(report))
