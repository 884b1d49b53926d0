"""Benchmark of the administrators' KPI dashboard (outcomes/kpis/) and of the observation CSV export.

What it measures
    A clinic of its own, bench-kpi, with 100,000 patients (one enrollment and one accepted referral each,
    plus 20 % more referrals that were never accepted), 2,000,000 booked sessions over the past two years
    (100,000 classes of 20, each with its floor-sheet row) and 1,000,000 observations (assessments at entry
    and discharge: 6MWD, SBP, PHQ-9, weight; and pre-exercise SBP from sessions). Built with INSERT …
    SELECT generate_series as the owner in a few minutes, then reused while its sizes match.

    First the KPI roll-up refresh (outcomes/kpis/rollups.py, the beat job's work for this clinic), timed.
    Then, signed in as the clinic's administrator, through django.test.Client (the whole middleware stack and
    template rendering, as bench/measure.py does):

      - the trivial view (`HttpResponse("ok")`, bench/urls.py): the reference
      - the dashboard, default period (the last twelve months), and filtered by one program
      - the KPI API, default period
      - "KPI SQL on the roll-up": the same aggregates run straight through a cursor (outcomes/kpis/queries.py's
        nine statements, without the view, the charts or the template), so the ratio shows what the page adds
      - "KPI SQL read live": the nine statements over every booking and observation, as a clinic without a
        roll-up is read (3 runs: each takes seconds at this size)

    Warm-ups first, then N timed runs of each, round-robin. Target (issue 9): the dashboard < 300 ms median.
    Each of the nine statements is then timed alone, on the roll-up and live, to show where the time goes.

    Then the observation export: every observation of the two years (1,000,000 rows) written as CSV by the
    code the Celery task runs (exports.observations_copy, PostgreSQL COPY in chunks to a temporary file),
    with its time and the peak memory: Python's allocations (tracemalloc) and the process's resident size
    before and after (resource.getrusage).
"""

import datetime
import json
import re
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

SLUG = "bench-kpi"
PATIENTS, SESSIONS, CLASS_SIZE = 100_000, 2_000_000, 20
DAYS = 730
TARGET_MS = 300.0
LIVE_RUNS = 3
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "dashboard.json"

# Built in SQL so that two million rows take minutes, not hours. %(name)s are the build's parameters.
BUILD_SQL = [
    # Patients: strings every NOT NULL column needs (Django sets no database defaults).
    """INSERT INTO clinic_patient (clinic_id, mrn, first_name, last_name, date_of_birth, sex, preferred_language,
        phone, email, address_line1, address_line2, city, state, postal_code, emergency_contact_name,
        emergency_contact_phone, primary_payer, payer_member_id, mbi, consent_to_treatment, email_opt_in, sms_opt_in,
        status, created_at, updated_at)
    SELECT %(clinic)s, 'K' || lpad(i::text, 7, '0'), 'Pat' || i, 'Bench' || (i % 997), DATE '1940-01-01' + (i % 18000),
        CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END, 'English', '', '', '', '', '', '', '', '', '', 'Medicare', '', '',
        true, false, false, 'active', now(), now()
    FROM generate_series(1, %(patients)s) AS i""",
    # One enrollment per patient, started over the two years; those older than 12 weeks have ended.
    """INSERT INTO clinic_enrollment (clinic_id, patient_id, program_id, status, start_date, first_session_at, ended_on,
        discharge_reason, beta_blocker, supplemental_oxygen, has_diabetes, precaution_notes, created_at)
    SELECT %(clinic)s, p.id, (%(programs)s::bigint[])[1 + p.n % 4],
        CASE WHEN s.start + 84 >= CURRENT_DATE THEN 'active' WHEN p.n % 10 < 7 THEN 'completed' ELSE 'discharged' END,
        s.start, (s.start + (3 + p.n % 21)::int) + TIME '14:00',
        CASE WHEN s.start + 84 < CURRENT_DATE THEN s.start + 84 END, '', false, false, false, '', now()
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM clinic_patient WHERE clinic_id = %(clinic)s) AS p
    CROSS JOIN LATERAL (SELECT CURRENT_DATE - %(days)s + (p.n * 7 % (%(days)s - 14))::int AS start) AS s""",
    # An accepted referral per enrollment, then 20 % more that were not accepted.
    """INSERT INTO referrals_referral (clinic_id, status, source, urgency, referral_date, reason, diagnosis_codes,
        possible_duplicate, patient_id, patient_mrn, patient_first_name, patient_last_name, patient_date_of_birth,
        patient_sex, patient_phone, patient_email, qualifying_condition, asian_american, lab_self_reported,
        contraindications, beta_blocker, supplemental_oxygen, weight_bearing_restrictions, range_of_motion_restrictions,
        precaution_notes, eligibility_override_reason, status_reason, created_at, last_action_at, program_id,
        referring_provider_id, external_identifier, enrollment_id)
    SELECT %(clinic)s, 'accepted', (ARRAY['staff', 'portal', 'fhir'])[1 + e.id % 3], 'routine',
        e.start_date - (e.id % 30)::int, '', '{}', false, e.patient_id, '', 'Pat', 'Bench', DATE '1950-01-01', 'U', '',
        '', '', false, false, '', false, false, '', '', '', '', '', now(), now(), e.program_id,
        (%(providers)s::bigint[])[1 + (e.id * 7) % 50], '', e.id
    FROM clinic_enrollment e WHERE e.clinic_id = %(clinic)s""",
    """INSERT INTO referrals_referral (clinic_id, status, source, urgency, referral_date, reason, diagnosis_codes,
        possible_duplicate, patient_mrn, patient_first_name, patient_last_name, patient_date_of_birth,
        patient_sex, patient_phone, patient_email, qualifying_condition, asian_american, lab_self_reported,
        contraindications, beta_blocker, supplemental_oxygen, weight_bearing_restrictions, range_of_motion_restrictions,
        precaution_notes, eligibility_override_reason, status_reason, created_at, last_action_at, program_id,
        referring_provider_id, external_identifier)
    SELECT %(clinic)s, (ARRAY['received', 'in_review', 'declined', 'unable_to_contact'])[1 + i % 4],
        (ARRAY['staff', 'portal', 'fhir'])[1 + i % 3], 'routine', CURRENT_DATE - (i % %(days)s), '', '{}', false, '',
        'Pat', 'Bench', DATE '1950-01-01', 'U', '', '', '', false, false, '', false, false, '', '', '', '', '', now(),
        now(), (%(programs)s::bigint[])[1 + i % 4], (%(providers)s::bigint[])[1 + (i * 3) % 50], ''
    FROM generate_series(1, %(patients)s / 5) AS i""",
    # Classes of 20 spread evenly over the two years (all in the past), capacity 24.
    """INSERT INTO scheduling_occurrence (clinic_id, program_id, name, starts_at, ends_at, room, capacity, booked_count,
        staff_id, status, cancel_reason, created_at)
    SELECT %(clinic)s, (%(programs)s::bigint[])[1 + j % 4], 'Class', t.at, t.at + interval '1 hour', 'Gym', 24,
        20 - (j % 3 = 0)::int - (j % 4 = 0)::int, CASE WHEN j % 2 = 0 THEN %(physiologist)s END, 'scheduled', '', now()
    FROM generate_series(1, %(classes)s) AS j
    CROSS JOIN LATERAL (SELECT date_trunc('hour', now()) - %(days)s * interval '1 day'
                               + j * (%(days)s * 86400.0 / %(classes)s) * interval '1 second' AS at) AS t""",
    # 20 bookings per class, enrollments in turn; a late and an on-time cancellation in some classes.
    """INSERT INTO scheduling_booking (clinic_id, occurrence_id, enrollment_id, patient_id, status, is_makeup,
        booked_by_id, booked_at, cancel_reason)
    SELECT %(clinic)s, o.id, e.id, e.patient_id,
        CASE WHEN k = 19 AND o.n % 3 = 0 THEN 'late_cancelled' WHEN k = 18 AND o.n % 4 = 0 THEN 'cancelled'
             ELSE 'booked' END, false, %(physiologist)s, o.starts_at - interval '7 days', ''
    FROM (SELECT id, starts_at, row_number() OVER (ORDER BY id) AS n FROM scheduling_occurrence
          WHERE clinic_id = %(clinic)s) AS o
    CROSS JOIN generate_series(0, 19) AS k
    JOIN clinic_enrollment e ON e.id = %(first_enrollment)s + ((o.n * 20 + k) % %(patients)s)""",
    # The floor sheet's row of every kept booking: mostly present, some absent or late.
    """INSERT INTO scheduling_sessionlog (clinic_id, booking_id, occurrence_id, enrollment_id, patient_id, attendance,
        symptoms, modality, rpe_scale, ecg_monitored, rhythm_note, continuous_oximetry, notes, version, updated_by_id,
        pre_sbp)
    SELECT %(clinic)s, b.id, b.occurrence_id, b.enrollment_id, b.patient_id,
        CASE WHEN b.id % 12 = 0 THEN 'absent' WHEN b.id % 17 = 0 THEN 'late' ELSE 'present' END,
        '', '', 'borg', false, '', false, '', 1, %(physiologist)s, 110 + b.id % 40
    FROM scheduling_booking b WHERE b.clinic_id = %(clinic)s AND b.status = 'booked'""",
    # Assessments at entry and discharge (6MWD, SBP, PHQ-9, weight): 8 per enrollment.
    """INSERT INTO clinic_observation (clinic_id, patient_id, enrollment_id, measure_id, value, unit, observed_at,
        phase, source, source_id, recorded_by_id, recorded_at)
    SELECT %(clinic)s, e.id_patient, e.id, m.id,
        CASE m.code WHEN '64098-7' THEN 300 + e.id % 200 + t.later * (e.id % 80 - 20)
                    WHEN '8480-6' THEN 125 + e.id % 30 - t.later * (e.id % 15)
                    WHEN '44261-6' THEN e.id % 20 - t.later * LEAST(e.id % 20, e.id % 9)
                    ELSE 70 + e.id % 50 - t.later * (e.id % 7) END,
        m.unit, LEAST(e.start_date + 1 + t.later * 80, CURRENT_DATE - 1) + TIME '10:00', '', 'assessment', e.id,
        %(physiologist)s, now()
    FROM (SELECT id, patient_id AS id_patient, start_date FROM clinic_enrollment WHERE clinic_id = %(clinic)s) AS e
    CROSS JOIN (VALUES (0), (1)) AS t(later)
    CROSS JOIN (SELECT id, code, unit FROM clinic_measure WHERE clinic_id IS NULL
                AND code IN ('64098-7', '8480-6', '44261-6', '29463-7')) AS m""",
    # Pre-exercise SBP from the floor sheet: two per enrollment.
    """INSERT INTO clinic_observation (clinic_id, patient_id, enrollment_id, measure_id, value, unit, observed_at,
        phase, source, source_id, recorded_by_id, recorded_at)
    SELECT %(clinic)s, e.patient_id, e.id, (SELECT id FROM clinic_measure WHERE clinic_id IS NULL AND code = '8480-6'),
        120 + e.id % 35, 'mm[Hg]', LEAST(e.start_date + 10 + t.n * 30, CURRENT_DATE - 1) + TIME '09:00', 'pre',
        'session', e.id, %(physiologist)s, now()
    FROM clinic_enrollment e CROSS JOIN (VALUES (0), (1)) AS t(n) WHERE e.clinic_id = %(clinic)s""",
]


def sizes():
    from clinic.models import Clinic, Patient
    from scheduling.models import Booking

    clinic = Clinic.objects.filter(slug=SLUG).first()
    if clinic is None:
        return None
    return Patient.objects.filter(clinic=clinic).count(), Booking.objects.filter(clinic=clinic).count()


def build(patients: int, sessions: int):
    """The clinic and its rows (reused when present with these sizes)."""
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic, Membership

    with connected_as_owner():
        present = sizes()
        if present == (patients, sessions):
            clinic = Clinic.objects.get(slug=SLUG)
            print(f"Dashboard data set present: {patients:,} patients, {sessions:,} sessions.", flush=True)
            return clinic, Membership.objects.get(clinic=clinic, roles__contains=["admin"])
        if present is not None:
            raise SystemExit(f"{SLUG} holds {present}, not ({patients}, {sessions}): run with --rebuild.")
        started = time.perf_counter()
        with transaction.atomic():  # all or nothing: a failed build leaves no half clinic behind
            clinic, admin = insert(patients, sessions)
        with connection.cursor() as cursor:
            for table in ("clinic_patient", "clinic_enrollment", "referrals_referral", "scheduling_occurrence",
                          "scheduling_booking", "scheduling_sessionlog", "clinic_observation"):  # fmt: skip
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
        return clinic, admin


def insert(patients: int, sessions: int):
    from bench.dataset import add_member
    from clinic.models import Clinic, Program
    from referrals.models import ReferringProvider

    print(f"Building {SLUG}: {patients:,} patients, {sessions:,} sessions…", flush=True)
    clinic = Clinic.objects.create(name="Bench KPI", slug=SLUG, mfa_required=False)
    admin, physiologist = add_member(clinic, "admin"), add_member(clinic, "physiologist")
    programs = [
        Program.objects.create(clinic=clinic, name=name, program_type=kind).pk
        for name, kind in [("Cardiac rehab", "cr"), ("Pulmonary rehab", "pr"), ("CDC DPP", "dpp"),
                           ("Medicare DPP", "mdpp")]
    ]  # fmt: skip
    providers = [
        ReferringProvider.objects.create(clinic=clinic, first_name=f"Doc{n}", last_name=f"Provider{n:02d}").pk
        for n in range(50)
    ]
    params = {"clinic": clinic.pk, "patients": patients, "classes": sessions // CLASS_SIZE, "days": DAYS,
              "programs": programs, "providers": providers, "physiologist": physiologist.pk}  # fmt: skip
    with connection.cursor() as cursor:
        for number, statement in enumerate(BUILD_SQL, 1):
            if "%(first_enrollment)s" in statement:
                cursor.execute("SELECT min(id) FROM clinic_enrollment WHERE clinic_id = %s", [clinic.pk])
                params["first_enrollment"] = cursor.fetchone()[0]
            began = time.perf_counter()
            cursor.execute(re.sub(r"%(?!\()", "%%", statement), params)  # % is modulo, %(name)s a parameter
            print(f"  step {number}/{len(BUILD_SQL)}: {cursor.rowcount:,} rows in "
                  f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    return clinic, admin


def timed(send) -> tuple[float, int]:
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        response = send()
        elapsed = (time.perf_counter() - began) * 1000
    if getattr(response, "status_code", 200) != 200:
        raise SystemExit(f"dashboard bench: HTTP {response.status_code}")
    return elapsed, len(queries)


def raw_sql(clinic, rollup):
    """The dashboard's nine statements, run straight through a cursor (in the clinic's scope), on the
    roll-up (as the page reads them) or, with rollup=None, over every row."""
    from clinic import rls
    from outcomes.kpis import dashboard, queries

    filters = dashboard.default_filters(timezone.localdate())
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        values, sql = queries.compute(clinic=clinic, filters=filters, rollup=rollup)
        queries.referrals_by_source(sql)
        queries.referrals_by_physician(sql)
    return values


def refresh(clinic):
    """The beat job's work for this clinic (outcomes/kpis/rollups.py), timed."""
    from clinic import rls
    from outcomes.kpis import rollups

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        began = time.perf_counter()
        rollup = rollups.rollup_refresh(clinic=clinic)
    return rollup, time.perf_counter() - began


def statements(clinic, rollup, runs: int) -> list[tuple[str, float]]:
    """Each KPI statement timed alone (median of `runs`), to show where the time goes."""
    from clinic import rls
    from outcomes.kpis import dashboard, queries

    filters = dashboard.default_filters(timezone.localdate())
    rows = []
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        families = [*queries.FAMILIES, queries.referrals_by_source, queries.referrals_by_physician]
        for family in families:
            samples = []
            for _ in range(runs):
                sql = queries.Sql(clinic, filters, rollup)
                began = time.perf_counter()
                family(sql)
                samples.append((time.perf_counter() - began) * 1000)
            rows.append((family.__name__, statistics.median(samples)))
    return rows


def export(clinic) -> dict:
    """Every observation of the period as CSV, as the Celery task writes it: time and peak memory."""
    from clinic import rls
    from outcomes.kpis import exports
    from outcomes.kpis.queries import KpiFilters

    today = timezone.localdate()
    filters = KpiFilters(start=today - datetime.timedelta(days=DAYS + 10), end=today)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    began = time.perf_counter()
    with rls.scoped(rls.clinic_scope(clinic.pk)), tempfile.TemporaryFile() as out:
        rows = exports.observations_copy(clinic, filters, out)
        size = out.tell()
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    growth = (rss_after - rss_before) / 1024
    return {"rows": rows, "seconds": round(seconds, 2), "mb": round(size / 1e6, 1),
            "python_peak_mb": round(peak / 1e6, 2), "max_rss_growth_mb": round(growth, 1)}  # fmt: skip


def run(iterations: int = 20, warmups: int = 3, patients: int = PATIENTS, sessions: int = SESSIONS) -> dict:
    clinic, admin = build(patients, sessions)
    client = Client()
    client.force_login(admin.user)
    from clinic import rls

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        program = clinic.programs.order_by("pk").first()
    rollup, seconds = refresh(clinic)
    print(f"\nKPI roll-up refresh (the beat job, every {settings.KPI_ROLLUP_REFRESH_MINUTES} min): {seconds:.1f} s",
          flush=True)  # fmt: skip
    dashboard_path = reverse("kpi_dashboard", args=[clinic.slug])
    # The first look after a refresh computes what the cache then keeps until the next one (queries.py
    # as_of_rollup); the beat job does it for the default period, this shows what it costs.
    cold_ms, _ = timed(lambda: client.get(dashboard_path))
    print(f"First look after the refresh (nothing cached yet): {cold_ms:.0f} ms", flush=True)
    measures = {
        "trivial view": lambda: client.get(reverse("bench_trivial")),
        "KPI SQL on the roll-up": lambda: raw_sql(clinic, rollup),
        "dashboard (12 months)": lambda: client.get(dashboard_path),
        "dashboard, one program": lambda: client.get(dashboard_path, {"program": program.pk}),
        "KPI API (12 months)": lambda: client.get(reverse("api-kpis", args=[clinic.slug])),
    }
    print(f"\nDashboard: {warmups} warm-ups + {iterations} timed runs each…", flush=True)
    samples = {name: [] for name in measures}
    queries = {name: set() for name in measures}
    for round_number in range(warmups + iterations):
        for name, send in measures.items():
            elapsed, count = timed(send)
            if round_number >= warmups:
                samples[name].append(elapsed)
                queries[name].add(count)
    # Every booking and observation read live, as the dashboard did before roll-ups: seconds a run, so fewer.
    live_name = "KPI SQL read live"
    samples[live_name], queries[live_name] = [], set()
    for _ in range(LIVE_RUNS):
        elapsed, count = timed(lambda: raw_sql(clinic, None))
        samples[live_name].append(elapsed)
        queries[live_name].add(count)
    trivial = statistics.median(samples["trivial view"])
    raw = statistics.median(samples["KPI SQL on the roll-up"])
    live = statistics.median(samples[live_name])
    print(f"\nKPI dashboard @ {patients:,} patients, {sessions:,} sessions ({iterations} timed runs each, "
          f"{LIVE_RUNS} of the live SQL):")  # fmt: skip
    print(
        f"{'measure':<26} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'× trivial':>10} {'× SQL':>8} "
        f"{'× live SQL':>10}  target"
    )
    result = {"rollup_refresh_s": round(seconds, 1), "first_look_after_refresh_ms": round(cold_ms)}
    for name, values in samples.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        counts = sorted(queries[name])
        shown = "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else str(counts[0])
        goal = (
            f"< {TARGET_MS:.0f} ms: {'PASS' if median < TARGET_MS else 'FAIL'}" if name.startswith("dashboard") else ""
        )
        print(
            f"{name:<26} {median:>10.1f} {p95:>8.1f} {shown:>8} {median / trivial:>9.1f}× {median / raw:>7.2f}× "
            f"{median / live:>9.3f}×  {goal}"
        )
        result[name] = {"median_ms": round(median, 1), "p95_ms": round(p95, 1), "queries": counts,
                        "ratio_to_trivial": round(median / trivial, 2), "ratio_to_sql": round(median / raw, 2),
                        "ratio_to_live_sql": round(median / live, 4)}  # fmt: skip
    print("\nEach statement alone (ms; median of 5 on the roll-up, of 3 read live):")
    result["statements_ms"] = {}
    on_rollup, read_live = statements(clinic, rollup, 5), statements(clinic, None, LIVE_RUNS)
    for (name, ms), (_, live_ms) in zip(on_rollup, read_live, strict=True):
        print(f"  {name:<24} {ms:>8.1f} {live_ms:>10.1f}")
        result["statements_ms"][name] = {"rollup": round(ms, 1), "live": round(live_ms, 1)}
    print("\nObservation export (CSV, every observation of the two years, as the Celery task writes it)…", flush=True)
    written = export(clinic)
    print(f"  {written['rows']:,} rows, {written['mb']} MB in {written['seconds']} s; peak Python memory "
          f"{written['python_peak_mb']} MB (tracemalloc), process max RSS grew "
          f"{written['max_rss_growth_mb']} MB")  # fmt: skip
    result["observation_export"] = written
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return result


def run_in_bench_urls(iterations: int, warmups: int, **sizes_) -> dict:
    with override_settings(ROOT_URLCONF="bench.urls"):
        return run(iterations, warmups, **sizes_)
