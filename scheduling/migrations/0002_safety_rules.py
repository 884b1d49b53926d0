"""The floor sheet's safety rules, with their sources (../shared/reference/domain.md sections 5.3, 5.4).

A rule that changes gets a new row with a later `effective_from`; the old row keeps explaining the
flags it raised. Thresholds the reference marks [M] or [L] are the commonly used values: a clinic
that uses another (SBP ≥ 180, HR > 100) changes the data, not the code.
"""

import datetime

from django.db import migrations

START = datetime.date(2000, 1, 1)
ACSM_PRE = "ACSM GETP / AACVPR relative contraindications to exercise training (domain.md 5.4) [M]"
ADA = "ADA / ACSM exercise and type 2 diabetes, Diabetes Care tables (domain.md 5.4) [H]"
ACC_AHA = "ACC/AHA exercise-testing guideline indications to stop (domain.md 5.3) [H]"

RULES = [
    # code, field, comparator, threshold, applies_to, severity, message, source
    ("resting_sbp_high", "pre_sbp", "gt", 200, "everyone", "hold", "Resting systolic BP above 200 mmHg", ACSM_PRE),
    ("resting_dbp_high", "pre_dbp", "gt", 110, "everyone", "hold", "Resting diastolic BP above 110 mmHg", ACSM_PRE),
    ("resting_hr_high", "pre_hr", "gt", 120, "everyone", "hold", "Resting heart rate above 120 bpm", ACSM_PRE),
    ("glucose_low", "pre_glucose", "lt", 70, "diabetes", "hold",
     "Glucose below 70 mg/dL: treat hypoglycaemia, do not start", ADA),
    ("glucose_high", "pre_glucose", "gte", 250, "diabetes", "warn",
     "Glucose 250 mg/dL or more: test ketones; mild to moderate intensity only", ADA),
    ("resting_spo2_low", "pre_spo2", "lt", 88, "everyone", "hold",
     "Resting SpO2 below 88 %: hold, titrate oxygen or contact the provider",
     "PR practice, desaturation below 88 % (domain.md 5.3, 5.4) [L/M]"),
    ("exercise_spo2_low", "post_spo2", "lt", 88, "everyone", "warn",
     "SpO2 below 88 % after exercise: pause or titrate oxygen", "PR practice (domain.md 5.3) [M]"),
    ("exercise_sbp_high", "peak_sbp", "gt", 250, "everyone", "hold",
     "Systolic BP above 250 mmHg during exercise: stop", ACC_AHA),
    ("exercise_dbp_high", "peak_dbp", "gt", 115, "everyone", "hold",
     "Diastolic BP above 115 mmHg during exercise: stop", ACC_AHA),
    ("sbp_drop_with_load", "sbp_drop_with_load", "gt", 10, "everyone", "hold",
     "Systolic BP fell more than 10 mmHg from resting despite the workload: stop and evaluate", ACC_AHA),
    ("hr_over_ceiling", "hr_over_ceiling", "gt", 0, "everyone", "warn",
     "Peak heart rate above the prescribed ceiling", "Exercise prescription / referral HR ceiling (domain.md 5.1)"),
]


def load(apps, schema_editor):
    SafetyRule = apps.get_model("scheduling", "SafetyRule")
    for code, field, comparator, threshold, applies_to, severity, message, source in RULES:
        SafetyRule.objects.update_or_create(
            code=code,
            effective_from=START,
            defaults={
                "field": field, "comparator": comparator, "threshold": threshold, "applies_to": applies_to,
                "severity": severity, "message": message, "source": source,
            },
        )  # fmt: skip


def unload(apps, schema_editor):
    apps.get_model("scheduling", "SafetyRule").objects.filter(effective_from=START).delete()


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
