"""Benchmark of the documentation packets (billing/packets/): a 40-page cardiac rehab packet's PDF.

What it measures
    A clinic of its own, bench-packets, with one cardiac rehab patient over a year: Medicare coverage, a
    referral, a treatment plan signed every 30 days, SESSIONS attended sessions (two a day on weekdays, with
    vitals, exercise, times and a supervising practitioner, so sessions past 72 are blocked lines with their
    reason) and the derived claim lines (made once, reused). Its packet over the first PERIOD_DAYS days (about
    340 sessions) is about 40 pages.

      - bare WeasyPrint: `HTML(string=html).write_pdf()` on the packet's finished HTML, WeasyPrint's own
        fetcher: the reference
      - the packet's content and HTML alone (billing/packets/content.py and the template)
      - the whole packet as the worker makes it (content, HTML, then clinic.pdf.render_pdf with the
        static-only fetcher)

    Warm-ups first, then N timed runs of each, round-robin; median, p95, the ratio to bare WeasyPrint, and
    the PDF's page count. The packet is written to bench/results/packet.pdf to be looked at.

How to run
    make bench BENCH_ARGS="--packets-only"
    make bench BENCH_ARGS="--packets-only --iterations 5"
"""

import datetime
import io
import json
import statistics
import time
import zoneinfo
from pathlib import Path

SLUG = "bench-packets"
SESSIONS = 560  # more than the period holds, so the period decides the packet's length
PERIOD_DAYS = 240  # about 340 sessions: 40 pages with the plans, the claim lines and their blockers
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "packets.json"
PDF_FILE = RESULTS_FILE.parent / "packet.pdf"
FIRST_DAY = datetime.date(2025, 1, 6)  # a Monday


def build():
    """The clinic, its staff and the patient (made once, reused). Returns (clinic, enrollment, billing member)."""
    from bench.dataset import add_member
    from billing.claims import claim_lines_derive
    from billing.models import Coverage, Payer
    from clinic.dbroles import connected_as_owner
    from clinic.models import ITP_SIGNATURE_MEANING, Clinic, Enrollment, Patient, Program, TreatmentPlan
    from referrals.models import Referral, ReferringProvider
    from scheduling.models import Booking, Occurrence, SessionLog

    with connected_as_owner():
        clinic = Clinic.objects.filter(slug=SLUG).first()
        if clinic is not None:
            return clinic, Enrollment.objects.get(clinic=clinic), clinic.memberships.get(roles__contains=["billing"])
        clinic = Clinic.objects.create(
            name="Bench Packets Cardiac Rehab", slug=SLUG, mfa_required=False, npi="1234567893",
            address="1 Bench Way\nSpringfield, IL 62701", phone="217-555-0100",
        )  # fmt: skip
        physiologist, physician = add_member(clinic, "physiologist"), add_member(clinic, "physician")
        billing = add_member(clinic, "billing")
        physiologist.npi = "1234567893"
        physiologist.save(update_fields=["npi"])
        program = Program.objects.create(clinic=clinic, name="Phase II Cardiac Rehab", program_type="cr")
        patient = Patient.objects.create(clinic=clinic, mrn="PACKET001", first_name="Paula", last_name="Bench",
                                         date_of_birth=datetime.date(1951, 8, 9), sex="F")  # fmt: skip
        payer = Payer.objects.create(clinic=clinic, name="Medicare", kind="medicare")
        Coverage.objects.create(clinic=clinic, patient=patient, payer=payer, member_id="1EG4TE5MK73",
                                starts_on=datetime.date(2020, 1, 1))  # fmt: skip
        enrollment = Enrollment.objects.create(clinic=clinic, patient=patient, program=program, status="active",
                                               start_date=FIRST_DAY)  # fmt: skip
        provider = ReferringProvider.objects.create(clinic=clinic, first_name="Helen", last_name="Park",
                                                    credentials="MD", npi="1234567893")  # fmt: skip
        Referral.objects.create(
            clinic=clinic, referring_provider=provider, program=program, patient=patient, enrollment=enrollment,
            status="accepted", referral_date=FIRST_DAY - datetime.timedelta(days=14), qualifying_condition="mi",
            qualifying_event_date=FIRST_DAY - datetime.timedelta(days=30), diagnosis_codes=["I21.4"],
            patient_first_name="Paula", patient_last_name="Bench", patient_date_of_birth=patient.date_of_birth,
        )  # fmt: skip
        tz = zoneinfo.ZoneInfo(clinic.timezone)
        for version in range(1, 14):
            signed = datetime.datetime.combine(
                FIRST_DAY + datetime.timedelta(days=30 * (version - 1) - 1), datetime.time(12), tzinfo=tz
            )
            TreatmentPlan.objects.create(
                clinic=clinic, enrollment=enrollment, version=version, diagnosis="NSTEMI", diagnosis_codes=["I21.4"],
                goals="Walk daily", drafted_by=physiologist, signed_by=physician, signed_at=signed,
                signature_meaning=ITP_SIGNATURE_MEANING, signature_method="password", signer_name="Dr Bench",
                signer_credential="MD",
            )  # fmt: skip
        day, made = FIRST_DAY, 0
        while made < SESSIONS:
            if day.weekday() < 5:
                for hour in (8, 10):
                    starts_at = datetime.datetime.combine(day, datetime.time(hour), tzinfo=tz)
                    occurrence = Occurrence.objects.create(
                        clinic=clinic, program=program, name="CR", starts_at=starts_at, capacity=12, booked_count=1,
                        ends_at=starts_at + datetime.timedelta(hours=1), staff=physiologist,
                        supervising_practitioner=physiologist,
                    )  # fmt: skip
                    booking = Booking.objects.create(clinic=clinic, occurrence=occurrence, enrollment=enrollment,
                                                     patient=patient, booked_by=physiologist)  # fmt: skip
                    SessionLog.objects.create(
                        clinic=clinic, booking=booking, occurrence=occurrence, enrollment=enrollment, patient=patient,
                        attendance="present", started_at=starts_at, ended_at=starts_at + datetime.timedelta(minutes=55),
                        ecg_monitored=True, pre_hr=74, pre_sbp=134, pre_dbp=82, peak_hr=118, peak_sbp=156, peak_dbp=84,
                        post_hr=88, post_sbp=138, post_dbp=80, rpe=13, modality="Treadmill", exercise_minutes=40,
                        speed_mph=2.8, grade_percent=2, mets=4.1,
                    )  # fmt: skip
                    made += 1
            day += datetime.timedelta(days=1)
        claim_lines_derive(clinic=clinic, enrollment_ids=[enrollment.pk])
        return clinic, enrollment, billing


def run(iterations: int = 5, warmups: int = 1) -> dict:
    from pypdf import PdfReader
    from weasyprint import HTML

    from billing.packets import content, document
    from clinic import rls
    from clinic.pdf import static_dir

    print("\nDocumentation packets: building the patient…", flush=True)
    clinic, enrollment, billing = build()
    period = {"period_start": FIRST_DAY, "period_end": FIRST_DAY + datetime.timedelta(days=PERIOD_DAYS - 1)}
    with rls.scoped(rls.clinic_scope(clinic.pk)):

        def packet():
            return content.packet_content(clinic=clinic, enrollment=enrollment, **period)

        html = document.packet_html(packet(), requested_by=billing)
        base_url = static_dir().as_uri() + "/"
        measures = {
            "bare WeasyPrint (same HTML)": lambda: HTML(string=html, base_url=base_url).write_pdf(),
            "packet content and HTML": lambda: document.packet_html(packet(), requested_by=billing),
            "whole packet (content, HTML, PDF)": lambda: document.packet_pdf(packet(), requested_by=billing),
        }
        pdf = measures["whole packet (content, HTML, PDF)"]()
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        sessions = len(packet().sessions)
        PDF_FILE.parent.mkdir(exist_ok=True)
        PDF_FILE.write_bytes(pdf)  # to look at: pdftoppm -png -r 60 bench/results/packet.pdf /tmp/packet
        samples = {name: [] for name in measures}
        for round_number in range(warmups + iterations):
            for name, work in measures.items():
                began = time.perf_counter()
                work()
                if round_number >= warmups:
                    samples[name].append((time.perf_counter() - began) * 1000)
    bare = statistics.median(samples["bare WeasyPrint (same HTML)"])
    print(f"\nPacket PDF: {pages} pages, {sessions} sessions ({iterations} timed runs each, after {warmups} warm-up):")
    print(f"{'measure':<40} {'median ms':>10} {'p95 ms':>8} {'× bare':>8}")
    result = {"pages": pages, "sessions": sessions}
    for name, values in samples.items():
        median = statistics.median(values)
        p95 = sorted(values)[int(0.95 * (len(values) - 1))]
        print(f"{name:<40} {median:>10.1f} {p95:>8.1f} {median / bare:>7.2f}×")
        result[name] = {"median_ms": round(median, 1), "p95_ms": round(p95, 1),
                        "ratio_to_bare": round(median / bare, 2)}  # fmt: skip
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(result, indent=2))
    return result
