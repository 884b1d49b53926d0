"""Demo data: two clinics, one user per role in each, and about 60 patients per clinic."""

import datetime
import random

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string
from faker import Faker

from clinic import rls
from clinic.models import Clinic, Membership, Patient, Role, User

DEMO_PASSWORD = "medfit-demo"  # noqa: S105  (documented demo login; the command refuses to run in production)
PATIENTS_PER_CLINIC = 60

DEMO_CLINICS = [
    {
        "slug": "riverside",
        "name": "Riverside Heart & Lung Rehabilitation",
        "timezone": "America/New_York",
        "phone": "(555) 201-4400",
        "address": "1200 Riverside Drive, Suite 300, Columbus, OH 43215",
        "mrn_prefix": "RS",
        "payers": ["Medicare Part B", "Medicare Advantage (Humana)", "Anthem BCBS", "Aetna", "Self-pay"],
    },
    {
        "slug": "northside",
        "name": "Northside Medical Fitness & Diabetes Prevention",
        "timezone": "America/Chicago",
        "phone": "(555) 310-7788",
        "address": "45 North Avenue, Evanston, IL 60201",
        "mrn_prefix": "NS",
        "payers": ["Medicare Part B", "UnitedHealthcare", "Employer wellness plan", "Self-pay", "Cigna"],
    },
]

FIRST_NAMES = {"admin": ("Alex", "Morgan"), "physiologist": ("Priya", "Shah"), "physician": ("Daniel", "Okafor"),
               "billing": ("Rosa", "Delgado")}  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo clinics, users and patients (idempotent). Refuses to run with DEBUG off unless --force."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with a published password; use --force to run it anyway.")
        for spec in DEMO_CLINICS:
            with transaction.atomic(), rls.bypass(reason="manage.py seed_demo"):
                clinic = self.seed_clinic(spec)
                created = self.seed_patients(clinic, spec)
                # Each app adds its own demo data (settings.DEMO_SEEDERS), so this command needs no
                # import of the apps that build on clinic/.
                for seeder in settings.DEMO_SEEDERS:
                    import_string(seeder)(clinic)
            self.stdout.write(f"{clinic.name}: {created} new patients")
        self.stdout.write("Demo logins (password medfit-demo): <role>@<clinic>.example")

    def seed_clinic(self, spec) -> Clinic:
        clinic, _ = Clinic.objects.get_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"], "timezone": spec["timezone"], "phone": spec["phone"],
                "address": spec["address"], "mfa_required": False,
            },
        )  # fmt: skip
        for role in Role.values:
            email = f"{role}@{clinic.slug}.example"
            user = User.objects.filter(email=email).first()
            if user is None:
                first, last = FIRST_NAMES[role]
                user = User.objects.create_user(email, DEMO_PASSWORD, first_name=first, last_name=last)
            Membership.objects.get_or_create(clinic=clinic, user=user, defaults={"roles": [role]})
        return clinic

    def seed_patients(self, clinic, spec) -> int:
        fake = Faker("en_US")
        fake.seed_instance(clinic.slug)
        rng = random.Random(clinic.slug)
        existing = set(Patient.objects.filter(clinic=clinic).values_list("mrn", flat=True))
        created = 0
        for number in range(1, PATIENTS_PER_CLINIC + 1):
            sex = rng.choice(["F", "M"])
            first = fake.first_name_female() if sex == "F" else fake.first_name_male()
            last = fake.last_name()
            mrn = f"{spec['mrn_prefix']}{100000 + number * 37}"
            payer = rng.choice(spec["payers"])
            dob = fake.date_of_birth(minimum_age=38, maximum_age=88)
            if mrn in existing:
                continue
            Patient.objects.create(
                clinic=clinic, mrn=mrn, first_name=first, last_name=last, date_of_birth=dob, sex=sex,
                preferred_language=rng.choices(["English", "Spanish", "Polish", "Vietnamese"], [85, 10, 3, 2])[0],
                phone=fake.numerify("(555) ###-####"), email=f"{first}.{last}@example.com".lower(),
                address_line1=fake.street_address(), city=fake.city(), state=fake.state_abbr(),
                postal_code=fake.zipcode(), emergency_contact_name=fake.name(),
                emergency_contact_phone=fake.numerify("(555) ###-####"), primary_payer=payer,
                payer_member_id=fake.bothify("???#########").upper() if payer != "Self-pay" else "",
                mbi=fake_mbi(rng) if payer.startswith("Medicare") else "",
                consent_to_treatment=True,
                consent_date=datetime.date.today() - datetime.timedelta(days=rng.randint(5, 400)),
                email_opt_in=rng.random() < 0.6, sms_opt_in=rng.random() < 0.5,
                status=Patient.Status.ACTIVE if rng.random() < 0.9 else Patient.Status.INACTIVE,
            )  # fmt: skip
            created += 1
        return created


MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"


def fake_mbi(rng: random.Random) -> str:
    """A random identifier in the MBI format (not a real beneficiary's)."""
    digit, letter = "0123456789", MBI_LETTERS
    pattern = [
        digit[1:],
        letter,
        letter + digit,
        digit,
        letter,
        letter + digit,
        digit,
        letter,
        letter,
        digit,
        digit,
    ]
    return "".join(rng.choice(chars) for chars in pattern)
