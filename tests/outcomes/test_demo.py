"""Demo assessments: a baseline per open enrollment, interims for those past 30 days, mostly improving."""

from django.core.management import call_command

from clinic.models import Clinic, ClinicalAlert, Observation
from outcomes.models import Assessment


def test_seed_demo_records_baselines_and_interims_that_mostly_improve(db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
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
