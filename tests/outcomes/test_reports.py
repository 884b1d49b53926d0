"""PDF progress reports: the row first, rendered exactly once by the reports worker, delivered to the
referring physician, downloaded only through the audited, role-checked view."""

import datetime
import io
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from clinic import services as clinic_services
from clinic.models import AuditEntry, OutboundMessage
from clinic.pdf import render_pdf
from outcomes.reports import services
from outcomes.reports.document import report_pdf
from outcomes.reports.models import ReportRequest
from tests.conftest import make_member, run_at_once
from tests.outcomes.report_helpers import cr_patient, wait_until_finished


def TODAY():  # noqa: N802 (reads as the constant it stands for)
    """Today in the test clinics' time zone, as the pages and services see it."""
    return timezone.localdate(timezone=zoneinfo.ZoneInfo("America/New_York"))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def on_demand(team, enrollment, **fields) -> ReportRequest:
    defaults = {"period_start": TODAY() - datetime.timedelta(days=29), "period_end": TODAY(), "comment": ""}
    return ReportRequest.objects.create(
        clinic=enrollment.clinic, patient=enrollment.patient, enrollment=enrollment,
        kind=ReportRequest.Kind.ON_DEMAND, requested_by=team["physiologist"].membership, **{**defaults, **fields},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"


# --- The renderer fetches nothing ---------------------------------------------------------------------


class CountingHandler(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 (http.server's name)
        CountingHandler.hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b'body::before { content: "FETCHED"; }')

    def log_message(self, *args):
        pass


def test_render_pdf_fetches_nothing_from_the_network_and_still_renders():
    server = HTTPServer(("127.0.0.1", 0), CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        pdf = render_pdf(
            f'<html><head><link rel="stylesheet" href="{url}/x.css"></head><body><p>Body text</p>'
            f'<img src="{url}/a.png"><img src="http://example.com/b.png"></body></html>'
        )
    finally:
        server.shutdown()
    assert CountingHandler.hits == 0
    text = pdf_text(pdf)
    assert "Body text" in text and "FETCHED" not in text


def test_render_pdf_reads_no_file_outside_the_static_files(tmp_path):
    outside = tmp_path / "outside.css"
    outside.write_text('body::before { content: "LEAKED"; }')
    pdf = render_pdf(
        f'<html><head><link rel="stylesheet" href="{outside.as_uri()}">'
        '<link rel="stylesheet" href="../../../etc/passwd"></head>'
        '<body><p>Body text</p><img src="file:///etc/passwd"></body></html>'
    )
    text = pdf_text(pdf)
    assert "Body text" in text and "LEAKED" not in text and "root:" not in text


def test_render_pdf_reads_the_project_stylesheet():
    # The print stylesheet numbers the pages ("Page 1 of 1"): it was read from static/.
    pdf = render_pdf('<html><head><link rel="stylesheet" href="css/report-print.css"></head><body>x</body></html>')
    assert "Page 1 of 1" in pdf_text(pdf)


# --- What the report says ------------------------------------------------------------------------------


def test_report_shows_baseline_latest_change_and_attendance(team_a):
    patient, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment, comment="Walking further; keep going.")
    data = report_pdf(report)
    text = pdf_text(data)
    assert len(PdfReader(io.BytesIO(data)).pages) <= 2
    assert "Report, Rita" in text and "R-100" in text
    assert "6-minute walk distance" in text
    assert "350" in text and "410" in text and "+60" in text and "Improved" in text
    assert "3 of 4 sessions (75 %)" in text
    assert "Walking further; keep going." in text
    assert "Treadmill" in text  # the current prescription


def test_report_of_patient_without_assessments_says_so(team_a):
    _, enrollment = cr_patient(team_a)
    enrollment.clinic  # noqa: B018
    from clinic.models import Observation

    Observation.objects.filter(enrollment=enrollment).delete()
    text = pdf_text(report_pdf(on_demand(team_a, enrollment)))
    assert "No assessments recorded yet." in text


# --- Exactly once per period ---------------------------------------------------------------------------


def test_scheduled_report_is_created_once_when_the_job_runs_twice(team_a, django_capture_on_commit_callbacks):
    _, enrollment = cr_patient(team_a, start_days_ago=40)
    with django_capture_on_commit_callbacks():
        assert services.reports_schedule_run() == 1
        assert services.reports_schedule_run() == 0
    report = ReportRequest.objects.get(enrollment=enrollment)
    assert report.kind == "scheduled" and report.requested_by is None
    assert report.period_start == enrollment.start_date
    assert report.period_end == enrollment.start_date + datetime.timedelta(days=29)


def test_no_scheduled_report_before_30_days(team_a):
    cr_patient(team_a, start_days_ago=20)
    assert services.reports_schedule_run() == 0


def test_next_scheduled_report_covers_the_latest_period_ended(team_a):
    _, enrollment = cr_patient(team_a, start_days_ago=95)
    services.reports_schedule_run()
    report = ReportRequest.objects.get(enrollment=enrollment)
    assert report.period_start == enrollment.start_date + datetime.timedelta(days=60)
    assert services.reports_schedule_run() == 0


@pytest.mark.django_db(transaction=True)
def test_schedule_runs_at_once_create_one_report_per_period(team_a):
    _, enrollment = cr_patient(team_a, start_days_ago=40)
    run_at_once(services.reports_schedule_run, 4)
    assert ReportRequest.objects.filter(enrollment=enrollment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_scheduled_report_is_rendered_by_the_worker_and_the_physician_is_emailed(team_a, celery_worker):
    patient, enrollment = cr_patient(team_a, start_days_ago=40)
    services.reports_schedule_run()
    report = wait_until_finished(ReportRequest.objects.get(enrollment=enrollment))
    assert report.status == "ready" and report.attempts == 1
    assert report.file.name.startswith(f"reports/{enrollment.clinic_id}/")
    message = OutboundMessage.objects.get(key=f"report-ready:{report.pk}")
    assert message.to_email == team_a["physician"].user.email
    assert message.kind == "report_ready"
    body = message.subject + message.body
    for private in (patient.first_name, patient.last_name, patient.mrn, "Cardiac", "rehab"):
        assert private not in body
    assert reverse("report_inbox", args=[enrollment.clinic.slug]) in message.body


# --- A worker killed, a Redis outage: delayed, never lost or doubled ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_report_a_killed_worker_left_rendering_is_rendered_later(team_a, celery_worker):
    _, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment)  # no task queued: only the sweeper can find it
    claimed = services._claim(report.pk)  # a worker took it and died before finishing
    assert claimed is not None
    report.refresh_from_db()
    assert report.status == "rendering"
    assert services.reports_sweep() == 0  # not yet given up on
    later = timezone.now() + services.RENDERING_GIVEN_UP_AFTER + datetime.timedelta(seconds=1)
    assert services.reports_sweep(now=later) == 1
    report = wait_until_finished(report)
    assert report.status == "ready" and report.attempts == 2
    # The dead worker coming back to life cannot store a second copy.
    assert services._store(claimed, b"%PDF-late") is False
    report.refresh_from_db()
    assert report.file.read().startswith(b"%PDF") and report.file.size > 1000


@pytest.mark.django_db(transaction=True)
def test_report_queued_while_redis_was_down_is_queued_again_by_the_sweeper(team_a, celery_worker):
    _, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment)  # the row was committed, its task never reached Redis
    later = timezone.now() + services.REQUEUE_AFTER + datetime.timedelta(seconds=1)
    assert services.reports_sweep(now=later) == 1
    assert wait_until_finished(report).status == "ready"


def test_render_called_twice_renders_once(team_a):
    _, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment)
    assert services.report_render(report_id=report.pk) is True
    assert services.report_render(report_id=report.pk) is False
    report.refresh_from_db()
    assert report.status == "ready" and report.attempts == 1


def test_failed_render_is_retried_then_marked_failed(team_a, monkeypatch):
    _, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment)

    def broken(report):
        raise RuntimeError("Rita Report's data")

    monkeypatch.setattr("outcomes.reports.document.report_pdf", broken)
    for _ in range(services.MAX_ATTEMPTS):
        services.report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "failed" and "RuntimeError" in report.error and "Rita" not in report.error


# --- Requesting one on demand --------------------------------------------------------------------------


def test_physiologist_requests_a_report_from_the_chart(team_a, django_capture_on_commit_callbacks):
    patient, enrollment = cr_patient(team_a)
    url = reverse("report_create", args=[patient.clinic.slug, patient.pk])
    data = {"enrollment": enrollment.pk, "period_start": TODAY() - datetime.timedelta(days=29),
            "period_end": TODAY(), "comment": "Good progress."}  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        response = team_a["physiologist"].client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "errorlist" not in response.text, response.text
    report = ReportRequest.objects.get(enrollment=enrollment)
    assert report.kind == "on_demand" and report.status == "queued" and report.comment == "Good progress."
    assert f'id="report-{report.pk}"' in response.text and 'hx-trigger="every 2s"' in response.text
    assert len(callbacks) == 1  # queued after commit


def test_report_period_ending_in_the_future_is_refused_and_nothing_saved(team_a):
    patient, enrollment = cr_patient(team_a)
    url = reverse("report_create", args=[patient.clinic.slug, patient.pk])
    data = {"enrollment": enrollment.pk, "period_start": TODAY(), "period_end": TODAY() + datetime.timedelta(days=3)}
    response = team_a["physiologist"].client.post(url, data, headers={"HX-Request": "true"})
    assert "The period cannot end in the future." in response.text
    assert not ReportRequest.objects.exists()


def test_report_for_another_patient_s_enrollment_is_refused_and_nothing_saved(team_a):
    patient, _ = cr_patient(team_a)
    _, others_enrollment = cr_patient(team_a, mrn="OTHER-1")
    url = reverse("report_create", args=[patient.clinic.slug, patient.pk])
    data = {"enrollment": others_enrollment.pk, "period_start": TODAY(), "period_end": TODAY()}
    response = team_a["physiologist"].client.post(url, data, headers={"HX-Request": "true"})
    assert "Select a valid choice." in response.text
    assert not ReportRequest.objects.exists()


def test_billing_and_physicians_cannot_request_a_report(team_a):
    patient, enrollment = cr_patient(team_a)
    url = reverse("report_create", args=[patient.clinic.slug, patient.pk])
    data = {"enrollment": enrollment.pk, "period_start": TODAY(), "period_end": TODAY()}
    for role in ("billing", "physician"):
        assert team_a[role].client.post(url, data).status_code == 404
    assert not ReportRequest.objects.exists()


def test_chart_offers_the_download_when_ready(team_a):
    patient, enrollment = cr_patient(team_a)
    report = on_demand(team_a, enrollment)
    services.report_render(report_id=report.pk)
    response = team_a["physiologist"].client.get(reverse("report_status", args=[patient.clinic.slug, report.pk]))
    assert "Download PDF" in response.text and "hx-trigger" not in response.text


# --- Who reads it --------------------------------------------------------------------------------------


@pytest.fixture
def two_reports(team_a):
    """A ready report of the physician's own patient, and one of another physician's patient."""
    other = make_member(team_a["admin"].clinic, "physician", "other-physician@alpha.test")
    _, own = cr_patient(team_a, "OWN-1")
    _, theirs = cr_patient(team_a, "OTHER-1", physician=other)
    reports = [on_demand(team_a, own), on_demand(team_a, theirs)]
    for report in reports:
        services.report_render(report_id=report.pk)
    return reports


def test_physician_inbox_lists_only_own_patients_reports(team_a, two_reports, django_assert_max_num_queries):
    own, theirs = two_reports
    with django_assert_max_num_queries(16):  # the same for 1 or 25 rows
        response = team_a["physician"].client.get(reverse("report_inbox", args=["alpha"]))
    assert reverse("report_download", args=["alpha", own.pk]) in response.text
    assert reverse("report_download", args=["alpha", theirs.pk]) not in response.text


def test_the_portal_inbox_lists_the_physicians_reports_from_every_clinic(team_a, team_b, two_reports):
    own, theirs = two_reports
    physician = team_a["physician"]
    in_beta = make_member(team_b["admin"].clinic, "physician", physician.user.email)
    _, beta_enrollment = cr_patient(team_b, "BETA-1", physician=in_beta)
    beta_report = on_demand(team_b, beta_enrollment)
    services.report_render(report_id=beta_report.pk)
    page = physician.client.get(reverse("portal_reports")).text
    assert reverse("report_download", args=["alpha", own.pk]) in page
    assert reverse("report_download", args=[team_b["admin"].clinic.slug, beta_report.pk]) in page
    assert reverse("report_download", args=["alpha", theirs.pk]) not in page


def test_the_portal_inbox_is_audited_in_the_clinic_whose_reports_it_shows(team_a, two_reports):
    own, _ = two_reports
    team_a["physician"].client.get(reverse("portal_reports"))
    shown = AuditEntry.objects.filter(event=AuditEntry.Event.VIEW, changes_text__startswith="Progress reports, all")
    entry = shown.get()
    assert (entry.clinic_id, entry.actor) == (own.clinic_id, team_a["physician"].user)


def test_the_portal_inbox_of_someone_who_is_no_physician_is_empty(team_a, two_reports):
    page = team_a["admin"].client.get(reverse("portal_reports")).text
    assert "You are not a physician in any clinic" in page


def test_the_portal_inbox_requires_sign_in(client, db):
    assert client.get(reverse("portal_reports")).url.startswith(reverse("account_login"))


def test_physician_downloads_own_patients_report_and_it_is_audited(team_a, two_reports):
    own, theirs = two_reports
    client = team_a["physician"].client
    response = client.get(reverse("report_download", args=["alpha", own.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.filter(event=AuditEntry.Event.EXPORT, object_id=own.pk).get()
    assert entry.actor == team_a["physician"].user and entry.patient_id == own.patient_id
    assert client.get(reverse("report_download", args=["alpha", theirs.pk])).status_code == 404


def test_billing_cannot_download_or_list_reports(team_a, two_reports):
    client = team_a["billing"].client
    assert client.get(reverse("report_download", args=["alpha", two_reports[0].pk])).status_code == 404
    assert client.get(reverse("report_inbox", args=["alpha"])).status_code == 404


def test_another_clinics_member_gets_404_for_a_report(team_a, team_b, two_reports):
    client = team_b["admin"].client
    assert client.get(reverse("report_download", args=["alpha", two_reports[0].pk])).status_code == 404
    assert client.get(reverse("report_download", args=["bravo", two_reports[0].pk])).status_code == 404


def test_stored_report_has_no_public_url(settings, team_a, two_reports):
    assert not settings.MEDIA_URL or settings.MEDIA_URL == "/"
    two_reports[0].refresh_from_db()
    path = two_reports[0].file.name
    assert path
    assert team_a["admin"].client.get("/" + path).status_code == 404


# --- API -----------------------------------------------------------------------------------------------


class JsonClient(Client):
    """A personal API token's client that sends JSON bodies."""

    def post(self, path, data=None, **kwargs):
        return super().post(path, data, content_type="application/json", **kwargs)


def api(persona) -> Client:
    _, raw = clinic_services.api_token_create(membership=persona.membership, name="test")
    return JsonClient(headers={"Authorization": f"Bearer {raw}"})


def test_api_creates_lists_reads_and_downloads_a_report(team_a, django_capture_on_commit_callbacks):
    _, enrollment = cr_patient(team_a)
    base = "/api/v1/clinics/alpha/report-requests/"
    body = {"enrollment": enrollment.pk, "period_start": str(TODAY() - datetime.timedelta(days=29)),
            "period_end": str(TODAY()), "comment": "API comment"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        response = api(team_a["physiologist"]).post(base, body)
    assert response.status_code == 201, response.json()
    report_id = response.json()["id"]
    assert response.json()["status"] == "queued" and response.json()["ready"] is False
    physician = api(team_a["physician"])
    assert physician.get(f"{base}{report_id}/download/").status_code == 404  # not ready yet
    services.report_render(report_id=report_id)
    assert physician.get(f"{base}{report_id}/").json()["ready"] is True
    assert [row["id"] for row in physician.get(base).json()["results"]] == [report_id]
    download = physician.get(f"{base}{report_id}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"


def test_api_refuses_an_enrollment_of_another_clinic(team_a, team_b, patient_b):
    from clinic.models import Enrollment
    from tests.conftest import make_program

    theirs = Enrollment.objects.create(
        clinic=patient_b.clinic, patient=patient_b, program=make_program(patient_b.clinic), start_date=TODAY()
    )
    body = {"enrollment": theirs.pk, "period_start": str(TODAY()), "period_end": str(TODAY())}
    response = api(team_a["physiologist"]).post("/api/v1/clinics/alpha/report-requests/", body)
    assert response.status_code == 400 and "enrollment" in response.json()["errors"]
    assert not ReportRequest.objects.exists()


def test_api_report_of_another_clinic_is_404(team_a, team_b, two_reports):
    client = api(team_b["admin"])
    for path in (f"{two_reports[0].pk}/", f"{two_reports[0].pk}/download/"):
        assert client.get(f"/api/v1/clinics/bravo/report-requests/{path}").status_code == 404
        assert client.get(f"/api/v1/clinics/alpha/report-requests/{path}").status_code == 404


def test_report_emails_nothing_for_on_demand_reports(team_a):
    _, enrollment = cr_patient(team_a)
    services.report_render(report_id=on_demand(team_a, enrollment).pk)
    assert not OutboundMessage.objects.filter(kind="report_ready").exists()
    assert mail.outbox == []
