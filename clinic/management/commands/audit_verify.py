from django.core.management.base import BaseCommand, CommandError

from clinic import rls
from clinic.auditchain import verify_chain
from clinic.models import AuditEntry, Clinic


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chains and name the first entry that was edited, deleted or inserted out "
        "of order. Prints each chain's head hash: keep them outside the database to detect a rewritten chain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clinic", metavar="SLUG", help="Check one clinic's chain (default: every chain).")

    def handle(self, clinic=None, **options):
        if clinic:
            found = Clinic.objects.filter(slug=clinic).first()
            if found is None:
                raise CommandError(f"No clinic with slug {clinic!r}.")
            chains = [(found.pk, found.slug)]
        else:
            chains = [*Clinic.objects.order_by("slug").values_list("pk", "slug"), (None, "(no clinic)")]
        broken = 0
        with rls.bypass(reason="manage.py audit_verify"):
            for clinic_id, label in chains:
                if clinic_id is None and not AuditEntry.objects.filter(clinic__isnull=True).exists():
                    continue
                report = verify_chain(clinic_id)
                if report.ok:
                    self.stdout.write(f"{label}: {report.entries} entries intact; head {report.head_hash}")
                else:
                    broken += 1
                    self.stdout.write(f"{label}: BROKEN after {report.entries} entries. {report.problem}")
        if broken:
            raise CommandError(f"{broken} audit chain{'s are' if broken > 1 else ' is'} broken.")
