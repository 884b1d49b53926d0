import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import AuditCheckpoint, AuditEntry, Clinic

# HIPAA asks for six years of documentation (45 CFR 164.316(b)(2)); keep the trail at least that long.
MINIMUM_YEARS = 6


class Command(BaseCommand):
    help = (
        "Remove audit entries older than a date, the only way entries are ever removed. Run as the database "
        "owner (MEDFIT_DB_ROLE=owner); each chain keeps a checkpoint so audit_verify still checks what is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, type=datetime.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--clinic", metavar="SLUG", help="One clinic only (default: every clinic).")
        parser.add_argument("--yes", action="store_true", help="Really remove them.")

    def handle(self, before, clinic=None, yes=False, **options):
        cutoff = timezone.make_aware(datetime.datetime.combine(before, datetime.time.min))
        if cutoff > timezone.now() - datetime.timedelta(days=365 * MINIMUM_YEARS + 2):
            raise CommandError(f"Audit entries are kept at least {MINIMUM_YEARS} years; choose an earlier date.")
        clinics = Clinic.objects.filter(slug=clinic) if clinic else Clinic.objects.all()
        chains = list(clinics.values_list("pk", flat=True)) + ([] if clinic else [None])
        total = 0
        with transaction.atomic():
            with connection.cursor() as cursor:  # the append-only trigger lets this transaction through
                cursor.execute("SELECT set_config('medfit.audit_maintenance', 'on', true)")
            for clinic_id in chains:
                old = AuditEntry.objects.filter(clinic_id=clinic_id, timestamp__lt=cutoff)
                last = old.order_by("-chain_seq").first()
                if last is None:
                    continue
                # The chain resumes after the last removed entry; older checkpoints become redundant.
                count = AuditEntry.objects.filter(clinic_id=clinic_id, chain_seq__lte=last.chain_seq).count()
                AuditCheckpoint.objects.create(
                    clinic_id=clinic_id, chain_seq=last.chain_seq, entry_hash=last.entry_hash,
                    removed_before=cutoff, removed_count=count,
                )  # fmt: skip
                if yes:
                    AuditEntry.objects.filter(clinic_id=clinic_id, chain_seq__lte=last.chain_seq).delete()
                total += count
            if not yes:
                transaction.set_rollback(True)
        verb = "Removed" if yes else "Would remove (run again with --yes)"
        self.stdout.write(f"{verb} {total} audit entries written before {before}.")
