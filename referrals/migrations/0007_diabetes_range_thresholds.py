"""The blood-test values at which a result is in the diabetes range (ADA): a CDC DPP referral with
such a result is not eligible, and a Medicare DPP referral shows a warning beside its result.
Same rules as 0002: to change a value, close the row and add a new one in a new migration."""

import datetime

from django.db import migrations

EFFECTIVE_FROM = datetime.date(2018, 1, 1)
ADA = "ADA diagnostic criteria (A1c ≥ 6.5 %, FPG ≥ 126 mg/dL, 2-h OGTT ≥ 200 mg/dL), via the CDC DPP page [H]"

THRESHOLDS = [
    ("diabetes.a1c_min", "6.5", "Diabetes range: lowest HbA1c (%)", ADA),
    ("diabetes.fpg_min", "126", "Diabetes range: lowest fasting glucose (mg/dL)", ADA),
    ("diabetes.ogtt_min", "200", "Diabetes range: lowest 2-h OGTT (mg/dL)", ADA),
]


def add_thresholds(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    EligibilityThreshold.objects.bulk_create(
        EligibilityThreshold(key=key, value=value, effective_from=EFFECTIVE_FROM, description=description, source=source)
        for key, value, description, source in THRESHOLDS
    )


def remove_thresholds(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    keys = [key for key, _, _, _ in THRESHOLDS]
    EligibilityThreshold.objects.filter(key__in=keys, effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0006_outbound_messages")]

    operations = [migrations.RunPython(add_thresholds, remove_thresholds)]
