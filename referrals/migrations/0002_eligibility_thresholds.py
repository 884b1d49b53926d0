"""The thresholds referrals/eligibility.py compares against, with their sources.

Sources and confidence tags ([H] primary source seen, [M] secondary) come from the domain reference
(§1.2 CDC DPP, §2.3 Medicare DPP, §3.2 CR/ICR/PR). When CMS or CDC change a number, do not edit these rows:
close the old row (effective_to) and add a new one with its own effective_from, in a new migration.
"""

import datetime

from django.db import migrations

EFFECTIVE_FROM = datetime.date(2018, 1, 1)

CR = "42 CFR 410.49(b); NCD 20.10; NGS CR/ICR page [H]"
CR_HF = "42 CFR 410.49(b); NCD 20.10.1 (stable chronic heart failure, CR since 2014-02-18) [H]"
PR_COPD = "42 CFR 410.47 (moderate to very severe COPD = GOLD 2–4) [M]"
PR_SPIROMETRY = "MAC LCD article (older): PFTs with FEV1/FVC < 0.70 and FEV1 < 80% predicted [M]"
PR_COVID = "CY2022 PFS; Noridian 2022 article (persistent COVID-19 symptoms ≥ 4 weeks, U09.9) [M]"
DPP = "CDC Lifestyle change program eligibility page, cdc.gov/diabetes-prevention/eligible-lifestyle-change-program [H]"
MDPP = "42 CFR 410.79(c); NGS MDPP page [H]"

# (key, value, description, source)
THRESHOLDS = [
    ("cr.mi_window_months", "12", "CR/ICR: acute MI within this many calendar months before the referral", CR),
    ("cr.hf_max_lvef", "35", "CR/ICR heart failure: highest LVEF (%)", CR_HF),
    ("cr.hf_min_nyha", "2", "CR/ICR heart failure: lowest NYHA class (II–IV)", CR_HF),
    ("cr.hf_min_optimal_therapy_weeks", "6", "CR/ICR heart failure: fewest weeks of optimal HF therapy", CR_HF),
    ("pr.copd_min_gold", "2", "PR COPD: lowest GOLD stage (2–4)", PR_COPD),
    ("pr.copd_max_fev1_fvc", "0.70", "PR COPD: FEV1/FVC must be below this ratio", PR_SPIROMETRY),
    ("pr.copd_max_fev1_percent", "80", "PR COPD: FEV1 % predicted must be below this", PR_SPIROMETRY),
    ("pr.covid_min_symptom_weeks", "4", "PR post-COVID: fewest weeks of persistent symptoms", PR_COVID),
    ("dpp.min_age", "18", "CDC DPP: youngest age (years) at referral", DPP),
    ("dpp.min_bmi", "25", "CDC DPP: lowest BMI (kg/m²)", DPP),
    ("dpp.min_bmi_asian", "23", "CDC DPP: lowest BMI (kg/m²) for Asian American patients", DPP),
    ("dpp.lab_max_age_months", "12", "CDC DPP: blood test within this many months before the referral", DPP),
    ("dpp.a1c_min", "5.7", "CDC DPP: prediabetes HbA1c range, low end (%)", DPP),
    ("dpp.a1c_max", "6.4", "CDC DPP: prediabetes HbA1c range, high end (%)", DPP),
    ("dpp.fpg_min", "100", "CDC DPP: prediabetes fasting glucose range, low end (mg/dL)", DPP),
    ("dpp.fpg_max", "125", "CDC DPP: prediabetes fasting glucose range, high end (mg/dL)", DPP),
    ("dpp.ogtt_min", "140", "CDC DPP: prediabetes 2-h OGTT range, low end (mg/dL)", DPP),
    ("dpp.ogtt_max", "199", "CDC DPP: prediabetes 2-h OGTT range, high end (mg/dL)", DPP),
    ("dpp.min_risk_score", "5", "CDC DPP: lowest CDC/ADA Prediabetes Risk Test score (high risk)", DPP),
    ("mdpp.min_bmi", "25", "Medicare DPP: lowest BMI (kg/m²)", MDPP),
    ("mdpp.min_bmi_asian", "23", "Medicare DPP: lowest BMI (kg/m²) for self-identified Asian patients", MDPP),
    ("mdpp.lab_max_age_months", "12", "Medicare DPP: lab blood test within this many months before", MDPP),
    ("mdpp.a1c_min", "5.7", "Medicare DPP: HbA1c range, low end (%)", MDPP),
    ("mdpp.a1c_max", "6.4", "Medicare DPP: HbA1c range, high end (%)", MDPP),
    ("mdpp.fpg_min", "110", "Medicare DPP: fasting glucose range, low end (mg/dL); 110, not CDC's 100", MDPP),
    ("mdpp.fpg_max", "125", "Medicare DPP: fasting glucose range, high end (mg/dL)", MDPP),
    ("mdpp.ogtt_min", "140", "Medicare DPP: 2-h OGTT range, low end (mg/dL)", MDPP),
    ("mdpp.ogtt_max", "199", "Medicare DPP: 2-h OGTT range, high end (mg/dL)", MDPP),
]


def add_thresholds(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    EligibilityThreshold.objects.bulk_create(
        EligibilityThreshold(
            key=key, value=value, effective_from=EFFECTIVE_FROM, description=description, source=source
        )
        for key, value, description, source in THRESHOLDS
    )


def remove_thresholds(apps, schema_editor):
    # Only the rows this migration added; later rows (added by later migrations or staff) stay.
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    keys = [key for key, _, _, _ in THRESHOLDS]
    EligibilityThreshold.objects.filter(key__in=keys, effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(add_thresholds, remove_thresholds)]
