"""Row-level security on every referrals table with a clinic column (see clinic/rls.py)."""

from django.db import migrations

from clinic.rls import disable_sql, enable_sql

TABLES = [
    "referrals_referringprovider",
    "referrals_referral",
    "referrals_referralstatuschange",
    "referrals_referralattachment",
    "referrals_referralnotification",
]


class Migration(migrations.Migration):
    dependencies = [("referrals", "0004_referral_dob_not_future"), ("clinic", "0005_row_level_security")]

    operations = [migrations.RunSQL(enable_sql(table), reverse_sql=disable_sql(table)) for table in TABLES]
