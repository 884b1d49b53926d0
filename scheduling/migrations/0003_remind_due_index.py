# Session reminders (remind): the send step claims one clinic's pending rows in due order.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0002_safety_rules'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='reminder',
            name='reminder_due_idx',
        ),
        migrations.AddIndex(
            model_name='reminder',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['clinic', 'due_at'], name='reminder_due_idx'),
        ),
    ]
