"""A clinic's history for the load test: attended sessions, assessments and claim lines (bench/loadplan.py runs it).

bench/dataset.py builds bench-big's and bench-small's patients, referrals and enrollments, but nothing after
intake: no classes, sessions, observations or claim lines, so the chart, progress, "My patients", the KPI
dashboard and the claim-lines page would be measured nearly empty. This gives every active and completed
enrollment of a clinic the history it would have, and those not started yet their baseline (dates relative to
the enrollment's start, all before today):

    classes      one per program, day and time slot, about ten patients each (Room 1 and 2, 6:00-17:00);
                 the physiologist teaches (and coaches DPP), the physician supervises
    sessions     CR, ICR and PR 3 a week (Mon, Wed, Fri; a third of them 2: Tue, Thu), DPP and MDPP weekly,
                 for up to 12 weeks: 12-36 per completed enrollment, fewer for one still running; about 7 %
                 absent and 3 % late, each with its booking and floor-sheet row (vitals, exercise, RPE, ECG or
                 oximetry by program, weight weekly in rehab and at every DPP session, activity minutes in DPP,
                 start and end times: 0.5 % have none), numbered as the floor sheet numbers them
    observations every measured number of a row, as the floor sheet writes them (scheduling.floorsheet's
                 OBSERVED: code, value, phase); safety flags where a row trips a rule (a PR patient's SpO2
                 after exercise below 88 % now and then: open in the last two weeks, resolved before)
    assessments  the program's shared battery at baseline (90 % of enrollments, those not started yet too:
                 the intake visit), at 30 days (70 %) and at discharge (80 % of completed ones), a value for
                 each of its measures as outcomes.services.assessment_record stores them (BMI, DASI METs, 6MWD
                 % predicted computed), improving from one to the next
    billing      the signed treatment plans of CR, ICR and PR, every 30 days (1 in 20 not re-signed after the
                 first: their later sessions are blocked); payers from the patients' primary payer with a
                 coverage each (those without one are blocked); a fee for every code of the billing rules; NPIs
                 for the physiologist and the physician; the ICR program CMS-approved. Then the claim lines,
                 derived by billing.claims.claim_lines_derive as the nightly task does.

Built with INSERT … SELECT as the owner in one transaction per clinic (bench/claims.py's way): bench-big's
130,000 sessions and 1.3 million observations take about four minutes on a busy two-core machine, most of it
the observations and their foreign-key checks at commit. Made once: a clinic with session logs
already has its history. Both bench clinics get it, so that `make bench`'s query counts still compare like
with like (a page that reads no rows skips its prefetch queries).
"""

import datetime
import random
import re
import time
import zoneinfo

from django.db import connection, transaction
from django.db.models import Count

# Illustrative fees per code (a clinic types its own); codes without one here get DEFAULT_FEE.
FEES = {"93798": "118.00", "93797": "64.00", "G0422": "132.00", "G0423": "132.00", "94625": "51.00",
        "94626": "51.00", "G0424": "51.00", "G9886": "25.00", "G9887": "25.00", "G9871": "25.00",
        "G9880": "145.00", "G9881": "25.00", "G9888": "8.00"}  # fmt: skip
DEFAULT_FEE = "25.00"
PAYER_KINDS = {"Medicare": "medicare", "Medicaid": "medicaid", "Humana": "medicare_advantage"}  # else commercial
TABLES = ["scheduling_occurrence", "scheduling_booking", "scheduling_sessionlog", "scheduling_safetyflag",
          "clinic_observation", "clinic_enrollment", "clinic_treatmentplan", "outcomes_assessment", "billing_payer",
          "billing_coverage", "billing_feescheduleentry"]  # fmt: skip

# %(name)s are the build's parameters; a bare % is SQL's modulo (escaped before execution). `r` is a fixed
# pseudo-random number 0-999 per planned session, so that every build is the same.
PLAN_SQL = """
CREATE TEMPORARY TABLE history_session ON COMMIT DROP AS
WITH enrollments AS (
    SELECT e.id, e.patient_id, e.program_id, p.program_type AS kind,
           least(coalesce(e.ended_on, %(today)s - 1), %(today)s - 1) AS last_day,
           CASE WHEN p.program_type IN ('dpp', 'mdpp') THEN 1 WHEN e.id % 3 = 0 THEN 2 ELSE 3 END AS per_week,
           e.start_date + (8 - extract(isodow FROM e.start_date)::int) % 7 AS monday
    FROM clinic_enrollment e JOIN clinic_program p ON p.id = e.program_id
    WHERE e.clinic_id = %(clinic)s AND e.status IN ('active', 'completed')
),
slots AS (  -- a program's weekly sessions if all its enrollments ran at once / 200: classes of about ten
    SELECT program_id, ceil(sum(per_week) / 200.0)::int AS slots FROM enrollments GROUP BY program_id
),
planned AS (
    SELECT e.id AS enrollment_id, e.patient_id, e.program_id, e.kind, e.last_day, k, (e.id % s.slots)::int AS slot,
           e.monday + 7 * (k / e.per_week)
               + CASE e.per_week WHEN 3 THEN 2 * (k % 3) WHEN 2 THEN 1 + 2 * (k % 2) ELSE (e.id % 5)::int END AS day,
           abs(hashint8(e.id * 1000 + k)) % 1000 AS r
    FROM enrollments e JOIN slots s USING (program_id)
    CROSS JOIN generate_series(0, 12 * e.per_week - 1) AS k
),
attending AS (
    SELECT *, (day + make_time(6 + slot % 12, 0, 0)) AT TIME ZONE %(tz)s AS starts_at,
           'Room ' || (1 + slot / 12) AS room,
           CASE WHEN k > 0 AND r % 100 < 7 THEN 'absent' WHEN k > 0 AND r % 100 < 10 THEN 'late' ELSE 'present' END
               AS attendance
    FROM planned WHERE day <= last_day
)
SELECT *, CASE WHEN attendance <> 'absent' THEN count(*) FILTER (WHERE attendance <> 'absent')
                                                OVER (PARTITION BY enrollment_id ORDER BY starts_at) END AS number,
       NULL::bigint AS occurrence_id, NULL::bigint AS booking_id
FROM attending
"""

BUILD_SQL = {  # step: statement, in order
    "classes": """
    INSERT INTO scheduling_occurrence (clinic_id, program_id, name, starts_at, ends_at, room, capacity, booked_count,
        staff_id, supervising_practitioner_id, coach_id, status, cancel_reason, created_at, delivery_mode)
    SELECT %(clinic)s, h.program_id, p.name, h.starts_at, h.starts_at + interval '1 hour', h.room,
        greatest(20, count(*)), count(*), %(physiologist)s, %(physician)s,
        CASE WHEN h.kind IN ('dpp', 'mdpp') THEN %(physiologist)s END, 'scheduled', '',
        h.starts_at - interval '60 days', 'in_person'
    FROM history_session h JOIN clinic_program p ON p.id = h.program_id
    GROUP BY h.program_id, p.name, h.kind, h.starts_at, h.room""",
    "sessions' classes": """
    UPDATE history_session h SET occurrence_id = o.id FROM scheduling_occurrence o
    WHERE o.clinic_id = %(clinic)s AND o.program_id = h.program_id AND o.starts_at = h.starts_at
      AND o.room = h.room""",
    "bookings": """
    INSERT INTO scheduling_booking (clinic_id, occurrence_id, enrollment_id, patient_id, status, is_makeup,
        booked_by_id, booked_at, cancel_reason)
    SELECT %(clinic)s, occurrence_id, enrollment_id, patient_id, 'booked', false, %(physiologist)s,
        starts_at - interval '14 days', ''
    FROM history_session""",
    "sessions' bookings": """
    UPDATE history_session h SET booking_id = b.id FROM scheduling_booking b
    WHERE b.clinic_id = %(clinic)s AND b.occurrence_id = h.occurrence_id AND b.enrollment_id = h.enrollment_id""",
    # The floor sheet's rows. Each enrollment has its own resting values (from its id) and improves a little
    # session by session; `r` varies the rest.
    "session logs": """
    INSERT INTO scheduling_sessionlog (clinic_id, booking_id, occurrence_id, enrollment_id, patient_id, attendance,
        session_number, pre_hr, pre_sbp, pre_dbp, pre_spo2, weight_kg, symptoms, modality, exercise_minutes, mets,
        peak_hr, peak_sbp, rpe, rpe_scale, post_hr, post_sbp, post_dbp, post_spo2, ecg_monitored, rhythm_note,
        continuous_oximetry, activity_minutes, delivery_mode, started_at, ended_at, notes, version, updated_by_id,
        updated_at)
    SELECT %(clinic)s, h.booking_id, h.occurrence_id, h.enrollment_id, h.patient_id, h.attendance, h.number,
        CASE WHEN v.rehab THEN v.hr END, CASE WHEN v.rehab THEN v.sbp END, CASE WHEN v.rehab THEN v.dbp END,
        CASE WHEN v.came AND h.kind = 'pr' THEN v.spo2 END,
        CASE WHEN v.came AND (NOT v.rehab OR h.number % 3 = 1) THEN v.weight END,
        '', CASE WHEN v.rehab THEN (ARRAY['Treadmill', 'Recumbent bike', 'NuStep', 'Arm ergometer'])[1 + h.r % 4]
                 ELSE '' END,
        CASE WHEN v.rehab THEN 35 + h.r % 16 END,
        CASE WHEN v.rehab THEN round(2.0 + least(h.k, 35) * 0.08 + h.r % 5 * 0.1, 1) END,
        CASE WHEN v.rehab THEN v.hr + 28 + least(h.k, 30) / 2 + h.r % 6 END,
        CASE WHEN v.rehab AND h.kind <> 'pr' THEN v.sbp + 22 + h.r % 10 END,
        CASE WHEN v.rehab THEN 11 + h.r % 4 END, 'borg',
        CASE WHEN v.rehab THEN v.hr + 6 + h.r % 5 END, CASE WHEN v.rehab THEN v.sbp + 4 END,
        CASE WHEN v.rehab THEN v.dbp END,
        CASE WHEN v.came AND h.kind = 'pr' THEN CASE WHEN h.r % 50 = 7 THEN 87 ELSE v.spo2 - 1 - h.r % 2 END END,
        v.came AND h.kind IN ('cr', 'icr'),
        CASE WHEN v.came AND h.kind IN ('cr', 'icr') THEN 'Sinus rhythm' ELSE '' END,
        v.came AND h.kind = 'pr', CASE WHEN v.came AND NOT v.rehab THEN 60 + h.r % 150 END, 'in_person',
        CASE WHEN v.timed THEN h.starts_at + CASE WHEN h.attendance = 'late' THEN interval '10 minutes'
                                                  ELSE interval '0 minutes' END END,
        CASE WHEN v.timed THEN h.starts_at + interval '60 minutes' END, '', 1, %(physiologist)s,
        h.starts_at + interval '70 minutes'
    FROM history_session h
    CROSS JOIN LATERAL (SELECT h.attendance <> 'absent' AS came,
                               h.attendance <> 'absent' AND h.kind IN ('cr', 'icr', 'pr') AS rehab,
                               h.attendance <> 'absent' AND h.r % 200 <> 150 AS timed,
                               62 + h.enrollment_id % 20 + h.r % 7 AS hr,
                               116 + h.enrollment_id % 28 + h.r % 9 - least(h.k, 30) / 6 AS sbp,
                               70 + h.enrollment_id % 12 + h.r % 5 AS dbp,
                               92 + h.enrollment_id % 5 + h.r % 2 AS spo2,
                               58 + h.patient_id % 55 + h.patient_id % 10 / 10.0
                                   - CASE WHEN h.kind IN ('dpp', 'mdpp') THEN h.k * (h.enrollment_id % 4) * 0.12
                                          ELSE 0 END AS weight) AS v""",
    "first sessions": """
    UPDATE clinic_enrollment e SET first_session_at = f.first
    FROM (SELECT enrollment_id, min(starts_at) AS first FROM history_session WHERE attendance <> 'absent'
          GROUP BY enrollment_id) AS f
    WHERE e.clinic_id = %(clinic)s AND e.id = f.enrollment_id""",
    # Every measured number of a row as the floor sheet observes it ({observed}: from scheduling.floorsheet).
    "session observations": """
    INSERT INTO clinic_observation (clinic_id, patient_id, enrollment_id, measure_id, value, unit, observed_at, phase,
        source, source_id, recorded_by_id, recorded_at)
    SELECT %(clinic)s, s.patient_id, s.enrollment_id, m.id, v.value, m.unit, coalesce(s.started_at, o.starts_at),
        v.phase, 'session', s.id, %(physiologist)s, s.updated_at
    FROM scheduling_sessionlog s JOIN scheduling_occurrence o ON o.id = s.occurrence_id
    CROSS JOIN LATERAL (VALUES {observed}) AS v(code, value, phase)
    JOIN clinic_measure m ON m.clinic_id IS NULL AND m.code = v.code
    WHERE s.clinic_id = %(clinic)s AND v.value IS NOT NULL""",
    # A plan signed the day before the start and every 30 days after (each covers 30 days: every session);
    # one enrollment in 20 was not re-signed after the first.
    "treatment plans": """
    INSERT INTO clinic_treatmentplan (clinic_id, enrollment_id, version, diagnosis, goals, diagnosis_codes,
        drafted_by_id, signed_at, signed_by_id, signature_meaning, signature_method, signer_name, signer_credential,
        created_at, updated_at)
    SELECT %(clinic)s, e.id, v, coalesce(nullif(r.reason, ''), p.name),
        'Improve functional capacity; return to usual activities.', coalesce(r.diagnosis_codes, '{}'),
        %(physiologist)s, t.signed_at, %(physician)s, 'I have reviewed and approve this plan.', 'password',
        %(signer)s, 'MD', t.signed_at - interval '1 day', t.signed_at
    FROM clinic_enrollment e JOIN clinic_program p ON p.id = e.program_id
    LEFT JOIN referrals_referral r ON r.enrollment_id = e.id AND r.clinic_id = %(clinic)s
    CROSS JOIN generate_series(1, 4) AS v
    CROSS JOIN LATERAL (SELECT e.start_date - 1 + 30 * (v - 1) AS day) d
    CROSS JOIN LATERAL (SELECT (d.day + TIME '12:00') AT TIME ZONE %(tz)s AS signed_at) t
    WHERE e.clinic_id = %(clinic)s AND e.status IN ('active', 'completed') AND p.program_type IN ('cr', 'icr', 'pr')
      AND d.day < least(coalesce(e.ended_on, %(today)s), %(today)s) AND (e.id % 20 <> 0 OR v = 1)""",
    # Baseline at the intake visit, before the first session: enrolled patients who have not started have one.
    "assessments": """
    INSERT INTO outcomes_assessment (clinic_id, patient_id, enrollment_id, battery_id, timepoint, assessed_on,
        performed_by_id, notes, created_at, updated_at)
    SELECT %(clinic)s, e.patient_id, e.id, b.id, t.timepoint, t.day, %(physiologist)s, '',
        (t.day + TIME '13:00') AT TIME ZONE %(tz)s, (t.day + TIME '13:00') AT TIME ZONE %(tz)s
    FROM clinic_enrollment e JOIN clinic_program p ON p.id = e.program_id
    JOIN LATERAL (SELECT id FROM outcomes_battery WHERE clinic_id IS NULL AND program_type = p.program_type
                  AND is_active ORDER BY id LIMIT 1) AS b ON true
    CROSS JOIN LATERAL (VALUES
        ('baseline', least(e.start_date, %(today)s - 1), e.id % 10 < 9),
        ('interim', e.start_date + 30, e.id % 10 < 7 AND e.start_date + 30 < %(today)s),
        ('discharge', e.ended_on, e.id % 10 < 8 AND e.status = 'completed' AND e.ended_on < %(today)s)
    ) AS t(timepoint, day, wanted)
    WHERE e.clinic_id = %(clinic)s AND e.status IN ('enrolled', 'active', 'completed') AND t.wanted""",
    # A value for each measure of the battery; t = 0, 1, 2 at baseline, interim and discharge. Height at baseline
    # only; BMI, DASI METs and 6MWD % of predicted computed as outcomes/computed.py does.
    "assessment observations": """
    INSERT INTO clinic_observation (clinic_id, patient_id, enrollment_id, measure_id, value, unit, observed_at, phase,
        source, source_id, recorded_by_id, recorded_at)
    SELECT %(clinic)s, a.patient_id, a.enrollment_id, m.id, v.value, m.unit,
        (a.assessed_on + TIME '12:00') AT TIME ZONE %(tz)s, '', 'assessment', a.id, %(physiologist)s, a.created_at
    FROM (SELECT a.*, CASE a.timepoint WHEN 'baseline' THEN 0 WHEN 'interim' THEN 1 ELSE 2 END AS t,
                 150 + pt.id % 40 AS height, pt.sex, extract(year FROM age(a.assessed_on, pt.date_of_birth)) AS age,
                 58 + pt.id % 55 + pt.id % 10 / 10.0 AS weight0
          FROM outcomes_assessment a JOIN clinic_patient pt ON pt.id = a.patient_id
          WHERE a.clinic_id = %(clinic)s) AS a
    JOIN outcomes_batteryitem i ON i.battery_id = a.battery_id
    JOIN clinic_measure m ON m.id = i.measure_id
    CROSS JOIN LATERAL (SELECT round(a.weight0 - a.t * (0.8 + a.enrollment_id % 4 * 0.7), 1) AS weight,
                               300 + a.enrollment_id % 200 + a.t * (20 + a.enrollment_id % 40) AS walk,
                               least(58.2, 18 + a.enrollment_id % 30 + a.t * 3) AS dasi) AS x
    CROSS JOIN LATERAL (SELECT CASE a.sex WHEN 'M' THEN 7.57 * a.height - 5.02 * a.age - 1.76 * x.weight - 309
                                          WHEN 'F' THEN 2.11 * a.height - 2.29 * x.weight - 5.78 * a.age + 667
                               END AS walk_predicted) AS y
    CROSS JOIN LATERAL (SELECT CASE m.code
        WHEN '64098-7' THEN x.walk
        WHEN '6mwd-pct-predicted' THEN CASE WHEN y.walk_predicted > 0 AND x.walk * 100 / y.walk_predicted <= 300
                                            THEN round(x.walk * 100 / y.walk_predicted) END
        WHEN '40443-4' THEN 76 + a.enrollment_id % 12 - a.t * 2
        WHEN '8480-6' THEN 130 + a.enrollment_id % 22 - a.t * 3
        WHEN '8462-4' THEN 80 + a.enrollment_id % 10 - a.t
        WHEN '29463-7' THEN x.weight
        WHEN '8302-2' THEN CASE WHEN a.t = 0 THEN a.height END
        WHEN '39156-5' THEN round(x.weight / (a.height / 100.0) ^ 2, 1)
        WHEN '8280-0' THEN 84 + a.patient_id % 40 - a.t * 2
        WHEN '44261-6' THEN greatest(0, a.enrollment_id % 14 - a.t * 2)
        WHEN 'phq9-item9' THEN 0
        WHEN 'dasi' THEN x.dasi
        WHEN 'dasi-mets' THEN round((0.43 * x.dasi + 9.6) / 3.5, 1)
        WHEN '59408-5' THEN 92 + a.enrollment_id % 6
        WHEN '4548-4' THEN 5.7 + a.enrollment_id % 7 / 10.0 - a.t * 0.1
        WHEN 'activity-minutes' THEN 60 + a.enrollment_id % 90 + a.t * 30
    END AS value) AS v
    WHERE v.value IS NOT NULL""",
    "coverages": """
    INSERT INTO billing_coverage (clinic_id, patient_id, payer_id, member_id, starts_on, priority, created_at)
    SELECT %(clinic)s, pt.id, py.id,
        CASE WHEN py.kind = 'medicare' THEN '1EG4TE5MK73' ELSE 'W' || lpad(pt.id::text, 9, '0') END,
        DATE '2020-01-01', 1, now()
    FROM clinic_patient pt JOIN billing_payer py ON py.clinic_id = %(clinic)s AND py.name = pt.primary_payer
    WHERE pt.clinic_id = %(clinic)s""",
}

# A flag per row that trips a rule judged on one of the row's own columns, as the floor sheet raises it.
FLAG_SQL = """
INSERT INTO scheduling_safetyflag (clinic_id, session_log_id, patient_id, rule_id, severity, value, message, status,
    override_reason, created_at)
SELECT %(clinic)s, s.id, s.patient_id, r.id, r.severity, s.{field}, r.message || ' (recorded: ' || s.{field} || ')',
    CASE WHEN o.starts_at >= %(today)s - 14 THEN 'open' ELSE 'resolved' END, '', s.updated_at
FROM scheduling_sessionlog s JOIN scheduling_occurrence o ON o.id = s.occurrence_id
JOIN scheduling_safetyrule r ON r.id = %(rule)s
WHERE s.clinic_id = %(clinic)s AND s.{field} {comparator} r.threshold
"""
COMPARATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
# The session log's own columns a rule may judge (the others are derived: sbp_drop_with_load, hr_over_ceiling).
COLUMNS_JUDGED = {"pre_hr", "pre_sbp", "pre_dbp", "pre_spo2", "pre_glucose", "peak_sbp", "peak_dbp", "post_spo2"}


def present(clinic) -> bool:
    """Whether the clinic has its history (as the owner: the application role sees no rows outside a request)."""
    from scheduling.models import SessionLog

    return SessionLog.objects.filter(clinic=clinic).exists()


def observed_values() -> str:
    """The VALUES rows of the session observations: scheduling.floorsheet's own field -> (code, phase) map."""
    from scheduling.floorsheet import OBSERVED, RPE_MEASURES

    rows = [f"('{code}', s.{field}::numeric, '{phase}')" for field, (code, phase) in OBSERVED.items()]
    scales = " ".join(f"WHEN '{scale}' THEN '{code}'" for scale, code in RPE_MEASURES.items())
    rows.append(f"(CASE s.rpe_scale {scales} END, s.rpe::numeric, 'peak')")
    return ", ".join(rows)


def execute(cursor, statement: str, params: dict) -> int:
    cursor.execute(re.sub(r"%(?!\()", "%%", statement), params)
    return cursor.rowcount


def build(clinic) -> None:
    """The clinic's history (see the module's docstring), then its claim lines; as the owner, all or nothing."""
    from bench.dataset import npi
    from billing.models import BillingRule, FeeScheduleEntry, Payer
    from clinic.models import Membership, Patient, Program
    from scheduling.floorsheet import rules_effective_on

    started = time.perf_counter()
    today = datetime.datetime.now(zoneinfo.ZoneInfo(clinic.timezone)).date()
    # By address: the load test adds more members of each role (bench/loadplan.py).
    physiologist, physician = (
        Membership.objects.select_related("user").get(clinic=clinic, user__email=f"{role}@{clinic.slug}.bench")
        for role in ("physiologist", "physician")
    )
    params = {"clinic": clinic.pk, "tz": clinic.timezone, "today": today, "physiologist": physiologist.pk,
              "physician": physician.pk, "signer": physician.user.get_full_name() or physician.user.email}  # fmt: skip
    print(f"History of {clinic.slug}: sessions, assessments, claim lines…", flush=True)
    with transaction.atomic():
        # What billing needs besides the sessions: NPIs, an approved ICR program, payers and fees.
        rng = random.Random(f"history-{clinic.slug}")
        for member in (physiologist, physician):
            member.npi = member.npi or npi(rng)
            member.save(update_fields=["npi"])
        Program.objects.filter(clinic=clinic, program_type="icr").update(cms_approved_icr=True)
        names = Patient.objects.filter(clinic=clinic).exclude(primary_payer="").values_list("primary_payer", flat=True)
        Payer.objects.bulk_create([Payer(clinic=clinic, name=name, kind=PAYER_KINDS.get(name, "commercial"))
                                   for name in sorted(set(names))])  # fmt: skip
        codes = BillingRule.objects.filter(key__startswith="code_").values_list("value", flat=True).distinct()
        FeeScheduleEntry.objects.bulk_create(
            [FeeScheduleEntry(clinic=clinic, code=code, amount=FEES.get(code, DEFAULT_FEE),
                              effective_from=datetime.date(2020, 1, 1)) for code in sorted(set(codes))]
        )  # fmt: skip
        with connection.cursor() as cursor:
            began = time.perf_counter()
            execute(cursor, PLAN_SQL, params)
            execute(cursor, "ANALYZE history_session", {})  # its size, for the plans of the statements below
            cursor.execute("SELECT count(*) FROM history_session")
            planned = cursor.fetchone()[0]
            print(f"  {clinic.slug}: {planned:,} sessions planned in {time.perf_counter() - began:.1f} s", flush=True)
            for name, statement in BUILD_SQL.items():
                began = time.perf_counter()
                count = execute(cursor, statement.replace("{observed}", observed_values()), params)
                print(f"  {clinic.slug}: {count:,} {name} in {time.perf_counter() - began:.1f} s", flush=True)
            began, count = time.perf_counter(), 0
            for rule in rules_effective_on(today):
                if rule.applies_to == "everyone" and rule.field in COLUMNS_JUDGED:
                    statement = FLAG_SQL.format(field=rule.field, comparator=COMPARATORS[rule.comparator])
                    count += execute(cursor, statement, {**params, "rule": rule.pk})
            print(f"  {clinic.slug}: {count:,} safety flags in {time.perf_counter() - began:.1f} s", flush=True)
    with connection.cursor() as cursor:
        for table in TABLES:  # fresh statistics for the derivation's plans and the pages'
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  {clinic.slug}: history built in {time.perf_counter() - started:.0f} s", flush=True)


def derive_claim_lines(clinic) -> None:
    """The clinic's claim lines, by the derivation the nightly task runs, in the clinic's row-level-security
    scope (as the application). Skipped when the clinic has lines."""
    from billing.claims import claim_lines_derive
    from billing.models import ClaimLine
    from clinic import rls

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        if ClaimLine.objects.filter(clinic=clinic).exists():
            return
        began = time.perf_counter()
        result = claim_lines_derive(clinic=clinic)
        statuses = dict(ClaimLine.objects.filter(clinic=clinic).values_list("status").annotate(n=Count("id")))
    print(f"  {clinic.slug}: {result.created:,} claim lines {statuses} in {time.perf_counter() - began:.1f} s",
          flush=True)  # fmt: skip
