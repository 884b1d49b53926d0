"""The measures the floor sheet records, as coded observations (issue 9 extends the catalog).

Codes and units from ../shared/reference/domain.md section 4; codes it marks "not verified" use the
local system until someone checks them at loinc.org.
"""

from django.db import migrations

LOINC = "http://loinc.org"
LOCAL = "urn:medfit:measure"

MEASURES = [
    # code, system, name, UCUM unit, min, max
    ("8867-4", LOINC, "Heart rate", "/min", 20, 250),
    ("8480-6", LOINC, "Systolic blood pressure", "mm[Hg]", 50, 300),
    ("8462-4", LOINC, "Diastolic blood pressure", "mm[Hg]", 20, 200),
    ("59408-5", LOINC, "Oxygen saturation by pulse oximetry", "%", 50, 100),
    ("2339-0", LOINC, "Glucose in blood", "mg/dL", 20, 600),
    ("29463-7", LOINC, "Body weight", "kg", 20, 350),
    ("rpe-borg", LOCAL, "Rating of perceived exertion (Borg 6–20)", "{score}", 6, 20),
    ("rpe-cr10", LOCAL, "Rating of perceived exertion (CR10)", "{score}", 0, 10),
    ("session-mets", LOCAL, "Exercise workload (METs)", "{MET}", 1, 25),
    ("session-watts", LOCAL, "Exercise workload (watts)", "W", 0, 1000),
    ("activity-minutes", LOCAL, "Physical activity minutes since last session", "min", 0, 10080),
]


def load(apps, schema_editor):
    Measure = apps.get_model("clinic", "Measure")
    for code, system, name, unit, low, high in MEASURES:
        Measure.objects.update_or_create(
            code=code, defaults={"code_system": system, "name": name, "unit": unit, "min_value": low, "max_value": high}
        )


def unload(apps, schema_editor):
    apps.get_model("clinic", "Measure").objects.filter(code__in=[m[0] for m in MEASURES]).delete()


class Migration(migrations.Migration):
    dependencies = [("clinic", "0010_prescriptions_measures_observations")]
    operations = [migrations.RunPython(load, unload)]
