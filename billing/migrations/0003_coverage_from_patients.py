"""The patient's free-text payer, member id and MBI become Payer and Coverage rows (issue 10). The old fields
stay on Patient for now (read by the patient form and API); Coverage is what claims read."""

from django.db import migrations

KIND_WORDS = [
    ("medicare advantage", "medicare_advantage"),
    ("medicare", "medicare"),
    ("medicaid", "medicaid"),
    ("self", "self_pay"),
    ("grant", "grant"),
    ("employer", "employer"),
]


def kind_of(name: str) -> str:
    lowered = name.lower()
    return next((kind for word, kind in KIND_WORDS if word in lowered), "commercial")


def migrate(apps, schema_editor):
    Patient = apps.get_model("clinic", "Patient")
    Payer = apps.get_model("billing", "Payer")
    Coverage = apps.get_model("billing", "Coverage")
    patients = Patient.objects.exclude(primary_payer="", mbi="").order_by("pk")
    for patient in patients.iterator():
        starts_on = patient.created_at.date()
        priority = 1
        name = patient.primary_payer.strip()
        if name:
            payer, _ = Payer.objects.get_or_create(clinic_id=patient.clinic_id, name=name[:100], defaults={"kind": kind_of(name)})
            member_id = patient.mbi if payer.kind == "medicare" and patient.mbi else patient.payer_member_id
            Coverage.objects.create(
                clinic_id=patient.clinic_id, patient=patient, payer=payer, member_id=member_id, starts_on=starts_on,
                priority=priority,
            )
            priority += 1
            if payer.kind == "medicare":
                continue
        if patient.mbi:
            medicare, _ = Payer.objects.get_or_create(
                clinic_id=patient.clinic_id, name="Medicare", defaults={"kind": "medicare"}
            )
            Coverage.objects.create(
                clinic_id=patient.clinic_id, patient=patient, payer=medicare, member_id=patient.mbi,
                starts_on=starts_on, priority=priority,
            )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_billing_rules"), ("clinic", "0019_billing_flags")]

    operations = [migrations.RunPython(migrate, migrations.RunPython.noop)]
