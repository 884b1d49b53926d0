# A waitlisted patient given a place is told by email (scheduling/notices.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0015_clinical_alerts'),
    ]

    operations = [
        migrations.AlterField(
            model_name='outboundmessage',
            name='kind',
            field=models.CharField(choices=[('invitation', 'Staff invitation'), ('referral_notice', 'Referral notice to the referring physician'), ('class_cancelled', 'Class cancelled notice to a booked patient'), ('place_offered', 'A place from the waitlist, to the patient')], max_length=30),
        ),
    ]
