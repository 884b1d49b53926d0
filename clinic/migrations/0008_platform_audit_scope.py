"""Audit entries and checkpoints without a clinic are seen and written only in the platform scope
(clinic/rls.py): PostgreSQL checks an INSERT ... RETURNING against the read policy too."""

from django.db import migrations

from clinic.rls import FUNCTIONS_SQL, enable_sql

PLATFORM_ROWS = "(clinic_id IS NULL AND medfit_rls_platform())"


class Migration(migrations.Migration):
    dependencies = [("clinic", "0007_outbound_messages")]

    operations = [
        migrations.RunSQL(FUNCTIONS_SQL, reverse_sql=migrations.RunSQL.noop),
        *[
            migrations.RunSQL(
                enable_sql(table, also_visible=PLATFORM_ROWS, also_insertable=PLATFORM_ROWS),
                reverse_sql=enable_sql(table, also_insertable="clinic_id IS NULL"),
            )
            for table in ["clinic_auditentry", "clinic_auditcheckpoint"]
        ],
    ]
