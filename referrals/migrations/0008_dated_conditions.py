"""When each qualifying condition started to count, and when Medicare DPP began, as dated rows like the
thresholds (value 1 = accepted from effective_from). The rules read them; none of these dates is code.

The ICR heart-failure date is marked [M] in the domain reference (statute note unconfirmed): it is a row
like the others, so correcting it is a data change (close this row, add one with the right date)."""

import datetime

from django.db import migrations

CR_RULE = "42 CFR 410.49(b), in force since 2010-01-01 [H]"
CR_HF = "NCD 20.10.1: stable chronic heart failure covered for CR from 2014-02-18 [H]"
ICR_HF = "SSA §1861(eee)(4)(B); Bipartisan Budget Act of 2018 §51004: ICR services on or after 2019-01-01 [M: verify]"
PR_RULE = "42 CFR 410.47, in force since 2010-01-01 [H]"
PR_COVID = "CY2022 PFS; Noridian 2022 article: post-COVID persistent symptoms from 2022-01-01 [M]"
MDPP = "42 CFR 410.79: Medicare DPP services furnished on or after 2018-04-01 [H]"

JAN_2010 = datetime.date(2010, 1, 1)
CARDIAC = ["mi", "cabg", "stable_angina", "valve", "pci", "transplant"]
ROWS = [
    *[(f"cr.condition.{c}", JAN_2010, "CR: qualifying condition", CR_RULE) for c in CARDIAC],
    *[(f"icr.condition.{c}", JAN_2010, "ICR: qualifying condition", CR_RULE) for c in CARDIAC],
    ("cr.condition.heart_failure", datetime.date(2014, 2, 18), "CR: stable chronic heart failure", CR_HF),
    ("icr.condition.heart_failure", datetime.date(2019, 1, 1), "ICR: stable chronic heart failure", ICR_HF),
    ("pr.condition.copd", JAN_2010, "PR: COPD (GOLD 2–4)", PR_RULE),
    ("pr.condition.post_covid", datetime.date(2022, 1, 1), "PR: post-COVID persistent symptoms", PR_COVID),
    ("mdpp.program_start", datetime.date(2018, 4, 1), "Medicare DPP: services covered from this date", MDPP),
]


def add_rows(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    EligibilityThreshold.objects.bulk_create(
        EligibilityThreshold(key=key, value=1, effective_from=start, description=description, source=source)
        for key, start, description, source in ROWS
    )


def remove_rows(apps, schema_editor):
    EligibilityThreshold = apps.get_model("referrals", "EligibilityThreshold")
    for key, start, _, _ in ROWS:
        EligibilityThreshold.objects.filter(key=key, effective_from=start).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0007_diabetes_range_thresholds")]

    operations = [migrations.RunPython(add_rows, remove_rows)]
