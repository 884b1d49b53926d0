"""Benchmark of claim-line derivation (billing/claims.py): 10,000 cardiac rehab patients × 36 sessions.

What it measures
    A clinic of its own, bench-claims: 10,000 patients, each with one CR enrollment, an accepted referral,
    Medicare coverage, and three treatment plans signed 30 days apart (covering every session), and 36 attended,
    ECG-monitored, timed sessions over twelve weeks (classes of 20, three a week, with a supervising
    practitioner who has an NPI); a fee for 93797 and 93798. Built with INSERT … SELECT generate_series as the
    owner (bench/dashboard.py's way), then reused while its sizes match.

    In the clinic's row-level-security scope, as the nightly task runs it, after a warm-up:
      - reference: the derivation's input read raw, one SELECT of the clinic's attended sessions with their
        class through a cursor (what any derivation must at least read), so the ratio is what the rules, the
        other inputs and the writes add
      - first derivation: `claim_lines_derive(clinic=…)` with no lines yet (the lines are deleted, untimed,
        before each run): 360,000 lines computed and inserted
      - re-derivation: the same call when every line is already there and unchanged (the nightly run)
    Each is run N times; the median, the query count of each derivation, and the ratio to the reference are
    printed. Target (issue 10): < 10 s for the first derivation.

How to run
    make bench BENCH_ARGS="--claims-only"
    make bench BENCH_ARGS="--claims-only --claims-patients 1000"
"""

import json
import re
import statistics
import time
from pathlib import Path

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

SLUG = "bench-claims"
PATIENTS, SESSIONS_EACH, CLASS_SIZE = 10_000, 36, 20
TARGET_S = 10.0
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "claims.json"

# %(name)s are the build's parameters; a bare % is SQL's modulo (escaped before execution).
BUILD_SQL = [
    """INSERT INTO clinic_patient (clinic_id, mrn, first_name, last_name, date_of_birth, sex, preferred_language,
        phone, email, address_line1, address_line2, city, state, postal_code, emergency_contact_name,
        emergency_contact_phone, primary_payer, payer_member_id, mbi, consent_to_treatment, email_opt_in, sms_opt_in,
        status, created_at, updated_at)
    SELECT %(clinic)s, 'C' || lpad(i::text, 7, '0'), 'Pat' || i, 'Claims' || (i % 997), DATE '1940-01-01' + (i % 9000),
        CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 'English', '', '', '', '', '', '', '', '', '', 'Medicare', '', '',
        true, false, false, 'active', now(), now()
    FROM generate_series(1, %(patients)s) AS i""",
    # One CR enrollment per patient, all starting on the same day 120 days ago (the sessions are in the past).
    """INSERT INTO clinic_enrollment (clinic_id, patient_id, program_id, status, start_date, first_session_at, ended_on,
        discharge_reason, beta_blocker, supplemental_oxygen, has_diabetes, precaution_notes, created_at)
    SELECT %(clinic)s, p.id, %(program)s, 'active', %(start)s, (%(start)s + TIME '09:00') AT TIME ZONE %(tz)s, NULL,
        '', false, false, false, '', now()
    FROM clinic_patient p WHERE p.clinic_id = %(clinic)s""",
    """INSERT INTO referrals_referral (clinic_id, status, source, urgency, referral_date, reason, diagnosis_codes,
        possible_duplicate, patient_id, patient_mrn, patient_first_name, patient_last_name, patient_date_of_birth,
        patient_sex, patient_phone, patient_email, qualifying_condition, asian_american, lab_self_reported,
        contraindications, beta_blocker, supplemental_oxygen, weight_bearing_restrictions, range_of_motion_restrictions,
        precaution_notes, eligibility_override_reason, status_reason, created_at, last_action_at, program_id,
        referring_provider_id, external_identifier, enrollment_id)
    SELECT %(clinic)s, 'accepted', 'staff', 'routine', e.start_date - 10, '', '{I21.4}', false, e.patient_id, '',
        'Pat', 'Claims', DATE '1950-01-01', 'U', '', '', 'mi', false, false, '', false, false, '', '', '', '', '',
        now(), now(), e.program_id, %(provider)s, '', e.id
    FROM clinic_enrollment e WHERE e.clinic_id = %(clinic)s""",
    """INSERT INTO billing_coverage (clinic_id, patient_id, payer_id, member_id, starts_on, priority, created_at)
    SELECT %(clinic)s, p.id, %(payer)s, '1EG4TE5MK73', DATE '2020-01-01', 1, now()
    FROM clinic_patient p WHERE p.clinic_id = %(clinic)s""",
    # Three signed plans per enrollment, the day before the start and every 30 days: every session is covered.
    """INSERT INTO clinic_treatmentplan (clinic_id, enrollment_id, version, diagnosis, goals, diagnosis_codes,
        drafted_by_id, signed_at, signed_by_id, signature_meaning, signature_method, signer_name, signer_credential,
        created_at, updated_at)
    SELECT %(clinic)s, e.id, v, 'Acute MI', 'Return to work', '{I21.4}', %(physiologist)s,
        (e.start_date - 1 + 30 * (v - 1) + TIME '12:00') AT TIME ZONE %(tz)s, %(physician)s,
        'I have reviewed and approve this plan.', 'password', 'Doc Bench', 'MD', now(), now()
    FROM clinic_enrollment e CROSS JOIN generate_series(1, 3) AS v WHERE e.clinic_id = %(clinic)s""",
    # Classes: one per group of 20 patients and session number k, Monday, Wednesday and Friday for twelve weeks.
    """INSERT INTO scheduling_occurrence (clinic_id, program_id, name, starts_at, ends_at, room, capacity, booked_count,
        staff_id, supervising_practitioner_id, status, cancel_reason, created_at)
    SELECT %(clinic)s, %(program)s, 'CR ' || g || '/' || k, t.at, t.at + interval '1 hour', 'Gym', 24, 20,
        %(physiologist)s, %(physiologist)s, 'scheduled', '', now()
    FROM generate_series(0, %(groups)s - 1) AS g CROSS JOIN generate_series(0, %(sessions)s - 1) AS k
    CROSS JOIN LATERAL (SELECT (%(start)s + 7 * (k / 3) + 2 * (k % 3) + TIME '07:00' + (g % 10) * interval '1 hour')
                               AT TIME ZONE %(tz)s AS at) AS t
    ORDER BY g, k""",
    # Each patient's 36 bookings: the classes of their group (patient n is in group n / 20; the classes were
    # inserted in order of group and session, so class n belongs to group n / 36).
    """INSERT INTO scheduling_booking (clinic_id, occurrence_id, enrollment_id, patient_id, status, is_makeup,
        booked_by_id, booked_at, cancel_reason)
    SELECT %(clinic)s, o.id, e.id, e.patient_id, 'booked', false, %(physiologist)s, o.starts_at - interval '7 days', ''
    FROM (SELECT id, patient_id, row_number() OVER (ORDER BY id) - 1 AS n FROM clinic_enrollment
          WHERE clinic_id = %(clinic)s) AS e
    JOIN (SELECT id, starts_at, row_number() OVER (ORDER BY id) - 1 AS n FROM scheduling_occurrence
          WHERE clinic_id = %(clinic)s) AS o ON o.n / %(sessions)s = e.n / %(class_size)s""",
    # The floor sheet: present, 60 minutes, ECG-monitored.
    """INSERT INTO scheduling_sessionlog (clinic_id, booking_id, occurrence_id, enrollment_id, patient_id, attendance,
        started_at, ended_at, symptoms, modality, rpe_scale, ecg_monitored, rhythm_note, continuous_oximetry, notes,
        version, updated_by_id)
    SELECT %(clinic)s, b.id, b.occurrence_id, b.enrollment_id, b.patient_id, 'present', o.starts_at,
        o.starts_at + interval '60 minutes', '', 'treadmill', 'borg', true, '', false, '', 1, %(physiologist)s
    FROM scheduling_booking b JOIN scheduling_occurrence o ON o.id = b.occurrence_id
    WHERE b.clinic_id = %(clinic)s""",
]

REFERENCE_SQL = """
SELECT s.id, s.enrollment_id, s.patient_id, s.started_at, s.ended_at, s.ecg_monitored, s.continuous_oximetry,
       s.exercise_minutes, s.modality, s.weight_kg, o.starts_at, o.coach_id, o.supervising_practitioner_id, o.staff_id,
       s.updated_by_id
FROM scheduling_sessionlog s JOIN scheduling_occurrence o ON o.id = s.occurrence_id
WHERE s.clinic_id = %s AND s.attendance IN ('present', 'late', 'makeup')
ORDER BY s.enrollment_id, o.starts_at, s.id
"""


def sizes():
    from clinic.models import Clinic, Patient
    from scheduling.models import SessionLog

    clinic = Clinic.objects.filter(slug=SLUG).first()
    if clinic is None:
        return None
    return Patient.objects.filter(clinic=clinic).count(), SessionLog.objects.filter(clinic=clinic).count()


def build(patients: int):
    """The clinic and its rows, as the owner (reused when present with these sizes)."""
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic

    sessions = patients * SESSIONS_EACH
    with connected_as_owner():
        present = sizes()
        if present == (patients, sessions):
            print(f"Claims data set present: {patients:,} patients, {sessions:,} sessions.", flush=True)
            return Clinic.objects.get(slug=SLUG)
        if present is not None:
            raise SystemExit(f"{SLUG} holds {present}, not ({patients}, {sessions}): run with --rebuild.")
        started = time.perf_counter()
        with transaction.atomic():  # all or nothing
            clinic = insert(patients)
        with connection.cursor() as cursor:
            for table in ("clinic_patient", "clinic_enrollment", "referrals_referral", "billing_coverage",
                          "clinic_treatmentplan", "scheduling_occurrence", "scheduling_booking",
                          "scheduling_sessionlog"):  # fmt: skip
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        return clinic


def insert(patients: int):
    import datetime

    from django.utils import timezone

    from bench.dataset import add_member
    from billing.models import FeeScheduleEntry, Payer
    from clinic.models import Clinic, Program
    from referrals.models import ReferringProvider

    print(f"Building {SLUG}: {patients:,} patients × {SESSIONS_EACH} sessions…", flush=True)
    clinic = Clinic.objects.create(name="Bench claims", slug=SLUG, mfa_required=False)
    physiologist, physician = add_member(clinic, "physiologist"), add_member(clinic, "physician")
    physiologist.npi = physician.npi = "1234567893"
    physiologist.save(update_fields=["npi"])
    physician.save(update_fields=["npi"])
    program = Program.objects.create(clinic=clinic, name="Cardiac rehab", program_type="cr")
    provider = ReferringProvider.objects.create(
        clinic=clinic, first_name="Doc", last_name="Bench", membership=physician
    )
    payer = Payer.objects.create(clinic=clinic, name="Medicare", kind="medicare")
    for code, amount in (("93798", "120.00"), ("93797", "100.00")):
        FeeScheduleEntry.objects.create(
            clinic=clinic, code=code, amount=amount, effective_from=datetime.date(2020, 1, 1)
        )
    params = {
        "clinic": clinic.pk, "patients": patients, "program": program.pk, "provider": provider.pk, "payer": payer.pk,
        "physiologist": physiologist.pk, "physician": physician.pk, "tz": clinic.timezone,
        "start": timezone.localdate() - datetime.timedelta(days=120), "sessions": SESSIONS_EACH,
        "class_size": CLASS_SIZE, "groups": -(-patients // CLASS_SIZE),
    }  # fmt: skip
    with connection.cursor() as cursor:
        for number, statement in enumerate(BUILD_SQL, 1):
            began = time.perf_counter()
            cursor.execute(re.sub(r"%(?!\()", "%%", statement), params)
            print(f"  step {number}/{len(BUILD_SQL)}: {cursor.rowcount:,} rows in "
                  f"{time.perf_counter() - began:.1f} s", flush=True)  # fmt: skip
    return clinic


def reference(clinic) -> int:
    with connection.cursor() as cursor:
        cursor.execute(REFERENCE_SQL, [clinic.pk])
        return len(cursor.fetchall())


def derive(clinic):
    from billing.claims import claim_lines_derive

    return claim_lines_derive(clinic=clinic)


def delete_lines(clinic) -> None:
    """No lines, as before a clinic's first run: deleted, then vacuumed as the owner (untimed), since the dead rows
    of earlier runs would otherwise bloat the table and mislead the planner."""
    from billing.models import ClaimLine
    from clinic import rls
    from clinic.dbroles import connected_as_owner

    scope = rls.current()
    ClaimLine.objects.filter(clinic=clinic).delete()
    with connected_as_owner(), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE billing_claimline")
    rls.activate(scope)  # the application's connection is a new one, which starts with nothing in scope


def line_statuses(clinic) -> dict[str, int]:
    from django.db.models import Count

    from billing.models import ClaimLine

    return dict(ClaimLine.objects.filter(clinic=clinic).values_list("status").annotate(n=Count("id")))


def timed(run) -> tuple[float, int, object]:
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - began
    return elapsed, len(queries), result


def run(iterations: int = 3, patients: int = PATIENTS) -> dict:
    from clinic import rls

    clinic = build(patients)
    samples = {"reference (read the sessions)": [], "first derivation": [], "re-derivation (unchanged)": []}
    counts = {name: set() for name in samples}
    print(f"\nClaim lines: a warm-up, then {iterations} timed runs of each…", flush=True)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        delete_lines(clinic)
        derive(clinic)  # warm-up: caches, the plans' and sessions' pages in shared buffers
        for _ in range(iterations):
            elapsed, count, rows = timed(lambda: reference(clinic))
            samples["reference (read the sessions)"].append(elapsed)
            counts["reference (read the sessions)"].add(count)
            delete_lines(clinic)
            elapsed, count, first = timed(lambda: derive(clinic))
            samples["first derivation"].append(elapsed)
            counts["first derivation"].add(count)
            elapsed, count, again = timed(lambda: derive(clinic))
            samples["re-derivation (unchanged)"].append(elapsed)
            counts["re-derivation (unchanged)"].add(count)
        statuses = line_statuses(clinic)
    reference_s = statistics.median(samples["reference (read the sessions)"])
    print(f"\nClaim-line derivation @ {patients:,} patients × {SESSIONS_EACH} sessions ({rows:,} sessions; "
          f"first run created {first.created:,} lines, the re-derivation left {again.unchanged:,} unchanged; "
          f"statuses {statuses}):")  # fmt: skip
    print(f"{'measure':<32} {'median s':>9} {'min s':>7} {'queries':>8} {'× reference':>12}  target")
    result = {"patients": patients, "sessions": rows, "statuses": statuses}
    for name, values in samples.items():
        median = statistics.median(values)
        goal = f"< {TARGET_S:.0f} s: {'PASS' if median < TARGET_S else 'FAIL'}" if name == "first derivation" else ""
        shown = "/".join(str(c) for c in sorted(counts[name]))
        print(f"{name:<32} {median:>9.2f} {min(values):>7.2f} {shown:>8} {median / reference_s:>11.1f}×  {goal}")
        result[name] = {"median_s": round(median, 2), "min_s": round(min(values), 2), "queries": sorted(counts[name]),
                        "ratio_to_reference": round(median / reference_s, 1)}  # fmt: skip
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return result
