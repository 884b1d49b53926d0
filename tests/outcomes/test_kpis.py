"""The administrators' KPI dashboard: each KPI on a small hand-built data set, the filters, who may see it,
its exports (CSV, XLSX, the observation export through Celery) and its bounded query count."""

import csv
import datetime
import io
import re
import time
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from clinic.models import AuditEntry, Enrollment, Measure, Observation
from outcomes.kpis import exports
from outcomes.kpis.dashboard import dashboard_get
from outcomes.kpis.models import KpiExport
from outcomes.kpis.queries import KpiFilters
from scheduling.models import Booking, Occurrence, SessionLog
from tests.conftest import make_patient, make_program, make_provider, make_referral

NY = zoneinfo.ZoneInfo("America/New_York")
Q1 = KpiFilters(start=datetime.date(2026, 1, 1), end=datetime.date(2026, 3, 31))
JAN, FEB, MAR = datetime.date(2026, 1, 1), datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)
SIX_MWD, SBP, WEIGHT, PHQ9 = "64098-7", "8480-6", "29463-7", "44261-6"


def at(month: int, day: int, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=NY)


class Clinic:
    """Builds one clinic's rows by hand, so each number a test expects can be checked on paper."""

    def __init__(self, team):
        self.team = team
        self.clinic = team["admin"].clinic
        self.recorder = team["physiologist"].membership
        self.cr = make_program(self.clinic, "cr", "Cardiac rehab")
        self.dpp = make_program(self.clinic, "dpp", "Diabetes prevention")
        self.patients = 0

    def enrollment(self, program=None, start=datetime.date(2026, 1, 2), **fields) -> Enrollment:
        self.patients += 1
        patient = make_patient(self.clinic, f"K-{self.patients:03d}", last_name=f"Kpi{self.patients}")
        return Enrollment.objects.create(
            clinic=self.clinic, patient=patient, program=program or self.cr, start_date=start, **fields
        )

    def observe(self, enrollment, code, value, when, source="assessment", phase=""):
        measure = Measure.objects.get(code=code, clinic=None)
        return Observation.objects.create(
            clinic=self.clinic, patient=enrollment.patient, enrollment=enrollment, measure=measure,
            value=Decimal(str(value)), unit=measure.unit, observed_at=when, phase=phase, source=source, source_id=1,
            recorded_by=self.recorder,
        )  # fmt: skip

    def occurrence(self, when, capacity=10, program=None, **fields) -> Occurrence:
        return Occurrence.objects.create(
            clinic=self.clinic, program=program or self.cr, name="Class", starts_at=when,
            ends_at=when + datetime.timedelta(hours=1), capacity=capacity, **fields,
        )  # fmt: skip

    def booking(self, occurrence, status="booked", attendance=None, enrollment=None, recorded_by=None) -> Booking:
        enrollment = enrollment or self.enrollment(program=occurrence.program)
        booking = Booking.objects.create(
            clinic=self.clinic, occurrence=occurrence, enrollment=enrollment, patient=enrollment.patient,
            booked_by=self.recorder, status=status,
        )  # fmt: skip
        if status == "booked":
            Occurrence.objects.filter(pk=occurrence.pk).update(booked_count=occurrence.bookings.filter(
                status="booked").count())  # fmt: skip
        if attendance:
            SessionLog.objects.create(
                clinic=self.clinic, booking=booking, occurrence=occurrence, enrollment=enrollment,
                patient=enrollment.patient, attendance=attendance, updated_by=recorded_by or self.recorder,
            )  # fmt: skip
        return booking


@pytest.fixture
def kpi(team_a):
    return Clinic(team_a)


def board(kpi, filters=Q1):
    return dashboard_get(clinic=kpi.clinic, membership=kpi.team["admin"].membership, filters=filters)


def value(kpi, key, filters=Q1):
    return board(kpi, filters).kpi(key)


# --- Clinical outcomes -------------------------------------------------------------------------------


def outcomes_data(kpi):
    """Two CR enrollments with a later 6MWD: +40 m (reaches the 25 m MCID, latest in February) and +10 m
    (does not, latest in March); a third with a baseline only (not counted)."""
    first, second, baseline_only = kpi.enrollment(), kpi.enrollment(), kpi.enrollment()
    kpi.observe(first, SIX_MWD, 300, at(1, 5))
    kpi.observe(first, SIX_MWD, 340, at(2, 10))
    kpi.observe(second, SIX_MWD, 400, at(1, 6))
    kpi.observe(second, SIX_MWD, 410, at(3, 3))
    kpi.observe(baseline_only, SIX_MWD, 350, at(1, 7))
    return first, second


def test_share_reaching_the_6mwt_mcid_counts_enrollments_with_a_later_walk(kpi):
    outcomes_data(kpi)
    six = value(kpi, "sixmwt_mcid")
    assert (six.total, six.value.count) == (Decimal(50), 2)
    assert six.series == [(JAN, None), (FEB, Decimal(100)), (MAR, Decimal(0))]


def test_an_enrollment_whose_latest_walk_is_after_the_period_is_judged_on_the_last_one_inside(kpi):
    first, _ = outcomes_data(kpi)
    kpi.observe(first, SIX_MWD, 290, at(4, 20))  # after Q1: ignored
    assert value(kpi, "sixmwt_mcid").total == Decimal(50)


def test_mean_sbp_change_prefers_assessments_and_ignores_exercise_readings(kpi):
    first, second, third = kpi.enrollment(), kpi.enrollment(), kpi.enrollment()
    kpi.observe(first, SBP, 140, at(1, 5))
    kpi.observe(first, SBP, 130, at(2, 10))  # -10
    kpi.observe(second, SBP, 120, at(1, 5), source="session", phase="pre")
    kpi.observe(second, SBP, 126, at(3, 1), source="session", phase="pre")  # +6 from session readings alone
    kpi.observe(third, SBP, 150, at(1, 3), source="session", phase="pre")  # earlier, but a session reading
    kpi.observe(third, SBP, 140, at(1, 10))  # baseline: the first assessment
    kpi.observe(third, SBP, 132, at(3, 1))  # latest assessment: -8
    kpi.observe(third, SBP, 160, at(3, 5), source="session", phase="pre")  # later, but a session reading
    kpi.observe(third, SBP, 210, at(3, 6), source="session", phase="peak")  # exercise, never counted
    sbp = value(kpi, "sbp_change")
    assert (sbp.total, sbp.value.count) == (Decimal("-4.0"), 3)
    assert sbp.display == "−4.0 mmHg"
    assert sbp.series == [(JAN, None), (FEB, Decimal("-10.0")), (MAR, Decimal("-1.0"))]


def test_mean_weight_change_is_a_percentage_of_dpp_enrollments_only(kpi):
    losing, gaining, in_cardiac_rehab = kpi.enrollment(kpi.dpp), kpi.enrollment(kpi.dpp), kpi.enrollment()
    kpi.observe(losing, WEIGHT, 100, at(1, 5))
    kpi.observe(losing, WEIGHT, 94, at(3, 5))  # -6 %
    kpi.observe(gaining, WEIGHT, 80, at(1, 5))
    kpi.observe(gaining, WEIGHT, 82, at(3, 5))  # +2.5 %
    kpi.observe(in_cardiac_rehab, WEIGHT, 90, at(1, 5))
    kpi.observe(in_cardiac_rehab, WEIGHT, 70, at(3, 5))
    weight = value(kpi, "weight_change")
    assert (weight.total, weight.value.count) == (Decimal("-1.8"), 2)  # mean -1.75, half up
    assert weight.display == "−1.8 %"


def test_phq9_improvement_needs_a_fall_of_the_mcid(kpi):
    improved, barely, worse = kpi.enrollment(), kpi.enrollment(), kpi.enrollment()
    kpi.observe(improved, PHQ9, 12, at(1, 5))
    kpi.observe(improved, PHQ9, 7, at(2, 5))  # -5: exactly the MCID
    kpi.observe(barely, PHQ9, 8, at(1, 5))
    kpi.observe(barely, PHQ9, 4, at(2, 5))  # -4
    kpi.observe(worse, PHQ9, 3, at(1, 5))
    kpi.observe(worse, PHQ9, 9, at(2, 5))
    phq9 = value(kpi, "phq9_improved")
    assert (phq9.total, phq9.value.count) == (Decimal(33), 3)


def test_completion_rate_is_completed_over_ended_in_the_period(kpi):
    kpi.enrollment(status="completed", ended_on=datetime.date(2026, 3, 20))
    kpi.enrollment(status="discharged", ended_on=datetime.date(2026, 3, 25))
    kpi.enrollment(status="completed", ended_on=datetime.date(2026, 2, 1))
    kpi.enrollment(status="completed", ended_on=datetime.date(2026, 4, 10))  # after the period
    kpi.enrollment(status="active")
    completion = value(kpi, "completion_rate")
    assert (completion.total, completion.value.count) == (Decimal(67), 3)
    assert completion.series == [(JAN, None), (FEB, Decimal(100)), (MAR, Decimal(50))]


def test_active_patients_are_those_with_an_enrollment_open_in_the_period(kpi):
    kpi.enrollment(start=datetime.date(2025, 11, 1), status="completed", ended_on=datetime.date(2026, 1, 15))
    kpi.enrollment(start=datetime.date(2026, 2, 10))
    kpi.enrollment(start=datetime.date(2025, 6, 1), status="completed", ended_on=datetime.date(2025, 12, 31))
    kpi.enrollment(start=datetime.date(2026, 4, 2))
    active = value(kpi, "active_patients")
    assert active.total == 2
    assert active.series == [(JAN, 1), (FEB, 1), (MAR, 1)]


# --- Utilization ------------------------------------------------------------------------------------


def sessions_data(kpi):
    """One class in January, 10 places: booked and present, booked and absent, booked with nothing recorded,
    booked but cancelled at the door, cancelled late, cancelled on time, waitlisted. A class the clinic
    cancelled does not count."""
    january = kpi.occurrence(at(1, 12, 9), staff=kpi.recorder)
    kpi.booking(january, attendance="present")
    kpi.booking(january, attendance="absent")
    kpi.booking(january)
    kpi.booking(january, attendance="cancelled")
    kpi.booking(january, status="late_cancelled")
    kpi.booking(january, status="cancelled")
    kpi.booking(january, status="waitlisted")
    cancelled = kpi.occurrence(at(2, 12, 9), status="cancelled")
    kpi.booking(cancelled, status="class_cancelled")
    return january


def test_attendance_and_no_show_rates_are_over_booked_places_in_held_classes(kpi):
    sessions_data(kpi)
    result = board(kpi)
    assert (result.kpi("attendance_rate").total, result.kpi("attendance_rate").value.count) == (Decimal(33), 3)
    assert result.kpi("no_show_rate").total == Decimal(33)


def test_late_cancellation_rate_is_over_every_booking_made(kpi):
    sessions_data(kpi)
    late = value(kpi, "late_cancel_rate")
    assert (late.total, late.value.count) == (Decimal("16.7"), 6)


def test_capacity_use_is_places_booked_over_places_offered(kpi):
    sessions_data(kpi)
    kpi.occurrence(at(3, 2, 9), capacity=10)  # an empty class in March
    capacity = value(kpi, "capacity_use")
    assert (capacity.total, capacity.value.count) == (Decimal(20), 20)
    assert capacity.series == [(JAN, Decimal(40)), (FEB, None), (MAR, Decimal(0))]


def referrals_data(kpi):
    """Five referrals in Q1: three accepted and started 10, 20 and 40 days after the referral date."""
    smith = make_provider(kpi.clinic, first_name="Ann", last_name="Smith", npi="1234567893")
    jones = make_provider(kpi.clinic, first_name="Bo", last_name="Jones")
    for day, source, provider, started_after in [
        (datetime.date(2026, 1, 5), "staff", smith, 10),
        (datetime.date(2026, 1, 20), "portal", smith, 20),
        (datetime.date(2026, 2, 3), "fhir", jones, 40),
        (datetime.date(2026, 2, 14), "staff", jones, None),
        (datetime.date(2026, 3, 1), "portal", smith, None),
    ]:
        enrollment = None
        if started_after is not None:
            first = datetime.datetime.combine(day + datetime.timedelta(days=started_after), datetime.time(9), NY)
            enrollment = kpi.enrollment(start=day, first_session_at=first)
        make_referral(
            kpi.clinic, provider=provider, program=kpi.cr, referral_date=day,
            source=source, status="accepted" if enrollment else "received", enrollment=enrollment,
        )  # fmt: skip
    make_referral(kpi.clinic, program=kpi.cr, referral_date=datetime.date(2025, 12, 30), provider=smith)
    return smith, jones


def test_enrollment_rate_is_accepted_over_received(kpi):
    referrals_data(kpi)
    result = board(kpi)
    assert result.kpi("referrals").total == 5
    assert result.kpi("enrollment_rate").total == Decimal(60)
    assert result.kpi("referrals").series == [(JAN, 2), (FEB, 2), (MAR, 1)]


def test_days_to_first_session_median_and_90th_percentile(kpi):
    referrals_data(kpi)
    result = board(kpi)
    assert result.kpi("days_to_first_session").total == Decimal("20.0")
    assert result.kpi("days_to_first_session_p90").total == Decimal("36.0")  # 20 + 0.8 × (40 − 20)


def test_referrals_tables_by_source_and_by_physician(kpi):
    referrals_data(kpi)
    result = board(kpi)
    assert result.table("referrals-by-source").rows == [
        ["Physician portal", 2, 1, Decimal("50.0")],
        ["Entered by staff", 2, 1, Decimal("50.0")],
        ["FHIR interface", 1, 1, Decimal("100.0")],
    ]
    by_physician = result.table("referrals-by-physician").rows
    assert [row[0] for row in by_physician] == ["Smith, Ann, MD", "Jones, Bo, MD"]
    assert by_physician[0][2:] == [3, 2, Decimal("66.7"), Decimal("15.0")]


# --- Filters ------------------------------------------------------------------------------------------


def test_program_filter_narrows_every_family(kpi):
    referrals_data(kpi)
    sessions_data(kpi)
    dpp = KpiFilters(start=Q1.start, end=Q1.end, program_id=kpi.dpp.pk)
    result = board(kpi, dpp)
    assert result.kpi("referrals").total == 0
    assert result.kpi("attendance_rate").total is None
    assert result.kpi("capacity_use").total is None
    assert result.kpi("active_patients").total == 0


def test_physician_filter_keeps_that_physicians_referrals_and_patients(kpi):
    smith, _ = referrals_data(kpi)
    mine = KpiFilters(start=Q1.start, end=Q1.end, physician_id=smith.pk)
    result = board(kpi, mine)
    assert result.kpi("referrals").total == 3
    assert result.kpi("days_to_first_session").total == Decimal("15.0")
    assert result.kpi("active_patients").total == 2
    assert result.kpi("capacity_use").unfiltered_by(mine) == ["physician"]


def test_staff_filter_keeps_classes_they_led_or_sessions_they_recorded(kpi):
    sessions_data(kpi)
    other = kpi.team["admin"].membership
    february = kpi.occurrence(at(2, 2, 9))
    kpi.booking(february, attendance="present", recorded_by=other)
    kpi.booking(february, attendance="absent")
    theirs = KpiFilters(start=Q1.start, end=Q1.end, staff_id=other.pk)
    attendance = value(kpi, "attendance_rate", theirs)
    assert (attendance.total, attendance.value.count) == (Decimal(100), 1)


def test_period_filter_leaves_out_what_happened_outside_it(kpi):
    sessions_data(kpi)
    february = KpiFilters(start=datetime.date(2026, 2, 1), end=datetime.date(2026, 2, 28))
    assert value(kpi, "capacity_use", february).total is None


# --- The page ---------------------------------------------------------------------------------------


def dashboard_url(clinic, **params):
    from urllib.parse import urlencode

    return reverse("kpi_dashboard", args=[clinic.slug]) + ("?" + urlencode(params) if params else "")


def test_admin_sees_tiles_charts_tables_and_glossary(kpi):
    referrals_data(kpi)
    outcomes_data(kpi)
    response = kpi.team["admin"].client.get(dashboard_url(kpi.clinic, start="2026-01-01", end="2026-03-31"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Reached the 6MWT MCID" in page and "50 %" in page
    assert page.count('src="data:image/svg+xml;base64,') == 14
    assert "<script" not in page.split("<main")[1]
    assert 'id="def-days_to_first_session_p90"' in page
    assert "Smith, Ann, MD" in page


def test_the_dashboard_is_in_the_admins_navigation_only(team_a):
    assert b">Dashboard</a>" in team_a["admin"].client.get(reverse("clinic_home", args=["alpha"])).content
    assert b">Dashboard</a>" not in team_a["physiologist"].client.get(reverse("clinic_home", args=["alpha"])).content


def test_empty_clinic_gets_the_empty_state(team_a):
    response = team_a["admin"].client.get(dashboard_url(team_a["admin"].clinic))
    assert b"Nothing to show for this period" in response.content


def test_an_end_before_the_start_is_explained_and_the_default_period_shown(kpi):
    response = kpi.team["admin"].client.get(dashboard_url(kpi.clinic, start="2026-03-01", end="2026-01-01"))
    assert b"The end date is before the start date." in response.content
    assert response.context["board"].filters.end > datetime.date(2026, 3, 1)


@pytest.mark.parametrize("role", ["physiologist", "physician", "billing"])
def test_other_roles_get_404_for_the_dashboard_its_exports_and_api(team_a, role):
    client, slug = team_a[role].client, team_a[role].clinic.slug
    assert client.get(reverse("kpi_dashboard", args=[slug])).status_code == 404
    assert client.get(reverse("kpi_table_csv", args=[slug]), {"table": "monthly"}).status_code == 404
    assert client.get(reverse("kpi_dashboard_pdf", args=[slug])).status_code == 404
    assert client.post(reverse("kpi_export_create", args=[slug])).status_code == 404
    assert client.get(reverse("api-kpis", args=[slug])).status_code == 404


def test_an_admin_of_another_clinic_gets_404(team_a, team_b):
    client = team_b["admin"].client
    assert client.get(reverse("kpi_dashboard", args=["alpha"])).status_code == 404
    assert client.get(reverse("api-kpis", args=["alpha"])).status_code == 404


def test_another_clinics_numbers_never_count(kpi, team_b):
    other = Clinic(team_b)
    other_enrollment = other.enrollment()
    other.observe(other_enrollment, SIX_MWD, 100, at(1, 5))
    other.observe(other_enrollment, SIX_MWD, 300, at(2, 5))
    assert value(kpi, "sixmwt_mcid").total is None


def test_the_dashboards_query_count_does_not_grow_with_the_clinic(kpi):
    client, url = kpi.team["admin"].client, dashboard_url(kpi.clinic, start="2026-01-01", end="2026-03-31")
    referrals_data(kpi)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for _ in range(3):
        outcomes_data(kpi)
        sessions_data(kpi)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large) == len(small) <= 20


# --- Exports ----------------------------------------------------------------------------------------


def test_csv_export_of_a_table_holds_its_rows(kpi):
    referrals_data(kpi)
    response = kpi.team["admin"].client.get(
        reverse("kpi_table_csv", args=[kpi.clinic.slug]), {"table": "referrals-by-source", "start": "2026-01-01",
                                                            "end": "2026-03-31"}
    )  # fmt: skip
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["Source", "Referrals", "Accepted", "Enrollment rate (%)"], ["Physician portal", "2", "1", "50.0"],
                    ["Entered by staff", "2", "1", "50.0"], ["FHIR interface", "1", "1", "100.0"]]  # fmt: skip


def test_xlsx_export_of_the_monthly_table_keeps_numbers_as_numbers(kpi):
    referrals_data(kpi)
    response = kpi.team["admin"].client.get(
        reverse("kpi_table_xlsx", args=[kpi.clinic.slug]),
        {"table": "monthly", "start": "2026-01-01", "end": "2026-03-31"},
    )
    assert response["Content-Type"] == exports.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Month" and "Referrals received (n)" in rows[0]
    column = rows[0].index("Referrals received (n)")
    assert [row[column] for row in rows[1:]] == [2, 2, 1]


@pytest.mark.parametrize(("route", "kind"), [("kpi_table_csv", "CSV"), ("kpi_table_xlsx", "XLSX")])
def test_a_table_download_leaves_an_audit_entry_with_its_period_and_filters(kpi, route, kind):
    kpi.team["admin"].client.get(
        reverse(route, args=[kpi.clinic.slug]),
        {"table": "monthly", "start": "2026-01-01", "end": "2026-03-31", "program": kpi.cr.pk},
    )
    entry = AuditEntry.objects.get(clinic=kpi.clinic, event=AuditEntry.Event.EXPORT)
    assert entry.actor == kpi.team["admin"].user
    assert entry.changes_text == (
        f"Downloaded the table KPIs by month as {kind}, 2026-01-01 to 2026-03-31, Program: Cardiac rehab"
    )


def test_an_unknown_table_is_a_404(kpi):
    url = reverse("kpi_table_csv", args=[kpi.clinic.slug])
    assert kpi.team["admin"].client.get(url, {"table": "nope"}).status_code == 404


def pdf_snapshot(kpi, **params):
    return kpi.team["admin"].client.get(
        reverse("kpi_dashboard_pdf", args=[kpi.clinic.slug]), {"start": "2026-01-01", "end": "2026-03-31", **params}
    )


def pdf_text(response) -> str:
    pages = PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


def test_the_pdf_snapshot_holds_the_kpis_and_the_referral_tables_of_the_filters(kpi):
    outcomes_data(kpi)
    referrals_data(kpi)
    response = pdf_snapshot(kpi, program=kpi.cr.pk)
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="dashboard-alpha-20260101-20260331.pdf"' in response["Content-Disposition"]
    text = pdf_text(response)
    assert "Jan 1, 2026 – Mar 31, 2026" in text and "Program: Cardiac rehab" in text
    assert "Reached the 6MWT MCID 50 % over 2 enrollments" in text
    assert "Referrals received 5 over 5 referrals" in text and "Enrollment rate 60 %" in text
    assert "Referral to first session (90th percentile) 36.0 days" in text
    assert "Smith, Ann, MD" in text and "Physician portal 2 1 50.0" in text


def test_the_pdf_snapshot_download_leaves_an_audit_entry(kpi):
    pdf_snapshot(kpi)
    entry = AuditEntry.objects.get(clinic=kpi.clinic, event=AuditEntry.Event.EXPORT)
    assert entry.actor == kpi.team["admin"].user
    assert entry.changes_text == "Downloaded the dashboard as PDF, 2026-01-01 to 2026-03-31"


def test_the_observation_export_page_shows_progress_while_pending(kpi):
    export = KpiExport.objects.create(
        clinic=kpi.clinic, requested_by=kpi.team["admin"].membership, filters={"start": "2026-01-01", "end": "2026-03"}
    )
    KpiExport.objects.filter(pk=export.pk).update(status="running", rows_total=200, rows_done=50)
    response = kpi.team["admin"].client.get(reverse("kpi_export_status", args=[kpi.clinic.slug, export.pk]))
    page = response.content.decode()
    assert '<progress max="100" value="25"' in page and 'hx-trigger="every 1s"' in page
    assert "50 of 200 rows" in page and "Observations 2026-01-01 – 2026-03" in page


def test_the_dashboard_lists_recent_exports_with_their_period(kpi):
    KpiExport.objects.create(clinic=kpi.clinic, requested_by=kpi.team["admin"].membership, status="ready",
                             filters={"start": "2026-01-01", "end": "2026-03-31"})  # fmt: skip
    page = kpi.team["admin"].client.get(reverse("kpi_dashboard", args=[kpi.clinic.slug])).content.decode()
    assert "Observations 2026-01-01 – 2026-03-31" in page


def test_the_observation_copy_reports_progress_and_quotes_formulas(kpi, monkeypatch):
    enrollment = kpi.enrollment()
    enrollment.patient.mrn = "=HYPERLINK(1)"
    enrollment.patient.save()
    for day in range(1, 6):
        kpi.observe(enrollment, SBP, 120 + day, at(1, day))
    kpi.observe(enrollment, SBP, 150, at(5, 1))  # outside the period
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    seen, out = [], io.BytesIO()
    rows = exports.observations_copy(kpi.clinic, Q1, out, seen.append)
    lines = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert rows == 5 and seen and seen[-1] <= 5
    assert lines[0] == exports.OBSERVATIONS_HEADER
    assert lines[1][:4] == ["2026-01-01 12:00", "'=HYPERLINK(1)", "Cardiac rehab", SBP]


@pytest.mark.django_db(transaction=True)
def test_the_observation_export_runs_in_celery_and_downloads_with_an_audit_entry(celery_worker, team_a, settings,
                                                                                  tmp_path):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    kpi = Clinic(team_a)
    enrollment = kpi.enrollment()
    for day in range(1, 11):
        kpi.observe(enrollment, SBP, 120 + day, at(2, day))
    admin = team_a["admin"]
    url = reverse("kpi_export_create", args=[kpi.clinic.slug]) + "?start=2026-01-01&end=2026-03-31"
    response = admin.client.post(url, headers={"HX-Request": "true"})
    assert b"<progress" in response.content or b"Download CSV" in response.content
    export = KpiExport.objects.get(clinic=kpi.clinic)
    deadline = time.monotonic() + 20
    while export.status != "ready" and time.monotonic() < deadline:
        time.sleep(0.2)
        export.refresh_from_db()
    assert (export.status, export.rows_done, export.percent) == ("ready", 10, 100)
    assert export.file.name.startswith(f"clinics/{kpi.clinic.pk}/exports/")
    status = admin.client.get(reverse("kpi_export_status", args=[kpi.clinic.slug, export.pk])).content.decode()
    assert "Download CSV (10 rows)" in status and "hx-trigger" not in status
    download = admin.client.get(reverse("kpi_export_download", args=[kpi.clinic.slug, export.pk]))
    content = b"".join(download.streaming_content).decode()
    assert content.count("\n") == 11
    entry = AuditEntry.objects.filter(clinic=kpi.clinic, event="export").latest("timestamp")
    assert "observation export" in entry.changes_text


def test_another_clinics_export_is_a_404(kpi, team_b):
    export = KpiExport.objects.create(clinic=kpi.clinic, requested_by=kpi.team["admin"].membership, status="ready",
                                      filters={"start": "2026-01-01", "end": "2026-03-31"})  # fmt: skip
    client = team_b["admin"].client
    assert client.get(reverse("kpi_export_status", args=["alpha", export.pk])).status_code == 404
    assert client.get(reverse("kpi_export_status", args=["bravo", export.pk])).status_code == 404
    assert client.get(reverse("kpi_export_download", args=["bravo", export.pk])).status_code == 404


# --- API ---------------------------------------------------------------------------------------------


def test_the_api_gives_values_and_monthly_series_with_the_same_filters(kpi):
    smith, _ = referrals_data(kpi)
    response = kpi.team["admin"].client.get(
        reverse("api-kpis", args=[kpi.clinic.slug]), {"start": "2026-01-01", "end": "2026-03-31",
                                                        "physician": smith.pk}
    )  # fmt: skip
    assert response.status_code == 200
    kpis = {item["key"]: item for item in response.json()["kpis"]}
    assert kpis["referrals"]["value"] == "3"
    assert kpis["referrals"]["monthly"] == [{"month": "2026-01", "value": "2"}, {"month": "2026-02", "value": None},
                                            {"month": "2026-03", "value": "1"}]  # fmt: skip
    assert kpis["capacity_use"]["filters_not_applied"] == ["physician"]
    assert kpis["enrollment_rate"]["definition"].startswith("Referrals accepted")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start": "01/02/2026"}, "start"), ({"end": ""}, "end"), ({"program": "x"}, "program"),
     ({"start": "2026-03-01", "end": "2026-01-01"}, "end"), ({"colour": "red"}, "non_field_errors")],
)  # fmt: skip
def test_the_api_refuses_bad_filters_with_a_message(team_a, params, field):
    response = team_a["admin"].client.get(reverse("api-kpis", args=["alpha"]), params)
    assert response.status_code == 400
    assert field in str(response.json())
