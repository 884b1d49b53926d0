from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


def create_cache_table(using, **kwargs):
    """The database cache's table is not a model, so no migration makes it; `createcachetable` is
    idempotent and runs after every `migrate` (a hook rather than a numbered migration, so it never
    conflicts with other branches' migrations)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


def grant_app_privileges(sender, using, **kwargs):
    from django.conf import settings
    from django.db import connections

    from clinic.dbroles import grant_app_privileges

    grant_app_privileges(connections[using], settings.DATABASE_APP_ROLE)


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key_is_not_the_development_key(app_configs, **kwargs):
    """Django's own check (W009) only warns about weak keys, and ours looks strong; it is public."""
    from django.conf import settings

    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [
            checks.Error(
                "SECRET_KEY is the built-in development key, which anyone can read in clinic/settings.py.",
                hint="Set SECRET_KEY to a long random value of your own.",
                id="medfit.E001",
            )
        ]
    return []


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinics, staff and patients"

    def ready(self):
        # The Celery app must exist before any task is sent; signals connects the audit receivers.
        from clinic import audit, celery, signals  # noqa: F401

        audit.register_audited_models()
        post_migrate.connect(create_cache_table, sender=self)
        # After every migrate (run as the owner), the application role gets the new tables too.
        post_migrate.connect(grant_app_privileges, sender=self)
        from clinic import rls  # noqa: F401  (its connection_created receiver)
