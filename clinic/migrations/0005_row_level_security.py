"""Row-level security on every table of the core record with a clinic column (see clinic/rls.py)."""

from django.db import migrations, models

from clinic.rls import FUNCTIONS_SQL, disable_sql, enable_sql

# Memberships: a person lists their own across clinics. Tokens and invitations: found by their hash
# before their clinic is known. Audit entries without a clinic (a failed sign-in with an unknown
# email) may be written by anyone and read only with the bypass.
TABLES = {
    "clinic_membership": {"also_visible": "user_id = medfit_rls_user_id()"},
    "clinic_invitation": {"also_visible": "token_hash = medfit_rls_token_hash()"},
    "clinic_apitoken": {"also_visible": "token_hash = medfit_rls_token_hash()"},
    "clinic_patient": {},
    "clinic_patientphysician": {},
    "clinic_program": {},
    "clinic_enrollment": {},
    "clinic_auditentry": {"also_insertable": "clinic_id IS NULL"},
}


class Migration(migrations.Migration):
    dependencies = [("clinic", "0004_idle_timeout_bounds")]

    operations = [
        migrations.RunSQL(FUNCTIONS_SQL, reverse_sql=migrations.RunSQL.noop),
        *[
            migrations.RunSQL(enable_sql(table, **widening), reverse_sql=disable_sql(table))
            for table, widening in TABLES.items()
        ],
        migrations.AlterField(
            model_name="auditentry",
            name="event",
            field=models.CharField(
                blank=True,
                choices=[
                    ("create", "Created"),
                    ("update", "Updated"),
                    ("delete", "Deleted"),
                    ("view", "Viewed"),
                    ("export", "Exported"),
                    ("login", "Signed in"),
                    ("login_failed", "Failed sign-in"),
                    ("logout", "Signed out"),
                    ("mfa_change", "Two-factor change"),
                    ("rls_bypass", "Read across clinics"),
                ],
                max_length=20,
            ),
        ),
    ]
