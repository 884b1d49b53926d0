"""Benchmark of the PDF progress reports (outcomes/reports/): one report's rendering, and 500 through the queue.

What it measures
    A clinic of its own, bench-reports, with one cardiac-rehab patient 60 days in: baseline and interim
    assessments (6-minute walk, resting HR and BP, weight, BMI, PHQ-9, DASI), 24 attended sessions with
    vitals, a prescription and a safety flag (made once, reused).

      - bare WeasyPrint: `HTML(string=html).write_pdf()` on the report's finished HTML, WeasyPrint's own
        fetcher: the reference
      - the report's HTML alone: outcomes/progress.py, the charts and the template
      - the whole report as the worker makes it (outcomes.reports.document.report_pdf: the HTML, then
        clinic.pdf.render_pdf with the static-only fetcher), target < 1 s median

    Warm-ups first, then N timed runs of each, round-robin; median, p95 and the ratio to bare WeasyPrint.
    Then QUEUE_SIZE (500) on-demand report rows are written in one transaction and queued after commit, as
    the chart does; one worker consuming the "reports" queue (a thread of this process, Celery's solo pool,
    as in the tests) renders them. Printed: the time from commit until the last is ready, reports per
    second, the worker's CPU time (the figure a loaded machine distorts least), and that each was rendered
    once (attempts = 1). The rows and their files are deleted after.

How to run
    make bench BENCH_ARGS="--reports-only"
    make bench BENCH_ARGS="--reports-only --queue-reports 100"
"""

import datetime
import json
import statistics
import time
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

SLUG = "bench-reports"
RENDER_TARGET_MS = 1000.0
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "reports.json"
ASSESSMENTS = {  # code: (baseline, interim)
    "64098-7": ("352", "418"),  # 6-minute walk distance, m
    "8867-4": ("76", "68"),  # resting heart rate
    "8480-6": ("144", "131"),  # systolic pressure
    "8462-4": ("88", "80"),  # diastolic pressure
    "29463-7": ("94.2", "91.6"),  # weight, kg
    "39156-5": ("31.2", "30.3"),  # BMI
    "44261-6": ("11", "5"),  # PHQ-9
}


def build():
    """The clinic, its staff and the patient (made once, reused). Returns (clinic, enrollment, physiologist)."""
    from bench.dataset import add_member
    from clinic import prescriptions
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic, Enrollment, Measure, Observation, Patient, Program
    from referrals.services import headline_default
    from scheduling.models import Booking, Occurrence, SessionLog

    with connected_as_owner():
        clinic = Clinic.objects.filter(slug=SLUG).first()
        if clinic is not None:
            return (
                clinic,
                Enrollment.objects.get(clinic=clinic),
                clinic.memberships.get(roles__contains=["physiologist"]),
            )
        clinic = Clinic.objects.create(name="Bench Reports Cardiac Rehab", slug=SLUG, mfa_required=False,
                                       address="1 Bench Way\nSpringfield, IL 62701", phone="217-555-0100")  # fmt: skip
        physiologist = add_member(clinic, "physiologist")
        program = Program.objects.create(
            clinic=clinic, name="Phase II Cardiac Rehab", program_type="cr", headline_measure=headline_default("cr")
        )
        patient = Patient.objects.create(clinic=clinic, mrn="REPORT001", first_name="Rita", last_name="Bench",
                                         date_of_birth=datetime.date(1952, 5, 17), sex="F")  # fmt: skip
        today = timezone.localdate()
        enrollment = Enrollment.objects.create(clinic=clinic, patient=patient, program=program, status="active",
                                               start_date=today - datetime.timedelta(days=60))  # fmt: skip
        now = timezone.now()
        for code, values in ASSESSMENTS.items():
            measure = Measure.objects.filter(code=code, clinic=None).first()
            if measure is None:
                continue
            for value, days_ago in zip(values, (58, 5), strict=True):
                Observation.objects.create(
                    clinic=clinic, patient=patient, enrollment=enrollment, measure=measure, value=Decimal(value),
                    unit=measure.unit, observed_at=now - datetime.timedelta(days=days_ago), source="assessment",
                    source_id=days_ago, recorded_by=physiologist,
                )  # fmt: skip
        for number in range(24):
            starts_at = now - datetime.timedelta(days=56 - number * 2, hours=1)
            occurrence = Occurrence.objects.create(
                clinic=clinic, program=program, name="CR 9:00", starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(hours=1), capacity=12, booked_count=1,
            )  # fmt: skip
            booking = Booking.objects.create(clinic=clinic, occurrence=occurrence, enrollment=enrollment,
                                             patient=patient, booked_by=physiologist)  # fmt: skip
            SessionLog.objects.create(
                clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=patient,
                attendance="present", pre_hr=78 - number // 3, peak_hr=112 + number // 2, pre_sbp=142 - number // 2,
                peak_sbp=158, exercise_minutes=30 + number,
            )  # fmt: skip
        prescriptions.prescription_save(
            clinic=clinic, actor=physiologist, enrollment=enrollment, data={"resting_hr": 70},
            components={"aerobic": {"intensity_method": "rpe", "intensity_low": 11, "intensity_high": 14,
                                    "minutes": 30, "frequency_per_week": 3, "modality": "Treadmill"}},
        )  # fmt: skip
        return clinic, enrollment, physiologist


def new_request(clinic, enrollment, physiologist):
    from outcomes.reports.models import ReportRequest

    today = timezone.localdate()
    return ReportRequest.objects.create(
        clinic=clinic, patient_id=enrollment.patient_id, enrollment=enrollment, kind="on_demand",
        period_start=today - datetime.timedelta(days=29), period_end=today, requested_by=physiologist,
        comment="Walking further at a lower heart rate; blood pressure now in range. Continue three sessions a week.",
    )  # fmt: skip


def measure_rendering(clinic, enrollment, physiologist, iterations: int, warmups: int) -> dict:
    from weasyprint import HTML

    from clinic import rls
    from clinic.pdf import static_dir
    from outcomes.reports.document import report_html, report_pdf
    from outcomes.reports.models import ReportRequest

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        report = new_request(clinic, enrollment, physiologist)
        loaded = ReportRequest.objects.select_related(
            "clinic", "enrollment__patient", "enrollment__program", "requested_by__user"
        ).get(pk=report.pk)
        html = report_html(loaded)
        base_url = static_dir().as_uri() + "/"
        measures = {
            "bare WeasyPrint (same HTML)": lambda: HTML(string=html, base_url=base_url).write_pdf(),
            "report HTML (progress, charts, template)": lambda: report_html(loaded),
            "whole report (HTML + PDF, as the worker)": lambda: report_pdf(report),
        }
        samples = {name: [] for name in measures}
        for round_number in range(warmups + iterations):
            for name, run in measures.items():
                began = time.perf_counter()
                run()
                if round_number >= warmups:
                    samples[name].append((time.perf_counter() - began) * 1000)
        ReportRequest.objects.filter(pk=report.pk).delete()
    bare = statistics.median(samples["bare WeasyPrint (same HTML)"])
    print(f"\nProgress report rendering ({iterations} timed runs each, after {warmups} warm-ups):")
    print(f"{'measure':<44} {'median ms':>10} {'p95 ms':>8} {'× bare':>8}  target")
    result = {}
    for name, values in samples.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        goal = ""
        if name.startswith("whole report"):
            goal = f"< {RENDER_TARGET_MS:.0f} ms: {'PASS' if median < RENDER_TARGET_MS else 'FAIL'}"
        elif name.startswith("bare"):
            goal = "reference"
        print(f"{name:<44} {median:>10.1f} {p95:>8.1f} {median / bare:>7.2f}×  {goal}")
        result[name] = {
            "median_ms": round(median, 1),
            "p95_ms": round(p95, 1),
            "ratio_to_bare": round(median / bare, 2),
        }
    return result


def measure_queue(clinic, enrollment, physiologist, count: int) -> dict:
    from celery.contrib.testing.worker import start_worker

    from clinic import rls
    from clinic.celery import app
    from outcomes.reports.models import ReportRequest

    print(f"\n{count} reports through the queue (one worker on the 'reports' queue)…", flush=True)
    clear_leftovers(clinic)
    app.conf.task_always_eager = False
    worker = start_worker(app, pool="solo", perform_ping_check=False, queues=["reports"], shutdown_timeout=60)
    with worker, rls.scoped(rls.clinic_scope(clinic.pk)):
        with transaction.atomic():
            ids = [new_request(clinic, enrollment, physiologist).pk for _ in range(count)]
            for pk in ids:
                transaction.on_commit(lambda pk=pk: _queue(clinic.pk, pk))
            began = time.perf_counter()  # the clock runs from the commit, the 500 publishes included
            cpu_began = time.process_time()
        rows = ReportRequest.objects.filter(pk__in=ids)
        while rows.exclude(status__in=["ready", "failed"]).exists():
            time.sleep(0.5)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        ready = rows.filter(status="ready", attempts=1).count()
        failed = rows.filter(status="failed").count()
        for report in rows:
            report.file.delete(save=False)
        rows.delete()
    print(f"{count} reports: {elapsed:.1f} s from commit to the last ready ({count / elapsed:.1f} reports/s, "
          f"{elapsed / count * 1000:.0f} ms each); {ready} rendered exactly once, {failed} failed")  # fmt: skip
    # The worker's CPU time says what the reports cost whatever else the machine runs (wall time does not).
    print(f"CPU time of the worker (this process): {cpu:.1f} s, {cpu / count * 1000:.0f} ms per report")
    return {"reports": count, "seconds": round(elapsed, 1), "per_second": round(count / elapsed, 2),
            "cpu_seconds": round(cpu, 1), "ready_once": ready, "failed": failed}  # fmt: skip


def clear_leftovers(clinic) -> None:
    """A run stopped halfway leaves its rows and their messages on the queue: the next run's worker would
    render those first and its time would count them."""
    from clinic import rls
    from clinic.celery import app
    from outcomes.reports.models import ReportRequest

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        for report in ReportRequest.objects.filter(clinic=clinic).exclude(file=""):
            report.file.delete(save=False)
        ReportRequest.objects.filter(clinic=clinic).delete()
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("reports")


def _queue(clinic_id: int, report_id: int) -> None:
    from outcomes.reports import tasks

    tasks.render_report.delay(clinic_id, report_id)


def run(iterations: int = 20, warmups: int = 3, queue_reports: int = 500) -> dict:
    print("\nProgress reports: building the patient…", flush=True)
    clinic, enrollment, physiologist = build()
    result = {"rendering": measure_rendering(clinic, enrollment, physiologist, iterations, warmups)}
    if queue_reports:
        result["queue"] = measure_queue(clinic, enrollment, physiologist, queue_reports)
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return result
