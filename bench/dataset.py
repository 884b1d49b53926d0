"""The benchmark data set: two clinics of different sizes with realistic, reproducible patients
and referrals.

Names are drawn from Faker's en_US first- and last-name lists *with their real frequencies*
(Smith is about 2% of last names), so prefix searches hit realistic numbers of rows. A fixed seed
makes every build identical (referral dates are relative to the moment of the build, so that the
"overdue" tab has rows).
"""

import datetime
import random
import time

from django.db import connection, transaction
from django.utils import timezone
from faker.providers.person.en_US import Provider as Names
from stdnum import luhn

from clinic.models import Clinic, Enrollment, Membership, Patient, PatientPhysician, Program, Role, User
from referrals.models import Referral, ReferralStatusChange, ReferringProvider
from referrals.selectors import OVERDUE_BUSINESS_DAYS, business_days_before
from referrals.services import headline_default

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


def clinic_size(slug: str) -> tuple[int, int] | None:
    """(patients, referrals) in the bench clinic `slug`, or None when the clinic does not exist."""
    clinic = Clinic.objects.filter(slug=slug).first()
    if clinic is None:
        return None
    return Patient.objects.filter(clinic=clinic).count(), Referral.objects.filter(clinic=clinic).count()


def build_clinic(slug: str, size: int, referrals: int, seed: int) -> Clinic:
    """One clinic, one member per role, `size` patients, ~2% of them linked to the physician, and
    `referrals` referrals from ~50 referring providers (one of them the physician member)."""
    rng = random.Random(f"{seed}-{slug}")
    started = time.perf_counter()
    print(f"Building clinic {slug} with {size:,} patients and {referrals:,} referrals…", flush=True)
    with transaction.atomic():
        # No MFA requirement: the benchmark signs in with force_login, without an authenticator.
        name = f"Bench {slug.removeprefix('bench-').title()}"
        clinic = Clinic.objects.create(name=name, slug=slug, mfa_required=False)
        members = {role: add_member(clinic, role) for role in Role.values}
        insert_patients(clinic, size, rng)
        links = link_physician(clinic, members[Role.PHYSICIAN], rng)
        made = insert_referrals(clinic, referrals, members[Role.PHYSICIAN], random.Random(f"{seed}-{slug}-referrals"))
    seconds = time.perf_counter() - started
    print(
        f"  {slug}: {size:,} patients, {links:,} physician links, {made['referrals']:,} referrals"
        f" ({made['physician']:,} by the physician, {made['overdue']:,} overdue), {made['enrollments']:,}"
        f" enrollments, {made['changes']:,} status changes in {seconds:.1f} s",
        flush=True,
    )
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


# --- Referrals -----------------------------------------------------------------------------------

PROVIDERS_PER_CLINIC = 50
PHYSICIAN_REFERRAL_SHARE = 0.30
RECENT_DAYS = 14  # referrals younger than this are mostly still open; older ones mostly closed
# (name, program_type, share of referrals)
PROGRAMS = [
    ("Phase II Cardiac Rehab", "cr", 45), ("Intensive Cardiac Rehab", "icr", 5), ("Pulmonary Rehab", "pr", 25),
    ("National Diabetes Prevention Program", "dpp", 15), ("Medicare Diabetes Prevention Program", "mdpp", 10),
]  # fmt: skip
CONDITIONS = {
    "cr": ["mi", "cabg", "pci", "stable_angina", "valve", "heart_failure"],
    "icr": ["mi", "cabg", "pci", "heart_failure"],
    "pr": ["copd", "copd", "copd", "post_covid"],
    "dpp": ["prediabetes"],
    "mdpp": ["prediabetes"],
}
DIAGNOSES = {
    "mi": "I21.4", "cabg": "Z95.1", "pci": "Z95.5", "stable_angina": "I20.8", "valve": "Z95.2",
    "heart_failure": "I50.22", "copd": "J44.9", "post_covid": "U09.9", "prediabetes": "R73.03",
}  # fmt: skip
SPECIALTIES = ["Cardiology", "Cardiology", "Pulmonology", "Internal Medicine", "Family Medicine", "Endocrinology"]
# Status shares of recent and of older referrals (received, in_review, accepted, declined, unable_to_contact).
STATUSES = list(Referral.Status.values)
RECENT_WEIGHTS = [40, 30, 20, 5, 5]
OLDER_WEIGHTS = [2, 3, 60, 15, 20]


def npi(rng: random.Random) -> str:
    """A valid NPI: 9 digits and the Luhn check digit computed with the prefix 80840."""
    body = f"{rng.randint(1, 2)}{rng.randrange(10**8):08d}"
    return body + luhn.calc_check_digit("80840" + body)


def add_programs(clinic: Clinic) -> list[Program]:
    return Program.objects.bulk_create(
        [
            Program(clinic=clinic, name=name, program_type=kind, headline_measure=headline_default(kind))
            for name, kind, _ in PROGRAMS
        ]
    )


def add_providers(clinic: Clinic, physician: Membership, rng: random.Random) -> list[ReferringProvider]:
    """~50 referring providers; the first is the physician member (so the portal shows their referrals)."""
    npis = set()
    while len(npis) < PROVIDERS_PER_CLINIC:
        npis.add(npi(rng))
    npis = sorted(npis)
    providers = [
        ReferringProvider(
            clinic=clinic, membership=physician, first_name=physician.user.first_name,
            last_name=physician.user.last_name, credentials="MD", npi=npis[0], specialty="Cardiology",
        )
    ]  # fmt: skip
    for number in range(1, PROVIDERS_PER_CLINIC):
        female = rng.random() < 0.5
        first = rng.choices(*((FEMALE_NAMES, FEMALE_WEIGHTS) if female else (MALE_NAMES, MALE_WEIGHTS)))[0]
        last = rng.choices(LAST_NAMES, weights=LAST_WEIGHTS)[0]
        providers.append(
            ReferringProvider(
                clinic=clinic, first_name=first, last_name=last,
                credentials=rng.choices(["MD", "DO", "NP", "PA"], weights=[70, 10, 12, 8])[0], npi=npis[number],
                specialty=rng.choice(SPECIALTIES),
                practice_name=f"{last} {rng.choice(['Heart', 'Lung', 'Family'])} Associates",
                phone=f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
                fax=f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}",
            )
        )  # fmt: skip
    return ReferringProvider.objects.bulk_create(providers)


def insert_referrals(clinic: Clinic, count: int, physician: Membership, rng: random.Random) -> dict[str, int]:
    """`count` referrals over the past year, every status, each copied from and linked to a patient;
    ~30% sent by the physician member's provider. Accepted ones have their enrollment; every
    referral has its status history."""
    made = {"referrals": 0, "physician": 0, "overdue": 0, "enrollments": 0, "changes": 0}
    if count < 1:
        return made
    programs = add_programs(clinic)
    program_weights = [share for _, _, share in PROGRAMS]
    providers = add_providers(clinic, physician, rng)
    own, others = providers[0], providers[1:]
    patients = list(
        Patient.objects.filter(clinic=clinic).order_by("id")
        .values_list("id", "mrn", "first_name", "last_name", "date_of_birth", "sex", "phone", "email")
    )  # fmt: skip
    built_at = timezone.now()
    cutoff = business_days_before(built_at, OVERDUE_BUSINESS_DAYS)
    # Oldest first, as they would have arrived: ids then follow created_at like in production.
    ages = sorted((rng.uniform(0, 365) for _ in range(count)), reverse=True)
    for start in range(0, count, BATCH_SIZE):
        referrals, enrollments, histories = [], [], []
        for age_days in ages[start : start + BATCH_SIZE]:
            patient = rng.choice(patients)
            program = rng.choices(programs, weights=program_weights)[0]
            provider = own if rng.random() < PHYSICIAN_REFERRAL_SHARE else rng.choice(others)
            referral, history = new_referral(clinic, patient, program, provider, built_at, age_days, rng)
            enrollment = None
            if referral.status == Referral.Status.ACCEPTED:
                enrollment = new_enrollment(clinic, referral, built_at)
            referrals.append(referral)
            enrollments.append(enrollment)
            histories.append(history)
            made["physician"] += provider is own
            made["overdue"] += referral.is_open and referral.last_action_at < cutoff
        Enrollment.objects.bulk_create([e for e in enrollments if e is not None], batch_size=BATCH_SIZE)
        for referral, enrollment in zip(referrals, enrollments, strict=True):
            referral.enrollment = enrollment
        Referral.objects.bulk_create(referrals, batch_size=BATCH_SIZE)
        changes = [
            ReferralStatusChange(clinic=clinic, referral=referral, from_status=before, to_status=after, changed_at=at)
            for referral, history in zip(referrals, histories, strict=True)
            for before, after, at in history
        ]
        ReferralStatusChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
        made["referrals"] += len(referrals)
        made["enrollments"] += sum(e is not None for e in enrollments)
        made["changes"] += len(changes)
        print(f"  {clinic.slug}: {made['referrals']:,} / {count:,} referrals", flush=True)
    # What referral_create does for a physician member: they may now see the patients they referred.
    physician_patients = set(
        Referral.objects.filter(clinic=clinic, referring_provider=own).values_list("patient_id", flat=True)
    )
    PatientPhysician.objects.bulk_create(
        [
            PatientPhysician(clinic=clinic, patient_id=pid, physician=physician,
                             relationship=PatientPhysician.Relationship.REFERRING)
            for pid in sorted(physician_patients)
        ],
        batch_size=BATCH_SIZE, ignore_conflicts=True,
    )  # fmt: skip
    return made


def new_referral(clinic, patient, program, provider, built_at, age_days, rng) -> tuple[Referral, list]:
    pid, mrn, first, last, dob, sex, phone, email = patient
    created = built_at - datetime.timedelta(days=age_days)
    status = rng.choices(STATUSES, weights=RECENT_WEIGHTS if age_days < RECENT_DAYS else OLDER_WEIGHTS)[0]
    # The last action: none yet for a received referral, else some time after it arrived (within a month).
    if status == Referral.Status.RECEIVED:
        last_action = created
    else:
        last_action = created + datetime.timedelta(days=rng.uniform(0, min(age_days, 30)))
    history = [("", Referral.Status.RECEIVED, created)]
    if status in (Referral.Status.IN_REVIEW, Referral.Status.ACCEPTED, Referral.Status.DECLINED):
        review_at = created + (last_action - created) / 2 if status != Referral.Status.IN_REVIEW else last_action
        history.append((Referral.Status.RECEIVED, Referral.Status.IN_REVIEW, review_at))
    if status not in (Referral.Status.RECEIVED, Referral.Status.IN_REVIEW):
        history.append((history[-1][1], status, last_action))
    condition = rng.choice(CONDITIONS[program.program_type])
    urgent = rng.random() < 0.1
    source = (
        Referral.Source.PORTAL if provider.membership_id and rng.random() < 0.7
        else rng.choices([Referral.Source.STAFF, Referral.Source.FHIR], weights=[70, 30])[0]
    )  # fmt: skip
    referral = Referral(
        clinic=clinic, status=status, source=source, referring_provider=provider, program=program,
        urgency=Referral.Urgency.URGENT if urgent else Referral.Urgency.ROUTINE,
        referral_date=timezone.localdate(created), reason=f"{Referral.Condition(condition).label}; please evaluate.",
        diagnosis_codes=[DIAGNOSES[condition]], patient_id=pid, patient_mrn=mrn, patient_first_name=first,
        patient_last_name=last, patient_date_of_birth=dob, patient_sex=sex, patient_phone=phone,
        patient_email=email, qualifying_condition=condition,
        qualifying_event_date=timezone.localdate(created) - datetime.timedelta(days=rng.randint(3, 60)),
        cleared_for_exercise=True if status == Referral.Status.ACCEPTED else rng.choice([True, None]),
        beta_blocker=program.program_type in ("cr", "icr") and rng.random() < 0.6,
        status_reason="Patient chose another program." if status == Referral.Status.DECLINED else "",
        created_at=created, last_action_at=last_action,
    )  # fmt: skip
    if condition == "prediabetes":
        referral.a1c_percent = rng.choice(["5.7", "5.9", "6.1", "6.3"])
        referral.bmi = f"{rng.uniform(25, 40):.1f}"
        referral.lab_test_date = referral.referral_date - datetime.timedelta(days=rng.randint(5, 200))
    elif condition == "copd":
        referral.gold_stage = rng.randint(2, 4)
        referral.fev1_fvc_ratio = f"{rng.uniform(0.4, 0.69):.2f}"
    elif condition == "heart_failure":
        referral.lvef_percent, referral.nyha_class, referral.hf_optimal_therapy_weeks = rng.randint(20, 35), 2, 8
    return referral, history


def new_enrollment(clinic: Clinic, referral: Referral, built_at) -> Enrollment:
    start = timezone.localdate(referral.last_action_at) + datetime.timedelta(days=7)
    weeks_in = (timezone.localdate(built_at) - start).days / 7
    if weeks_in >= 12:
        status, ended = Enrollment.Status.COMPLETED, start + datetime.timedelta(weeks=12)
    elif weeks_in >= 0:
        status, ended = Enrollment.Status.ACTIVE, None
    else:
        status, ended = Enrollment.Status.ENROLLED, None
    return Enrollment(
        clinic=clinic, patient_id=referral.patient_id, program=referral.program, status=status, start_date=start,
        first_session_at=(timezone.make_aware(datetime.datetime.combine(start, datetime.time(9))) if weeks_in >= 0
                          else None),
        ended_on=ended, created_at=referral.last_action_at,
    )  # fmt: skip


def analyze() -> None:
    """VACUUM ANALYZE the tables the pages read: fresh statistics and visibility map, as autovacuum
    would leave them on a production server."""
    print("VACUUM ANALYZE…", flush=True)
    tables = (
        Patient, PatientPhysician, Membership, Clinic, User,
        Program, ReferringProvider, Referral, ReferralStatusChange, Enrollment,
    )  # fmt: skip
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
