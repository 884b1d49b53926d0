# Text messages about booking changes (a place from the waitlist, a cancelled class): a row per event.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from clinic.rls import disable_sql, enable_sql


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0016_outbound_place_offered'),
        ('scheduling', '0003_remind_due_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='TextNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('place_offered', 'Place from the waitlist'), ('class_cancelled', 'Class cancelled')], max_length=20)),
                ('key', models.CharField(help_text='One message per event: e.g. place-offered:42.', max_length=100)),
                ('body', models.TextField(help_text="Time, place and the clinic's phone; nothing clinical.")),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('cancelled', 'Cancelled'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, max_length=200)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('booking', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='text_notices', to='scheduling.booking')),
                ('clinic', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clinic.clinic')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='text_notices', to='clinic.patient')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['clinic', 'next_attempt_at'], name='text_notice_due_idx')],
                'constraints': [models.UniqueConstraint(fields=('clinic', 'key'), name='text_notice_once_per_event')],
            },
        ),
        migrations.RunSQL(enable_sql("scheduling_textnotice"), reverse_sql=disable_sql("scheduling_textnotice")),
    ]
