"""The billing rules of CR, ICR, PR and MDPP, from the domain reference (../shared/reference/domain.md sections
2 and 3), each with its source. `uncertain` marks what the reference asks to verify; the claim-line pages show
those as "configurable, verify". Next year's rule change is a new row (with effective_from) in a migration or
the Django admin, not a code change."""

import datetime

from django.db import migrations

BPM = "Medicare Benefit Policy Manual Ch.15 §232; MCPM Ch.32 §140; NGS CR reminder (reviewed 10/11/2023)"
KX = "NGS, citing MCPM Ch.32 §140.2.2.4: claims over 36 sessions need the KX modifier"
MINUTES = "HCPro APCs Insider: 1 session ≥ 31 min, 2 the same day ≥ 91 min (60 + 31)"
ITP = "BPM Ch.15 §232; NGS CR page: the ITP is established, reviewed and signed by a physician every 30 days"
PR_2022 = "AARC 2022; RACmonitor: 94625/94626 replaced G0424 on 1 Jan 2022"
ICR = "cms.gov ICR programs page; HCPCS G0422/G0423 [M]"
MDPP_414 = "42 CFR 414.84 (attendance and performance payments, from CY2024 PFS)"
MDPP_410 = "42 CFR 410.79(b): baseline weight at the first core session; core maintenance months 7–12"

D2000 = datetime.date(2000, 1, 1)
D2010 = datetime.date(2010, 8, 12)
D2018 = datetime.date(2018, 4, 1)
D2022 = datetime.date(2022, 1, 1)
D2024 = datetime.date(2024, 1, 1)
D2026 = datetime.date(2026, 1, 1)
END_2021 = datetime.date(2021, 12, 31)

# (program_type, key, value, effective_from, effective_to, source, uncertain)
RULES = [
    # Cardiac rehab.
    ("cr", "code_monitored", "93798", D2000, None, "CPT 93798: with continuous ECG monitoring (domain §3.1)", False),
    ("cr", "code_unmonitored", "93797", D2000, None, "CPT 93797: without continuous ECG monitoring (§3.1)", False),
    ("cr", "session_limit", "36", D2000, None, BPM, False),
    ("cr", "kx_limit", "72", D2000, None, KX, False),
    ("cr", "daily_limit", "2", D2000, None, BPM, False),
    ("cr", "minutes_one", "31", D2000, None, MINUTES, False),
    ("cr", "minutes_two", "91", D2000, None, MINUTES, False),
    ("cr", "itp_window_days", "30", D2000, None, ITP, False),
    # Intensive cardiac rehab: 72 one-hour sessions, up to 6 a day, no extension.
    ("icr", "code_exercise", "G0422", D2010, None, ICR, False),
    ("icr", "code_no_exercise", "G0423", D2010, None, ICR, False),
    ("icr", "session_limit", "72", D2010, None, BPM, False),
    ("icr", "kx_limit", "72", D2010, None, "BPM Ch.15 §232: no extension beyond 72 ICR sessions", False),
    ("icr", "daily_limit", "6", D2010, None, BPM, False),
    ("icr", "minutes_one", "31", D2010, None, "ICR is billed per 1-h session; the 31/91-minute rule is assumed", True),
    ("icr", "minutes_two", "91", D2010, None, "ICR is billed per 1-h session; the 31/91-minute rule is assumed", True),
    ("icr", "itp_window_days", "30", D2010, None, ITP, False),
    # Pulmonary rehab: G0424 until 2021, then 94625/94626.
    ("pr", "code_monitored", "G0424", D2010, END_2021, PR_2022, False),
    ("pr", "code_unmonitored", "G0424", D2010, END_2021, PR_2022, False),
    ("pr", "code_monitored", "94626", D2022, None, PR_2022 + " (with continuous oximetry)", False),
    ("pr", "code_unmonitored", "94625", D2022, None, PR_2022 + " (without continuous oximetry)", False),
    ("pr", "session_limit", "36", D2010, None, BPM, False),
    ("pr", "kx_limit", "72", D2010, None, "Up to 36 more PR sessions with medical necessity (KX) [M]", True),
    ("pr", "daily_limit", "2", D2010, None, BPM, False),
    ("pr", "minutes_one", "31", D2010, None, MINUTES, False),
    ("pr", "minutes_two", "91", D2010, None, MINUTES, False),
    ("pr", "itp_window_days", "30", D2010, None, ITP + " (same 30-day rule for PR [M])", False),
    # Medicare DPP.
    ("mdpp", "code_in_person", "G9886", D2024, None, MDPP_414 + "; G9886 in person [M]", False),
    ("mdpp", "code_distance", "G9887", D2024, None, MDPP_414 + "; G9887 distance learning [M]", False),
    ("mdpp", "code_online", "G9871", D2026, None, "G9871 online, new for CY2026 (hcpcs.codes; Noridian) [M]", True),
    ("mdpp", "code_wl5", "G9880", D2024, None, MDPP_414 + "; G9880 ≥ 5 % weight loss, once [M]", False),
    ("mdpp", "code_wl9", "G9881", D2024, None, MDPP_414 + "; G9881 ≥ 9 % weight loss, once [M]", False),
    ("mdpp", "code_wl5_maintained", "G9888", D2024, None, MDPP_414 + "; G9888 5 % maintained months 7–12 [M]", False),
    ("mdpp", "wl5_percent", "5", D2018, None, "42 CFR 414.84: 5 % below baseline weight", False),
    ("mdpp", "wl9_percent", "9", D2018, None, "42 CFR 414.84: 9 % below baseline weight", False),
    ("mdpp", "maintenance_from_month", "7", D2018, None, MDPP_410, False),
    ("mdpp", "maintenance_to_month", "12", D2018, None, MDPP_410, False),
    ("mdpp", "paid_sessions", "22", D2018, None, "42 CFR 414.84(a): at most 22 sessions in a 12-month period", False),
    ("mdpp", "paid_window_months", "12", D2018, None, "42 CFR 414.84(a); Noridian", False),
    ("mdpp", "once_per_lifetime", "1", D2018, None, "Noridian JE MDPP page: once per lifetime", False),
]


def load(apps, schema_editor):
    BillingRule = apps.get_model("billing", "BillingRule")
    for program_type, key, value, start, end, source, uncertain in RULES:
        BillingRule.objects.update_or_create(
            program_type=program_type, key=key, effective_from=start,
            defaults={"value": value, "effective_to": end, "source": source, "uncertain": uncertain},
        )  # fmt: skip


def unload(apps, schema_editor):
    apps.get_model("billing", "BillingRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
