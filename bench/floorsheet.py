"""Benchmark of the floor sheet (scheduling/floorsheet_views.py): the page for a class of 20, and saving one row.

What it measures
    A clinic of its own, bench-floor, with one cardiac-rehab class today holding 20 booked patients, each
    with a current exercise prescription. Signed in as the clinic's physiologist, through django.test.Client
    (the whole middleware stack and template rendering, as bench/measure.py does):

      - the trivial view (`HttpResponse("ok")`, bench/urls.py): the reference
      - the floor sheet of the class (20 rows)
      - saving one row through htmx (a POST that checks ranges, runs the safety rules, writes the session log
        and its observations, and answers the re-rendered row); each save sends the row's current version
        and a changed heart rate, so every save is a real update

    Warm-ups first, then N timed requests of each, round-robin. Targets (issue 8): the sheet < 60 ms median,
    a save < 30 ms median, each shown as a ratio to the trivial view measured in the same run; the query
    counts are printed to show they do not depend on the class (tests assert that).
"""

import datetime
import json
import statistics
import time
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

SLUG = "bench-floor"
CLASS_SIZE = 20
SHEET_TARGET_MS, SAVE_TARGET_MS = 60.0, 30.0
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "floorsheet.json"


def build():
    """The clinic, its physiologist and today's class of 20 (made once, reused; the class moves to today)."""
    from bench.dataset import add_member
    from clinic import prescriptions
    from clinic.dbroles import connected_as_owner
    from clinic.models import Clinic, Enrollment, Patient, Program
    from scheduling.models import Booking, Occurrence

    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    with connected_as_owner():
        clinic = Clinic.objects.filter(slug=SLUG).first()
        if clinic is not None:
            clinic.mfa_required = False  # as bench/dataset.py's clinics: force_login has no second factor
            clinic.save(update_fields=["mfa_required"])
            occurrence = Occurrence.objects.get(clinic=clinic)
            Occurrence.objects.filter(pk=occurrence.pk).update(
                starts_at=start, ends_at=start + datetime.timedelta(hours=1)
            )
            # By address: the load test's physiologists are members here too (bench/loadplan.py).
            return clinic, occurrence, clinic.memberships.get(user__email=f"physiologist@{SLUG}.bench")
        clinic = Clinic.objects.create(name="Bench Floor", slug=SLUG, mfa_required=False)
        physiologist = add_member(clinic, "physiologist")
        program = Program.objects.create(clinic=clinic, name="Phase II Cardiac Rehab", program_type="cr")
        occurrence = Occurrence.objects.create(
            clinic=clinic, program=program, name="CR 9:00", starts_at=start,
            ends_at=start + datetime.timedelta(hours=1), capacity=CLASS_SIZE, booked_count=CLASS_SIZE,
        )  # fmt: skip
        for number in range(CLASS_SIZE):
            patient = Patient.objects.create(
                clinic=clinic, mrn=f"FLOOR{number:03}", first_name=f"Pat{number}", last_name="Floor",
                date_of_birth=datetime.date(1950 + number, 3, 1),
            )  # fmt: skip
            enrollment = Enrollment.objects.create(
                clinic=clinic, patient=patient, program=program, start_date=start.date() - datetime.timedelta(days=30),
                beta_blocker=number % 4 == 0, hr_ceiling=130 if number % 3 == 0 else None,
            )  # fmt: skip
            prescriptions.prescription_save(
                clinic=clinic, actor=physiologist, enrollment=enrollment, data={"resting_hr": 70},
                components={"aerobic": {"intensity_method": "rpe", "intensity_low": 11, "intensity_high": 14,
                                        "minutes": 30, "modality": "Treadmill"}},
            )  # fmt: skip
            Booking.objects.create(
                clinic=clinic, occurrence=occurrence, enrollment=enrollment, patient=patient, booked_by=physiologist
            )
        return clinic, occurrence, physiologist


def save_payload(clinic, booking, heart_rate: int) -> dict:
    """The row's form as the browser posts it, with the row's current version (read untimed)."""
    from clinic import rls
    from scheduling.models import SessionLog

    with rls.scoped(rls.clinic_scope(clinic.pk)):
        log = SessionLog.objects.filter(booking=booking).first()
    prefix = f"b{booking.pk}"
    return {
        f"{prefix}-version": log.version if log else 0,
        f"{prefix}-attendance": "present",
        f"{prefix}-pre_hr": heart_rate,
        f"{prefix}-pre_sbp": 128,
        f"{prefix}-pre_dbp": 78,
        f"{prefix}-pre_spo2": 97,
        f"{prefix}-rpe_scale": "borg",
    }


def timed(send, prepare=None) -> tuple[float, int]:
    """Time `send(prepared)`; `prepare()` (the form a save posts) runs before the clock starts."""
    prepared = prepare() if prepare else None
    connection.queries_log.clear()  # the log keeps 9,000 queries; once full nothing would be counted
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        response = send(prepared) if prepare else send()
        elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise SystemExit(f"floor-sheet bench: HTTP {response.status_code} from {response.request['PATH_INFO']}")
    return elapsed, len(queries)


def run(iterations: int = 50, warmups: int = 5) -> dict:
    from clinic import rls
    from scheduling.models import Booking

    print("\nFloor sheet: building the class of 20…", flush=True)
    clinic, occurrence, physiologist = build()
    client = Client()
    client.force_login(physiologist.user)
    with rls.scoped(rls.clinic_scope(clinic.pk)):
        booking = Booking.objects.filter(occurrence=occurrence).order_by("pk").first()
    trivial_path = reverse("bench_trivial")
    sheet_path = reverse("floor_sheet", args=[clinic.slug, occurrence.pk])
    save_path = reverse("floor_row_save", args=[clinic.slug, occurrence.pk, booking.pk])
    heart_rates = iter(range(10**9))

    def payload():
        return save_payload(clinic, booking, 70 + next(heart_rates) % 20)

    def save(prepared):
        return client.post(save_path, prepared, headers={"HX-Request": "true"})

    # name: (send, prepare); the save's form is read before its clock starts (the browser has it).
    measures = {"trivial view": (lambda: client.get(trivial_path), None), "floor sheet (20 patients)": (
        lambda: client.get(sheet_path), None), "save one row": (save, payload)}  # fmt: skip
    samples = {name: [] for name in measures}
    queries = {name: set() for name in measures}
    for round_number in range(warmups + iterations):
        for name, (send, prepare) in measures.items():
            elapsed, count = timed(send, prepare)
            if round_number >= warmups:
                samples[name].append(elapsed)
                queries[name].add(count)

    trivial = statistics.median(samples["trivial view"])
    targets = {"floor sheet (20 patients)": SHEET_TARGET_MS, "save one row": SAVE_TARGET_MS}
    rows, verdicts = [], {}
    for name, values in samples.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        target = targets.get(name)
        verdicts[name] = None if target is None else median < target
        rows.append((name, median, p95, sorted(queries[name]), median / trivial, target))
    print(f"\nFloor sheet ({iterations} timed requests each, after {warmups} warm-ups):")
    print(f"{'measure':<28} {'median ms':>10} {'p95 ms':>8} {'queries':>10} {'× trivial':>10}  target")
    for name, median, p95, counts, ratio, target in rows:
        shown = "-".join(str(c) for c in (counts[0], counts[-1])) if len(counts) > 1 else str(counts[0])
        goal = f"< {target:.0f} ms: {'PASS' if median < target else 'FAIL'}" if target else "reference"
        print(f"{name:<28} {median:>10.1f} {p95:>8.1f} {shown:>10} {ratio:>9.1f}×  {goal}")
    result = {name: {"median_ms": round(m, 2), "p95_ms": round(p, 2), "queries": c, "ratio_to_trivial": round(r, 2),
                     "target_ms": t} for name, m, p, c, r, t in rows}  # fmt: skip
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return result


def run_in_bench_urls(iterations: int, warmups: int) -> dict:
    with override_settings(ROOT_URLCONF="bench.urls"):
        return run(iterations, warmups)
