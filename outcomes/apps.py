from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"

    def ready(self):
        from auditlog.registry import auditlog

        from clinic.models import ClinicalAlert
        from outcomes.models import Assessment, Battery, BatteryItem

        # Who recorded or corrected which assessment, and how batteries changed, go to the audit trail.
        auditlog.register(Assessment, exclude_fields=["updated_at"])
        auditlog.register(Battery)
        auditlog.register(BatteryItem)
        auditlog.register(ClinicalAlert)
