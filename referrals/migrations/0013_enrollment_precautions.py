"""Enrollments made before precautions lived on them take them from their referral."""

from django.db import migrations

DIABETES_CODE_PREFIXES = ("E08", "E09", "E10", "E11", "E13")


def copy_precautions(apps, schema_editor):
    Referral = apps.get_model("referrals", "Referral")
    # Migrations connect as the owner with row-level security bypassed (settings.DATABASES).
    for referral in Referral.objects.filter(enrollment__isnull=False).select_related("enrollment"):
        enrollment = referral.enrollment
        enrollment.beta_blocker = referral.beta_blocker
        enrollment.supplemental_oxygen = referral.supplemental_oxygen
        enrollment.hr_ceiling = referral.target_hr_ceiling
        enrollment.has_diabetes = bool(referral.diabetes_diagnosis) or any(
            code.upper().startswith(DIABETES_CODE_PREFIXES) for code in referral.diagnosis_codes
        )
        enrollment.precaution_notes = "\n".join(
            text.strip()
            for text in (
                referral.contraindications, referral.weight_bearing_restrictions,
                referral.range_of_motion_restrictions, referral.precaution_notes,
            )
            if text and text.strip()
        )  # fmt: skip
        enrollment.save()


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0012_icd10_names_the_code"),
        ("clinic", "0010_prescriptions_measures_observations"),
    ]
    operations = [migrations.RunPython(copy_precautions, migrations.RunPython.noop)]
