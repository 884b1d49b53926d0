"""The demo's progress reports: one per demo patient in cardiac rehab, rendered by the worker like any other."""

import datetime

from django.utils import timezone

from clinic.models import Enrollment
from outcomes.reports import demo
from outcomes.reports.models import ReportRequest
from tests.conftest import make_member, make_patient, make_program


def test_demo_seeds_one_report_per_cr_patient(clinic_a, django_capture_on_commit_callbacks):
    make_member(clinic_a, "physiologist")
    cr, dpp = make_program(clinic_a, "cr"), make_program(clinic_a, "dpp")
    today = timezone.localdate()
    old = Enrollment.objects.create(clinic=clinic_a, patient=make_patient(clinic_a, "D-1"), program=cr,
                                    start_date=today - datetime.timedelta(days=45), status="active")  # fmt: skip
    new = Enrollment.objects.create(clinic=clinic_a, patient=make_patient(clinic_a, "D-2"), program=cr,
                                    start_date=today - datetime.timedelta(days=10), status="active")  # fmt: skip
    Enrollment.objects.create(clinic=clinic_a, patient=make_patient(clinic_a, "D-3"), program=dpp, start_date=today)

    with django_capture_on_commit_callbacks() as queued:
        demo.seed(clinic_a)

    reports = {report.enrollment_id: report for report in ReportRequest.objects.all()}
    assert set(reports) == {old.pk, new.pk} and len(queued) == 2
    assert reports[old.pk].kind == "scheduled" and reports[old.pk].period_start == old.start_date
    assert reports[new.pk].kind == "on_demand" and reports[new.pk].comment
    demo.seed(clinic_a)
    assert ReportRequest.objects.count() == 2
