# The patient search indexes include what the search filters on, so its count is index-only (issue 11).

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    # CONCURRENTLY, as 0024: a plain DROP/CREATE INDEX would hold back every write to the patients while it runs
    # (it cannot run in a transaction). Searches go without their index for the seconds between.
    atomic = False

    dependencies = [
        ('clinic', '0024_audit_clinic_event_idx'),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name='patient',
            name='patient_last_name_search',
        ),
        RemoveIndexConcurrently(
            model_name='patient',
            name='patient_first_name_search',
        ),
        RemoveIndexConcurrently(
            model_name='patient',
            name='patient_mrn_search',
        ),
        AddIndexConcurrently(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('last_name'), name='text_pattern_ops'), include=('id', 'status', 'last_name', 'first_name'), name='patient_last_name_search'),
        ),
        AddIndexConcurrently(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('first_name'), name='text_pattern_ops'), include=('id', 'status', 'first_name'), name='patient_first_name_search'),
        ),
        AddIndexConcurrently(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('mrn'), name='text_pattern_ops'), include=('id', 'status', 'mrn'), name='patient_mrn_search'),
        ),
    ]
