"""The audit trail's hash chain and append-only triggers (clinic/auditchain.py)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from clinic.auditchain import CHAIN_SQL, REVERSE_SQL
from clinic.rls import disable_sql, enable_sql


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0005_row_level_security'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chain_seq', models.BigIntegerField()),
                ('entry_hash', models.CharField(max_length=64)),
                ('removed_before', models.DateTimeField()),
                ('removed_count', models.PositiveIntegerField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name='auditentry',
            name='chain_seq',
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='entry_hash',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='prev_hash',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['clinic', 'chain_seq'], name='audit_clinic_chain_idx'),
        ),
        migrations.AddField(
            model_name='auditcheckpoint',
            name='clinic',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinic.clinic'),
        ),
        migrations.AddIndex(
            model_name='auditcheckpoint',
            index=models.Index(fields=['clinic', '-chain_seq'], name='audit_checkpoint_idx'),
        ),
        migrations.RunSQL(CHAIN_SQL, reverse_sql=REVERSE_SQL),
        migrations.RunSQL(
            enable_sql("clinic_auditcheckpoint", also_insertable="clinic_id IS NULL"),
            reverse_sql=disable_sql("clinic_auditcheckpoint"),
        ),
    ]
