from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0011_floor_sheet_measures"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboundmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("invitation", "Staff invitation"),
                    ("referral_notice", "Referral notice to the referring physician"),
                    ("class_cancelled", "Class cancelled notice to a booked patient"),
                ],
                max_length=30,
            ),
        ),
    ]
