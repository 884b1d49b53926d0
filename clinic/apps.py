from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinics, staff and patients"

    def ready(self):
        # The Celery app must exist before any task is sent; signals connects the audit receivers.
        from clinic import audit, celery, signals  # noqa: F401

        audit.register_audited_models()
