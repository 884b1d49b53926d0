from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clinic import rls, services
from clinic.models import Role, User


class Command(BaseCommand):
    help = "Create a clinic (tenant) and its first administrator."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--admin-email", required=True, help="Invited as the clinic's first administrator.")
        parser.add_argument("--timezone", default="America/New_York")

    def handle(self, slug, name, admin_email, timezone, **options):
        try:
            with transaction.atomic():
                clinic = services.clinic_create(name=name, slug=slug, timezone=timezone)
                inviter = User.objects.filter(is_superuser=True).order_by("pk").first()
                if inviter is None:
                    raise CommandError(
                        "Create a superuser first (manage.py createsuperuser): invitations name an inviter."
                    )
                # Row-level security: this command writes in the new clinic only.
                with rls.scoped(rls.clinic_scope(clinic.pk)):
                    _, raw = services.invitation_create(
                        clinic=clinic, actor=inviter, email=admin_email, roles=[Role.ADMIN]
                    )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Created {clinic.name} ({clinic.slug}). Invitation link for {admin_email}:")
        self.stdout.write(services.invitation_url(raw))
