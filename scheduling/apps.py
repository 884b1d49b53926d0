from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self):
        from scheduling import audit, floorsheet, services

        audit.register_audited_models()
        floorsheet.register_audited_models()
        services.connect_events()
