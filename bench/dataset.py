"""The benchmark data set: two clinics of different sizes with realistic, reproducible patients.

Names are drawn from Faker's en_US first- and last-name lists *with their real frequencies*
(Smith is about 2% of last names), so prefix searches hit realistic numbers of rows. A fixed seed
makes every build identical.
"""

import datetime
import random
import time

from django.db import connection, transaction
from faker.providers.person.en_US import Provider as Names

from clinic.models import Clinic, Membership, Patient, PatientPhysician, Role, User

BATCH_SIZE = 5_000
PHYSICIAN_SHARE = 0.02
DOB_FIRST = datetime.date(1930, 1, 1)
DOB_DAYS = (datetime.date(1990, 12, 31) - DOB_FIRST).days + 1

LAST_NAMES, LAST_WEIGHTS = list(Names.last_names), list(Names.last_names.values())
FEMALE_NAMES, FEMALE_WEIGHTS = list(Names.first_names_female), list(Names.first_names_female.values())
MALE_NAMES, MALE_WEIGHTS = list(Names.first_names_male), list(Names.first_names_male.values())
CITIES = [
    ("Columbus", "OH"), ("Dayton", "OH"), ("Pittsburgh", "PA"), ("Erie", "PA"), ("Louisville", "KY"),
    ("Indianapolis", "IN"), ("Ann Arbor", "MI"), ("Grand Rapids", "MI"), ("Madison", "WI"), ("Rochester", "MN"),
]  # fmt: skip
PAYERS = ["Medicare", "Medicare", "Medicare", "Aetna", "Blue Cross Blue Shield", "UnitedHealthcare", "Cigna",
          "Humana", "Medicaid", ""]  # fmt: skip
LANGUAGES = ["English"] * 18 + ["Spanish", "Vietnamese"]


def clinic_size(slug: str) -> int | None:
    """Patients in the bench clinic `slug`, or None when the clinic does not exist."""
    clinic = Clinic.objects.filter(slug=slug).first()
    return None if clinic is None else Patient.objects.filter(clinic=clinic).count()


def build_clinic(slug: str, size: int, seed: int) -> Clinic:
    """One clinic, one member per role, `size` patients, ~2% of them linked to the physician."""
    rng = random.Random(f"{seed}-{slug}")
    started = time.perf_counter()
    print(f"Building clinic {slug} with {size:,} patients…", flush=True)
    with transaction.atomic():
        # No MFA requirement: the benchmark signs in with force_login, without an authenticator.
        name = f"Bench {slug.removeprefix('bench-').title()}"
        clinic = Clinic.objects.create(name=name, slug=slug, mfa_required=False)
        members = {role: add_member(clinic, role) for role in Role.values}
        insert_patients(clinic, size, rng)
        links = link_physician(clinic, members[Role.PHYSICIAN], rng)
    seconds = time.perf_counter() - started
    print(f"  {slug}: {size:,} patients, {links:,} physician links in {seconds:.1f} s", flush=True)
    return clinic


def add_member(clinic: Clinic, role: str) -> Membership:
    user = User.objects.create_user(f"{role}@{clinic.slug}.bench", first_name=role.title(), last_name="Bench")
    return Membership.objects.create(clinic=clinic, user=user, roles=[role])


def insert_patients(clinic: Clinic, size: int, rng: random.Random) -> None:
    mrns = rng.sample(range(10_000_000, 100_000_000), size)  # unique 8-digit MRNs
    for start in range(0, size, BATCH_SIZE):
        batch = [new_patient(clinic, str(mrn), rng) for mrn in mrns[start : start + BATCH_SIZE]]
        Patient.objects.bulk_create(batch, batch_size=BATCH_SIZE)
        print(f"  {clinic.slug}: {start + len(batch):,} / {size:,} patients", flush=True)


def new_patient(clinic: Clinic, mrn: str, rng: random.Random) -> Patient:
    sex = rng.choices("FMXU", weights=[50, 48, 1, 1])[0]
    if sex == "F" or (sex in "XU" and rng.random() < 0.5):
        first = rng.choices(FEMALE_NAMES, weights=FEMALE_WEIGHTS)[0]
    else:
        first = rng.choices(MALE_NAMES, weights=MALE_WEIGHTS)[0]
    last = rng.choices(LAST_NAMES, weights=LAST_WEIGHTS)[0]
    city, state = rng.choice(CITIES)
    consent = rng.random() < 0.95
    return Patient(
        clinic=clinic,
        mrn=mrn,
        first_name=first,
        last_name=last,
        date_of_birth=DOB_FIRST + datetime.timedelta(days=rng.randrange(DOB_DAYS)),
        sex=sex,
        preferred_language=rng.choice(LANGUAGES),
        phone=f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
        email=f"{first}.{last}{rng.randint(1, 999)}@example.com".lower() if rng.random() < 0.6 else "",
        address_line1=f"{rng.randint(1, 9999)} {rng.choice(LAST_NAMES)} {rng.choice(['St', 'Ave', 'Rd', 'Ln'])}",
        city=city,
        state=state,
        postal_code=f"{rng.randint(10000, 99999)}",
        primary_payer=rng.choice(PAYERS),
        consent_to_treatment=consent,
        consent_date=datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(600)) if consent else None,
        status=Patient.Status.ACTIVE if rng.random() < 0.85 else Patient.Status.INACTIVE,
    )


def link_physician(clinic: Clinic, physician: Membership, rng: random.Random) -> int:
    ids = list(Patient.objects.filter(clinic=clinic).order_by("id").values_list("id", flat=True))
    chosen = rng.sample(ids, max(1, round(len(ids) * PHYSICIAN_SHARE))) if ids else []
    referring = PatientPhysician.Relationship.REFERRING
    links = [
        PatientPhysician(clinic=clinic, patient_id=pid, physician=physician, relationship=referring) for pid in chosen
    ]
    PatientPhysician.objects.bulk_create(links, batch_size=BATCH_SIZE)
    return len(chosen)


def analyze() -> None:
    """VACUUM ANALYZE the tables the pages read: fresh statistics and visibility map, as autovacuum
    would leave them on a production server."""
    print("VACUUM ANALYZE…", flush=True)
    with connection.cursor() as cursor:
        for model in (Patient, PatientPhysician, Membership, Clinic, User):
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
