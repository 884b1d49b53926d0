"""Heart-failure stability and the COVID-19 diagnosis on the referral, and the stability windows as dated
thresholds (NCD 20.10.1: no major CV hospitalization or procedure in the past 6 weeks, none planned in
the next 6 months)."""

import datetime

from django.db import migrations, models

EFFECTIVE_FROM = datetime.date(2014, 2, 18)
CR_HF = "NCD 20.10.1: stable chronic heart failure [H]"
THRESHOLDS = [
    ("cr.hf_stable_no_event_weeks", "6", "CR/ICR heart failure: no major CV event in this many weeks", CR_HF),
    ("cr.hf_stable_none_planned_months", "6", "CR/ICR heart failure: none planned in this many months", CR_HF),
]


def add_thresholds(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    EligibilityThreshold.objects.bulk_create(
        EligibilityThreshold(key=key, value=value, effective_from=EFFECTIVE_FROM, description=description, source=source)
        for key, value, description, source in THRESHOLDS
    )


def remove_thresholds(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    EligibilityThreshold.objects.filter(key__in=[key for key, *_ in THRESHOLDS], effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0009_referral_external_identifier")]

    operations = [
        migrations.AddField(
            model_name="referral",
            name="hf_recent_cv_event",
            field=models.BooleanField(
                blank=True, null=True,
                verbose_name="major cardiovascular hospitalization or procedure in the past 6 weeks",
            ),
        ),
        migrations.AddField(
            model_name="referral",
            name="hf_planned_cv_procedure",
            field=models.BooleanField(
                blank=True, null=True,
                verbose_name="major cardiovascular hospitalization or procedure planned in the next 6 months",
            ),
        ),
        migrations.AddField(
            model_name="referral",
            name="covid_confirmed_or_suspected",
            field=models.BooleanField(blank=True, null=True, verbose_name="confirmed or suspected COVID-19"),
        ),
        migrations.RunPython(add_thresholds, remove_thresholds),
    ]
