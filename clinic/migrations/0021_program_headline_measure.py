"""Each program's headline measure becomes a field admins edit (it was a constant per program type in
outcomes/progress.py); existing programs get what the constant gave their type."""

import django.db.models.deletion
from django.db import migrations, models

# The constant as it stood (referrals/services.py HEADLINE_DEFAULTS keeps it for new programs).
HEADLINE_CODES = {
    "cr": "64098-7", "icr": "64098-7", "pr": "64098-7",
    "dpp": "29463-7", "mdpp": "29463-7", "weight_management": "29463-7",
    "falls_prevention": "tug",
}  # fmt: skip


def set_headlines(apps, schema_editor):
    Measure = apps.get_model("clinic", "Measure")
    Program = apps.get_model("clinic", "Program")
    shared = {m.code: m.pk for m in Measure.objects.filter(clinic=None, code__in=set(HEADLINE_CODES.values()))}
    for program_type, code in HEADLINE_CODES.items():
        if code in shared:
            Program.objects.filter(program_type=program_type, headline_measure=None).update(
                headline_measure_id=shared[code]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0020_merged_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="program",
            name="headline_measure",
            field=models.ForeignKey(
                blank=True,
                help_text="The outcome shown first on the physician portal and in progress reports.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clinic.measure",
            ),
        ),
        migrations.RunPython(set_headlines, migrations.RunPython.noop),
    ]
