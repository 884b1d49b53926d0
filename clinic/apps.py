from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinics, staff and patients"

    def ready(self):
        from clinic import audit, signals  # noqa: F401  (connects the account-event receivers)

        audit.register_audited_models()
