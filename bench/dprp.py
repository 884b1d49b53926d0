"""Benchmark of the CDC DPRP evaluation export (billing/dprp.py): 100,000 rows, streamed, time and peak memory.

What it measures
    A clinic of its own, bench-dprp: one CDC DPP program, 4,000 participants (patient, enrollment, referral
    with height and an A1C for a third of them, Medicare coverage for half), 200 weekly classes of 20 over
    25 weeks, each participant's 25 floor-sheet rows: 100,000 attended sessions (every 50th without a
    weight, so the validation report has work). Built with INSERT … SELECT generate_series as the owner,
    then reused while its size matches.

    The export runs as the Celery task does (dprp.dprp_export_run: participants read once, sessions from a
    server-side cursor in chunks of 2,000, rows written to a temporary file, then into Django's storage in
    a temporary MEDIA_ROOT), twice:
      1. timed, with the process's peak resident size (VmHWM, peak_rss_mb) before and after;
      2. under tracemalloc, for the peak of Python's own allocations (tracemalloc slows it down, so this
         run's time is not the figure).
    Target (issue 10): 100,000 rows streamed with peak memory under 200 MB.

How to run
    make bench BENCH_ARGS="--dprp-only"
"""

import datetime
import re
import tempfile
import time
import tracemalloc

from django.db import connection, transaction
from django.test.utils import override_settings

SLUG = "bench-dprp"
PARTICIPANTS, WEEKS, CLASS_SIZE = 4_000, 25, 20
TARGET_MB = 200
FIRST_CLASS = datetime.datetime(2025, 1, 13, 9, tzinfo=datetime.UTC)
PERIOD = (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))

BUILD_SQL = [
    """INSERT INTO clinic_patient (clinic_id, mrn, first_name, last_name, date_of_birth, sex, preferred_language,
        phone, email, address_line1, address_line2, city, state, postal_code, emergency_contact_name,
        emergency_contact_phone, primary_payer, payer_member_id, mbi, consent_to_treatment, email_opt_in, sms_opt_in,
        status, created_at, updated_at)
    SELECT %(clinic)s, 'D' || lpad(i::text, 7, '0'), 'Pat' || i, 'Bench' || (i % 997), DATE '1950-01-01' + (i % 12000),
        CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 'English', '', '', '', '', '', 'GA', '', '', '', '', '', '',
        true, false, false, 'active', now(), now()
    FROM generate_series(1, %(participants)s) AS i""",
    """INSERT INTO clinic_enrollment (clinic_id, patient_id, program_id, status, start_date, first_session_at, ended_on,
        discharge_reason, beta_blocker, supplemental_oxygen, has_diabetes, precaution_notes, created_at)
    SELECT %(clinic)s, p.id, %(program)s, 'active', DATE '2025-01-06', NULL, NULL, '', false, false, false, '', now()
    FROM clinic_patient p WHERE p.clinic_id = %(clinic)s""",
    """INSERT INTO referrals_referral (clinic_id, status, source, urgency, referral_date, reason, diagnosis_codes,
        possible_duplicate, patient_id, patient_mrn, patient_first_name, patient_last_name, patient_date_of_birth,
        patient_sex, patient_phone, patient_email, qualifying_condition, asian_american, lab_self_reported,
        contraindications, beta_blocker, supplemental_oxygen, weight_bearing_restrictions, range_of_motion_restrictions,
        precaution_notes, eligibility_override_reason, status_reason, created_at, last_action_at, program_id,
        referring_provider_id, external_identifier, enrollment_id, height_cm, a1c_percent, risk_test_score,
        gestational_diabetes_history)
    SELECT %(clinic)s, 'accepted', 'staff', 'routine', DATE '2025-01-02', '', '{}', false, e.patient_id, '', 'Pat',
        'Bench', DATE '1950-01-01', 'U', '', '', '', false, false, '', false, false, '', '', '', '', '', now(), now(),
        e.program_id, %(provider)s, '', e.id, 150 + e.id % 50, CASE WHEN e.id % 3 = 0 THEN 6.0 END, 3 + e.id % 5,
        e.id % 7 = 0
    FROM clinic_enrollment e WHERE e.clinic_id = %(clinic)s""",
    """INSERT INTO billing_coverage (clinic_id, patient_id, payer_id, member_id, starts_on, ends_on, priority,
        created_at)
    SELECT %(clinic)s, p.id, %(payer)s, '', DATE '2024-01-01', NULL, 1, now()
    FROM clinic_patient p WHERE p.clinic_id = %(clinic)s AND p.id % 2 = 0""",
    # Group g meets weekly for 25 weeks: occurrence number n = g * 25 + week + 1.
    """INSERT INTO scheduling_occurrence (clinic_id, program_id, name, starts_at, ends_at, room, capacity, booked_count,
        staff_id, coach_id, status, cancel_reason, created_at, delivery_mode)
    SELECT %(clinic)s, %(program)s, 'DPP group ' || g, t.at, t.at + interval '1 hour', 'Room', 24, 20, %(coach)s,
        %(coach)s, 'scheduled', '', now(), CASE WHEN g % 4 = 0 THEN 'online' ELSE 'in_person' END
    FROM generate_series(0, %(groups)s - 1) AS g CROSS JOIN generate_series(0, %(weeks)s - 1) AS w
    CROSS JOIN LATERAL (SELECT %(first_class)s::timestamptz + w * interval '7 days' + g * interval '1 minute' AS at) t
    ORDER BY g, w""",
    # Fresh statistics, or the planner joins 100,000 bookings to the enrollments by a nested loop (minutes).
    "ANALYZE clinic_enrollment, scheduling_occurrence",
    """INSERT INTO scheduling_booking (clinic_id, occurrence_id, enrollment_id, patient_id, status, is_makeup,
        booked_by_id, booked_at, cancel_reason)
    SELECT %(clinic)s, o.id, e.id, e.patient_id, 'booked', false, %(coach)s, o.starts_at - interval '7 days', ''
    FROM (SELECT id, starts_at, row_number() OVER (ORDER BY id) - 1 AS n FROM scheduling_occurrence
          WHERE clinic_id = %(clinic)s) AS o
    CROSS JOIN generate_series(0, %(class_size)s - 1) AS k
    JOIN clinic_enrollment e ON e.id = %(first_enrollment)s + (o.n / %(weeks)s) * %(class_size)s + k""",
    """INSERT INTO scheduling_sessionlog (clinic_id, booking_id, occurrence_id, enrollment_id, patient_id, attendance,
        session_number, symptoms, modality, rpe_scale, ecg_monitored, rhythm_note, continuous_oximetry, notes, version,
        updated_by_id, weight_kg, activity_minutes, delivery_mode)
    SELECT %(clinic)s, b.id, b.occurrence_id, b.enrollment_id, b.patient_id,
        CASE WHEN b.id % 23 = 0 THEN 'makeup' ELSE 'present' END, 1 + (o.n % %(weeks)s), '', '', 'borg', false, '',
        false, '', 1, %(coach)s, CASE WHEN b.id % 50 <> 0 THEN 70 + (b.id % 600) / 10.0 END, b.id % 300, o.delivery_mode
    FROM scheduling_booking b
    JOIN (SELECT id, delivery_mode, row_number() OVER (ORDER BY id) - 1 AS n FROM scheduling_occurrence
          WHERE clinic_id = %(clinic)s) AS o ON o.id = b.occurrence_id
    WHERE b.clinic_id = %(clinic)s""",
]


def sizes():
    from clinic.models import Clinic
    from scheduling.models import SessionLog

    clinic = Clinic.objects.filter(slug=SLUG).first()
    return None if clinic is None else SessionLog.objects.filter(clinic=clinic).count()


def build():
    """The clinic and its rows (reused when present with this size). Returns the clinic, program, member."""
    from bench.dataset import add_member
    from billing.models import Payer
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic, Membership, Program
    from referrals.models import ReferringProvider

    sessions = PARTICIPANTS * WEEKS
    with connected_as_owner():
        present = sizes()
        if present == sessions:
            clinic = Clinic.objects.get(slug=SLUG)
            print(f"DPRP data set present: {sessions:,} sessions.", flush=True)
            return clinic, Program.objects.get(clinic=clinic), Membership.objects.get(clinic=clinic, roles=["billing"])
        if present is not None:
            raise SystemExit(f"{SLUG} holds {present} sessions, not {sessions}: run with --rebuild.")
        print(f"Building {SLUG}: {PARTICIPANTS:,} participants × {WEEKS} sessions…", flush=True)
        started = time.perf_counter()
        with transaction.atomic():
            clinic = Clinic.objects.create(name="Bench DPRP", slug=SLUG, mfa_required=False)
            billing, coach = add_member(clinic, "billing"), add_member(clinic, "physiologist")
            program = Program.objects.create(clinic=clinic, name="CDC DPP", program_type="dpp")
            provider = ReferringProvider.objects.create(clinic=clinic, first_name="Doc", last_name="Provider")
            payer = Payer.objects.create(clinic=clinic, name="Medicare", kind="medicare")
            params = {"clinic": clinic.pk, "program": program.pk, "participants": PARTICIPANTS, "weeks": WEEKS,
                      "groups": PARTICIPANTS // CLASS_SIZE, "class_size": CLASS_SIZE, "coach": coach.pk,
                      "provider": provider.pk, "payer": payer.pk, "first_class": FIRST_CLASS}  # fmt: skip
            with connection.cursor() as cursor:
                for number, statement in enumerate(BUILD_SQL, 1):
                    if "%(first_enrollment)s" in statement:
                        cursor.execute("SELECT min(id) FROM clinic_enrollment WHERE clinic_id = %s", [clinic.pk])
                        params["first_enrollment"] = cursor.fetchone()[0]
                    began = time.perf_counter()
                    cursor.execute(re.sub(r"%(?![(%])", "%%", statement), params)  # % is modulo
                    print(f"  step {number}/{len(BUILD_SQL)}: {cursor.rowcount:,} rows in "
                          f"{time.perf_counter() - began:.1f} s", flush=True)  # fmt: skip
        with connection.cursor() as cursor:
            for table in ("clinic_patient", "clinic_enrollment", "referrals_referral", "scheduling_occurrence",
                          "scheduling_booking", "scheduling_sessionlog", "billing_coverage"):  # fmt: skip
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        return clinic, program, billing


def peak_rss_mb() -> float:
    """This process's peak resident size (VmHWM in /proc/self/status). Not getrusage's ru_maxrss: Linux carries that
    over from the parent through fork and exec, so the export's own process, started by the whole bench, would
    report the bench's peak."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kib / 1024


def export_once(clinic, program, member, traced: bool) -> dict:
    from billing import dprp
    from clinic import rls

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        export = dprp.dprp_export_request(
            clinic=clinic, actor=member, program=program, org_code="BENCH1", period_start=PERIOD[0],
            period_end=PERIOD[1],
        )  # fmt: skip
    rss_before = peak_rss_mb()
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        export = dprp.dprp_export_run(export_id=export.pk)
        size = export.file.size if export.file else 0
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if traced else None
    if traced:
        tracemalloc.stop()
    rss_after = peak_rss_mb()
    if export.status != "ready":
        raise SystemExit(f"DPRP bench: the export ended {export.status}: {export.error}")
    return {"rows": export.rows_done, "issues": export.issue_count, "seconds": round(seconds, 2),
            "mb": round(size / 1e6, 1), "max_rss_before_mb": round(rss_before, 1),
            "max_rss_after_mb": round(rss_after, 1), "python_peak_mb": round(peak, 2) if peak else None}  # fmt: skip


def run() -> dict:
    clinic, program, member = build()
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
        print("\nDPRP export (as the Celery task writes it)…", flush=True)
        timed = export_once(clinic, program, member, traced=False)
        traced = export_once(clinic, program, member, traced=True)
    verdict = "PASS" if timed["max_rss_after_mb"] < TARGET_MB else "FAIL"
    print(f"  {timed['rows']:,} rows ({timed['issues']:,} issues), {timed['mb']} MB in {timed['seconds']} s")
    print(f"  process peak RSS {timed['max_rss_before_mb']} MB before, {timed['max_rss_after_mb']} MB after "
          f"(VmHWM)")  # fmt: skip
    print(f"  peak Python allocations during the export {traced['python_peak_mb']} MB (tracemalloc; that run took "
          f"{traced['seconds']} s)")  # fmt: skip
    print(f"target: 100,000 rows streamed, peak memory < {TARGET_MB} MB: {verdict}")
    return {"timed": timed, "traced": traced, "verdict": verdict}
