# The patient search indexes include what the search filters on, so its count is index-only (issue 11).

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0024_audit_clinic_event_idx'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_last_name_search',
        ),
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_first_name_search',
        ),
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_mrn_search',
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('last_name'), name='text_pattern_ops'), include=('id', 'status', 'last_name', 'first_name'), name='patient_last_name_search'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('first_name'), name='text_pattern_ops'), include=('id', 'status', 'first_name'), name='patient_first_name_search'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(models.F('clinic'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('mrn'), name='text_pattern_ops'), include=('id', 'status', 'mrn'), name='patient_mrn_search'),
        ),
    ]
