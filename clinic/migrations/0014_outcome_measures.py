"""The outcome-measure catalog: units, valid ranges, which direction is better, MCIDs and norm or risk
bands, each with its source and the reference's confidence mark ([H] high, [M] medium, [L] low).

Facts from ../shared/reference/domain.md section 4. Codes it marks "not verified" (or conflicting, as
grip strength) use the local code system until someone checks them at loinc.org. Where the reference
gives several MCIDs (6MWD: 25 m CAD in CR, 30 m respiratory disease, 36 m heart failure) the catalog
holds the one for the commonest program here (CR); clinics can add their own measures.
"""

from django.db import migrations

LOINC = "http://loinc.org"
LOCAL = "urn:medfit:measure"
H, L = "higher", "lower"
CONTEXT = "context"

# code, system, name, unit, category, min, max, decimals, direction, mcid, mcid kind, mcid source
MEASURES = [
    ("64098-7", LOINC, "6-minute walk distance", "m", "functional", 0, 1200, 0, H, 25, "absolute",
     "25 m in CAD during cardiac rehab (Gremeaux 2011, Arch Phys Med Rehabil) [H]; 30 m in chronic "
     "respiratory disease (ATS/ERS 2014) [M]"),
    ("6mwd-pct-predicted", LOCAL, "6-minute walk distance, % of predicted", "%", "functional", 0, 300, 0, H, None,
     "absolute", ""),
    ("tug", LOCAL, "Timed Up and Go", "s", "functional", 2, 180, 1, L, None, "absolute",
     "No robust MCID; MIC varies by population (review PMC9799194) [H]"),
    ("chair-stand-30s", LOCAL, "30-second chair stand", "{#}", "functional", 0, 60, 0, H, 2, "absolute",
     "About 2 repetitions is often used [L]"),
    ("gait-speed", LOCAL, "Gait speed (usual pace)", "m/s", "functional", 0.05, 3, 2, H, 0.10, "absolute",
     "Substantial change 0.10 m/s, small 0.05 m/s (Perera 2006, JAGS) [H]"),
    ("grip-strength", LOCAL, "Grip strength (dynamometer, best trial)", "kg", "functional", 0, 120, 1, H, 5.0,
     "absolute", "5.0–6.5 kg (Bohannon 2019 systematic review, J Phys Ther Sci 31:75) [H]"),
    ("berg", LOCAL, "Berg Balance Scale", "{score}", "functional", 0, 56, 0, H, 5, "absolute",
     "MDC 4–7 points depending on baseline (Donoghue & Stokes 2009) [L/M]; 5 is the middle band"),
    ("sit-and-reach", LOCAL, "Chair sit-and-reach", "cm", "functional", -40, 40, 1, H, None, "absolute",
     "None established [L]"),
    ("peak-mets", LOCAL, "Peak METs", "{MET}", "functional", 1, 25, 1, H, 1, "absolute",
     "+1 MET is about 13 % lower all-cause mortality (Kodama 2009, JAMA) [M]"),
    ("dasi", LOCAL, "Duke Activity Status Index", "{score}", "functional", 0, 58.2, 1, H, None, "absolute",
     "Not well established [L]"),
    ("dasi-mets", LOCAL, "Estimated METs from DASI", "{MET}", "functional", 1, 25, 1, H, 1, "absolute",
     "VO2peak = 0.43 × DASI + 9.6 mL/kg/min; METs = VO2 / 3.5 (Hlatky 1989) [H]"),
    ("40443-4", LOINC, "Resting heart rate", "/min", "vital", 20, 250, 0, L, None, "absolute", ""),
    ("8867-4", LOINC, "Heart rate", "/min", "vital", 20, 250, 0, CONTEXT, None, "absolute", ""),
    ("8480-6", LOINC, "Systolic blood pressure", "mm[Hg]", "vital", 50, 300, 0, L, 5, "absolute",
     "About 5 mmHg is a commonly used meaningful change [L]"),
    ("8462-4", LOINC, "Diastolic blood pressure", "mm[Hg]", "vital", 20, 200, 0, L, None, "absolute", ""),
    ("59408-5", LOINC, "Oxygen saturation by pulse oximetry", "%", "vital", 50, 100, 0, H, None, "absolute", ""),
    ("2339-0", LOINC, "Glucose in blood", "mg/dL", "lab", 20, 600, 0, CONTEXT, None, "absolute", ""),
    ("29463-7", LOINC, "Body weight", "kg", "body", 20, 350, 1, L, 5, "percent",
     "5 % loss is the DPP/MDPP goal; 3–5 % is clinically meaningful (AHA/ACC/TOS 2013) [M]"),
    ("8302-2", LOINC, "Height", "cm", "body", 50, 250, 1, CONTEXT, None, "absolute", ""),
    ("39156-5", LOINC, "Body mass index", "kg/m2", "body", 10, 90, 1, L, None, "absolute", ""),
    ("8280-0", LOINC, "Waist circumference", "cm", "body", 40, 250, 1, L, 3, "absolute",
     "About 3–5 cm [L]"),
    ("41982-0", LOINC, "Body fat", "%", "body", 2, 75, 1, L, None, "absolute",
     "Device-dependent; BIA error ±3–5 % [L]"),
    ("4548-4", LOINC, "Hemoglobin A1c", "%", "lab", 3, 20, 1, L, 0.2, "absolute",
     "0.2 percentage points is the DPRP risk-reduction outcome [M]"),
    ("13457-7", LOINC, "LDL cholesterol (calculated)", "mg/dL", "lab", 10, 500, 0, L, None, "absolute", ""),
    ("44261-6", LOINC, "PHQ-9 total score", "{score}", "psychosocial", 0, 27, 0, L, 5, "absolute",
     "About 5 points of individual change (Löwe 2004) [M]"),
    ("phq9-item9", LOCAL, "PHQ-9 item 9 (thoughts of self-harm)", "{score}", "psychosocial", 0, 3, 0, L, None,
     "absolute", ""),
    ("rpe-borg", LOCAL, "Rating of perceived exertion (Borg 6–20)", "{score}", "session", 6, 20, 0, CONTEXT, None,
     "absolute", ""),
    ("rpe-cr10", LOCAL, "Rating of perceived exertion (CR10)", "{score}", "session", 0, 10, 0, CONTEXT, None,
     "absolute", ""),
    ("session-mets", LOCAL, "Exercise workload (METs)", "{MET}", "session", 1, 25, 1, H, None, "absolute", ""),
    ("session-watts", LOCAL, "Exercise workload (watts)", "W", "session", 0, 1000, 0, H, None, "absolute", ""),
    ("activity-minutes", LOCAL, "Physical activity minutes since last session", "min", "session", 0, 10080, 0, H,
     None, "absolute", ""),
]

STEADI = "CDC STEADI 30-second chair stand below-average cut-offs (via injurymatters.org.au) [H]"
STEADI_CUTOFFS = [  # age_min, age_max, men below, women below
    (60, 64, 14, 12), (65, 69, 12, 11), (70, 74, 12, 10), (75, 79, 11, 10),
    (80, 84, 10, 9), (85, 89, 8, 8), (90, 94, 7, 4),
]
ACC_AHA_BP = "ACC/AHA 2017 blood pressure categories [M]"
PHQ9 = "Kroenke 2001 PHQ-9 severity bands [H]"
BMI = "WHO / NIH BMI classes [M]"

# code, sex, age_min, age_max, low, low_inclusive, high, high_inclusive, label, is_risk, source
BANDS = [
    ("64098-7", "", None, None, None, True, 300, False, "Under 300 m: worse prognosis after MI/HF", True,
     "PLoS One PMC4048282 [M]"),
    ("tug", "", None, None, 12, True, None, False, "12 s or more: fall risk", True, "CDC STEADI [H]"),
    ("gait-speed", "", None, None, None, True, 0.8, True, "0.8 m/s or less: low physical performance", True,
     "EWGSOP2; FNIH [M]"),
    ("grip-strength", "M", None, None, None, True, 27, False, "Under 27 kg: low strength", True, "EWGSOP2 [M]"),
    ("grip-strength", "F", None, None, None, True, 16, False, "Under 16 kg: low strength", True, "EWGSOP2 [M]"),
    ("berg", "", None, None, None, True, 45, True, "45 or less: fall risk", True, "Berg 1992 [M]"),
    ("peak-mets", "", None, None, None, True, 5, False, "Under 5 METs: low capacity", True, "[M]"),
    ("dasi", "", None, None, None, True, 34, True, "34 or less: under about 4.6 METs", True, "METS study 2018 [M]"),
    ("40443-4", "", None, None, 100, False, None, False, "Over 100 /min: tachycardia", True, "[M]"),
    ("8480-6", "", None, None, None, True, 120, False, "Normal", False, ACC_AHA_BP),
    ("8480-6", "", None, None, 120, True, 130, False, "Elevated", False, ACC_AHA_BP),
    ("8480-6", "", None, None, 130, True, 140, False, "Stage 1 hypertension", True, ACC_AHA_BP),
    ("8480-6", "", None, None, 140, True, 180, True, "Stage 2 hypertension", True, ACC_AHA_BP),
    ("8480-6", "", None, None, 180, False, None, False, "Hypertensive crisis", True, ACC_AHA_BP),
    ("8462-4", "", None, None, None, True, 80, False, "Normal", False, ACC_AHA_BP),
    ("8462-4", "", None, None, 80, True, 90, False, "Stage 1 hypertension", True, ACC_AHA_BP),
    ("8462-4", "", None, None, 90, True, 120, True, "Stage 2 hypertension", True, ACC_AHA_BP),
    ("8462-4", "", None, None, 120, False, None, False, "Hypertensive crisis", True, ACC_AHA_BP),
    ("39156-5", "", None, None, None, True, 18.5, False, "Underweight", True, BMI),
    ("39156-5", "", None, None, 18.5, True, 25, False, "Normal weight", False, BMI),
    ("39156-5", "", None, None, 25, True, 30, False, "Overweight", True, BMI),
    ("39156-5", "", None, None, 30, True, 35, False, "Obesity class I", True, BMI),
    ("39156-5", "", None, None, 35, True, 40, False, "Obesity class II", True, BMI),
    ("39156-5", "", None, None, 40, True, None, False, "Obesity class III", True, BMI),
    ("8280-0", "M", None, None, 102, False, None, False, "Over 102 cm: high risk", True, "NHLBI / ATP III [M]"),
    ("8280-0", "F", None, None, 88, False, None, False, "Over 88 cm: high risk", True, "NHLBI / ATP III [M]"),
    ("4548-4", "", None, None, None, True, 5.7, False, "Normal", False, "ADA [H]"),
    ("4548-4", "", None, None, 5.7, True, 6.5, False, "Prediabetes", True, "ADA [H]"),
    ("4548-4", "", None, None, 6.5, True, None, False, "Diabetes range", True, "ADA [H]"),
    ("13457-7", "", None, None, 70, True, 190, False, "70 or more: above the secondary-prevention goal", True,
     "ACC/AHA 2018 [M]"),
    ("13457-7", "", None, None, 190, True, None, False, "190 or more: severe", True, "ACC/AHA 2018 [M]"),
    ("44261-6", "", None, None, 0, True, 4, True, "Minimal", False, PHQ9),
    ("44261-6", "", None, None, 5, True, 9, True, "Mild", False, PHQ9),
    ("44261-6", "", None, None, 10, True, 14, True, "Moderate", True, PHQ9),
    ("44261-6", "", None, None, 15, True, 19, True, "Moderately severe", True, PHQ9),
    ("44261-6", "", None, None, 20, True, 27, True, "Severe", True, PHQ9),
] + [
    band
    for age_min, age_max, men, women in STEADI_CUTOFFS
    for band in (
        ("chair-stand-30s", "M", age_min, age_max, None, True, men, False, f"Under {men}: below average, fall risk",
         True, STEADI),
        ("chair-stand-30s", "F", age_min, age_max, None, True, women, False,
         f"Under {women}: below average, fall risk", True, STEADI),
    )
]


def load(apps, schema_editor):
    Measure = apps.get_model("clinic", "Measure")
    MeasureBand = apps.get_model("clinic", "MeasureBand")
    for code, system, name, unit, category, low, high, places, direction, mcid, kind, source in MEASURES:
        Measure.objects.update_or_create(
            code=code,
            clinic=None,
            defaults={
                "code_system": system, "name": name, "unit": unit, "category": category, "min_value": low,
                "max_value": high, "decimal_places": places, "direction": direction, "mcid": mcid,
                "mcid_kind": kind, "mcid_source": source,
            },
        )
    measures = {m.code: m for m in Measure.objects.filter(clinic=None)}
    MeasureBand.objects.filter(measure__in=measures.values()).delete()
    MeasureBand.objects.bulk_create(
        MeasureBand(
            measure=measures[code], sex=sex, age_min=age_min, age_max=age_max, low=low, low_inclusive=low_inclusive,
            high=high, high_inclusive=high_inclusive, label=label, is_risk=is_risk, source=source,
        )
        for code, sex, age_min, age_max, low, low_inclusive, high, high_inclusive, label, is_risk, source in BANDS
    )


def unload(apps, schema_editor):
    # The floor sheet's measures (0011) stay; only what this migration added goes.
    floor_sheet = {"8867-4", "8480-6", "8462-4", "59408-5", "2339-0", "29463-7", "rpe-borg", "rpe-cr10",
                   "session-mets", "session-watts", "activity-minutes"}
    apps.get_model("clinic", "MeasureBand").objects.all().delete()
    added = [m[0] for m in MEASURES if m[0] not in floor_sheet]
    apps.get_model("clinic", "Measure").objects.filter(clinic=None, code__in=added).delete()


class Migration(migrations.Migration):
    dependencies = [("clinic", "0013_measure_catalog")]
    operations = [migrations.RunPython(load, unload)]
