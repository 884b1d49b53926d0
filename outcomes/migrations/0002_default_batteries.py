"""The shared default batteries per program type (no clinic): what each program assesses at entry,
30 days and discharge. Clinics copy and edit them (outcomes/batteries.py). Measures are the shared
catalog's (clinic 0013/0014); computed measures (BMI, DASI METs, 6MWD % predicted) are listed so the
form shows them, and are computed, never typed."""

from django.db import migrations

MEDICARE = "42 CFR 410.47/410.49: outcomes assessment at entry and discharge (domain.md 3.4) [H]"
DPRP = "CDC DPRP Standards: weight each session, A1c and activity minutes (domain.md 1.4) [H]"
STEADI = "CDC STEADI fall-risk assessment (domain.md section 4) [H]"
LOCAL = "MedFit default, not a payer requirement: edit to fit your program"
ALL = ["baseline", "interim", "discharge"]

SIX_MWT, RESTING_HR, SBP, DBP = "64098-7", "40443-4", "8480-6", "8462-4"
WEIGHT, HEIGHT, BMI, WAIST = "29463-7", "8302-2", "39156-5", "8280-0"
PHQ9, ITEM9, DASI, SPO2, A1C = "44261-6", "phq9-item9", "dasi", "59408-5", "4548-4"
CARDIAC = [SIX_MWT, "6mwd-pct-predicted", RESTING_HR, SBP, DBP, WEIGHT, HEIGHT, BMI, WAIST, PHQ9, ITEM9, DASI,
           "dasi-mets"]  # fmt: skip
FALLS = ["tug", "chair-stand-30s", "gait-speed", "berg", "grip-strength"]
GENERAL = [SIX_MWT, RESTING_HR, SBP, DBP, WEIGHT, HEIGHT, BMI]

# (program type, name, timepoints, measure codes in order, required codes, source)
BATTERIES = [
    ("cr", "Cardiac rehab outcomes", ALL, CARDIAC, {SIX_MWT, PHQ9, ITEM9}, MEDICARE),
    ("icr", "Intensive cardiac rehab outcomes", ALL, CARDIAC, {SIX_MWT, PHQ9, ITEM9}, MEDICARE),
    ("pr", "Pulmonary rehab outcomes", ALL,
     [SIX_MWT, "6mwd-pct-predicted", SPO2, RESTING_HR, SBP, DBP, WEIGHT, HEIGHT, BMI, PHQ9, ITEM9],
     {SIX_MWT, PHQ9, ITEM9}, MEDICARE),
    ("dpp", "Diabetes prevention outcomes", ALL, [WEIGHT, HEIGHT, BMI, A1C, "activity-minutes"], {WEIGHT}, DPRP),
    ("mdpp", "Medicare DPP outcomes", ALL, [WEIGHT, HEIGHT, BMI, A1C, "activity-minutes"], {WEIGHT}, DPRP),
    ("falls_prevention", "Falls risk screen", ALL, FALLS, {"tug"}, STEADI),
    ("post_rehab", "Fitness check", ALL, [*GENERAL, "grip-strength", "sit-and-reach"], set(), LOCAL),
    ("chronic_disease", "Fitness check", ALL, [*GENERAL, PHQ9, ITEM9], set(), LOCAL),
    ("cancer_recovery", "Fitness check", ALL, [*GENERAL, "grip-strength", PHQ9, ITEM9], set(), LOCAL),
    ("weight_management", "Weight and body composition", ALL, [WEIGHT, HEIGHT, BMI, WAIST, "41982-0", SBP, DBP],
     {WEIGHT}, LOCAL),
    ("youth", "Fitness check", ALL, [RESTING_HR, WEIGHT, HEIGHT, BMI, "sit-and-reach"], set(), LOCAL),
    ("group_specialty", "Fitness check", ALL, [RESTING_HR, SBP, DBP, WEIGHT], set(), LOCAL),
]  # fmt: skip


def load(apps, schema_editor):
    Battery = apps.get_model("outcomes", "Battery")
    BatteryItem = apps.get_model("outcomes", "BatteryItem")
    Measure = apps.get_model("clinic", "Measure")
    measures = {m.code: m for m in Measure.objects.filter(clinic=None)}
    for program_type, name, timepoints, codes, required, source in BATTERIES:
        battery, _ = Battery.objects.update_or_create(
            clinic=None, program_type=program_type, name=name,
            defaults={"timepoints": timepoints, "source": source, "is_active": True},
        )  # fmt: skip
        BatteryItem.objects.filter(battery=battery).delete()
        BatteryItem.objects.bulk_create(
            BatteryItem(battery=battery, measure=measures[code], order=order, required=code in required)
            for order, code in enumerate(codes, start=1)
        )


def unload(apps, schema_editor):
    Battery = apps.get_model("outcomes", "Battery")
    apps.get_model("outcomes", "BatteryItem").objects.filter(battery__clinic=None).delete()
    Battery.objects.filter(clinic=None).delete()


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0001_batteries_assessments"), ("clinic", "0014_outcome_measures")]
    operations = [migrations.RunPython(load, unload)]
