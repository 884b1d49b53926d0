"""Documentation packets: what the PDF and CSV hold, the request row made once and rendered once, the batch
ZIP, the pages and API, who may ask for them and download them."""

import csv
import datetime
import io
import zipfile

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing.claims import claim_lines_derive
from billing.packets import document, services
from billing.packets.content import packet_content
from billing.packets.models import PacketRequest
from clinic import services as clinic_services
from clinic.models import AuditEntry, Enrollment
from tests.billing.factories import START, add_session, add_sessions, covered_enrollment, kg, staff
from tests.conftest import make_referral
from tests.outcomes.helpers import baseline_values, record

PERIOD = {"period_start": START, "period_end": START + datetime.timedelta(days=59)}
NOTES = {"notes": "Private note about home life", "symptoms": "Mild dyspnea on stairs", "rhythm_note": "Rare PVCs"}


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def rehab_enrollment(clinic, mrn="P-100", sessions=3):
    """A cardiac rehab patient: coverage, a referral, signed plans, attended sessions with vitals and notes,
    entry and discharge assessments, derived claim lines."""
    enrollment = covered_enrollment(clinic, "cr", mrn=mrn)
    make_referral(
        clinic, patient=enrollment.patient, program=enrollment.program, enrollment=enrollment,
        qualifying_condition="mi", qualifying_event_date=START - datetime.timedelta(days=20),
        diagnosis_codes=["I21.4"], referral_date=START - datetime.timedelta(days=10),
    )  # fmt: skip
    add_sessions(
        enrollment, sessions, pre_hr=71, pre_sbp=128, pre_dbp=78, peak_hr=118, peak_sbp=152, peak_dbp=80,
        modality="Treadmill", exercise_minutes=35, **NOTES,
    )  # fmt: skip
    physiologist = staff(clinic)
    enrollment.patient.refresh_from_db()  # its date of birth as a date, not the string it was made with
    record(enrollment, physiologist, timepoint="baseline", days_ago=200)
    record(enrollment, physiologist, timepoint="discharge", days_ago=100, values=baseline_values(**{"64098-7": "463"}))
    claim_lines_derive(clinic=clinic, enrollment_ids=[enrollment.pk])
    return enrollment


def mdpp_enrollment(clinic, mrn="M-100"):
    """A Medicare DPP participant: baseline 100 kg, then 96 kg (4 %) and 95 kg (5 %), a coach with an NPI."""
    enrollment = covered_enrollment(clinic, "mdpp", mrn=mrn)
    make_referral(
        clinic, patient=enrollment.patient, program=enrollment.program, enrollment=enrollment,
        qualifying_condition="prediabetes", a1c_percent="6.1", lab_test_date=START - datetime.timedelta(days=30),
    )  # fmt: skip
    coach = staff(clinic, "physiologist", npi="1234567893")
    for days, weight in ((0, "100"), (7, "96"), (14, "95")):
        add_session(enrollment, START + datetime.timedelta(days=days), coach=coach, weight_kg=kg(weight),
                    activity_minutes=150, **NOTES)  # fmt: skip
    claim_lines_derive(clinic=clinic, enrollment_ids=[enrollment.pk])
    return enrollment


def content(enrollment):
    return packet_content(clinic=enrollment.clinic, enrollment=enrollment, **PERIOD)


def request(team, enrollment=None, program=None, role="billing", **period):
    packet, _ = services.packet_request_create(
        clinic=team[role].clinic, actor=team[role].membership, enrollment=enrollment, program=program,
        **{**PERIOD, **period},
    )  # fmt: skip
    return packet


# --- What the packet says --------------------------------------------------------------------------------


def test_rehab_pdf_shows_plan_signatures_sessions_and_claim_codes(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    text = pdf_text(document.packet_pdf(content(enrollment)))
    assert "P-100" in text and "I21.4" in text and "Acute myocardial infarction" in text
    # Every plan version with its signature date (plans signed the day before START and every 30 days).
    for signed in ("03/01/2026", "03/31/2026", "04/30/2026", "05/30/2026"):
        assert signed in text
    assert "v1" in text and "v4" in text and "I have reviewed and approve" in text
    for day in ("03/02/2026", "03/03/2026", "03/04/2026"):
        assert day in text
    assert "08:00–09:00" in text and "60 min" in text and "Continuous ECG" in text
    assert "HR 71" in text and "BP 152/80" in text
    assert "Treadmill · 35 min" in text
    assert "93798" in text and "Ready" in text
    assert "463" in text  # the discharge 6-minute walk


def test_packet_leaves_out_clinicians_free_text(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    text = pdf_text(document.packet_pdf(content(enrollment)))
    data = document.packet_csv(content(enrollment)).decode()
    for note in (*NOTES.values(), "Walk 30 minutes daily", "NSTEMI, PCI to the LAD"):
        assert note not in text and note not in data


def test_rehab_csv_has_its_columns_and_a_row_per_session(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    rows = list(csv.DictReader(io.StringIO(document.packet_csv(content(enrollment)).decode())))
    assert list(rows[0]) == document.REHAB_COLUMNS
    assert [row["date"] for row in rows] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert rows[0]["minutes"] == "60" and rows[0]["monitoring"] == "Continuous ECG"
    assert rows[0]["pre_bp"] == "128/78" and rows[0]["claim_codes"] == "93798" and rows[0]["claim_status"] == "Ready"


def test_sessions_outside_the_period_are_left_out_but_keep_their_numbers(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    second_day = START + datetime.timedelta(days=1)
    day = {"period_start": second_day, "period_end": second_day}
    data = packet_content(clinic=enrollment.clinic, enrollment=enrollment, **day)
    assert [(row.number, row.day) for row in data.sessions] == [(2, second_day)]
    assert [line.date_of_service for line in data.lines] == [second_day]


def test_dpp_pdf_shows_baseline_sessions_coach_milestones_and_codes(team_a):
    enrollment = mdpp_enrollment(team_a["admin"].clinic)
    text = pdf_text(document.packet_pdf(content(enrollment)))
    assert "220.5 lb at the first session, 03/02/2026" in text  # 100 kg
    assert "In person" in text and "Core" in text and "1234567893" in text
    assert "-5.0 %" in text and "G9886" in text
    assert "5 % weight loss" in text and "03/16/2026" in text and "G9880" in text
    assert "A1c 6.1% on 2026-01-31" in text


def test_dpp_csv_columns_and_delivery_mode_in_person_when_the_floor_sheet_has_none(team_a):
    enrollment = mdpp_enrollment(team_a["admin"].clinic)
    rows = list(csv.DictReader(io.StringIO(document.packet_csv(content(enrollment)).decode())))
    assert list(rows[0]) == document.DPP_COLUMNS
    assert [row["delivery_mode"] for row in rows] == ["In person"] * 3
    assert [row["session_type"] for row in rows] == ["C"] * 3
    assert [row["weight_change_percent"] for row in rows] == ["0.0", "-4.0", "-5.0"]
    assert rows[2]["codes_claimed"] == "G9886 G9888" or rows[2]["codes_claimed"].startswith("G9886")


# --- The request: a row once, rendered once ---------------------------------------------------------------


def test_asking_twice_while_pending_gives_the_same_row(team_a, django_capture_on_commit_callbacks):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    with django_capture_on_commit_callbacks() as callbacks:
        first, created = services.packet_request_create(
            clinic=enrollment.clinic, actor=team_a["billing"].membership, enrollment=enrollment, **PERIOD
        )
        second, again = services.packet_request_create(
            clinic=enrollment.clinic, actor=team_a["admin"].membership, enrollment=enrollment, **PERIOD
        )
    assert (created, again, first.pk) == (True, False, second.pk)
    assert PacketRequest.objects.count() == 1 and len(callbacks) == 1


def test_render_run_twice_renders_once(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, enrollment)
    assert services.packet_render(packet_id=packet.pk) is True
    assert services.packet_render(packet_id=packet.pk) is False
    packet.refresh_from_db()
    assert (packet.status, packet.attempts, packet.enrollment_ids) == ("ready", 1, [enrollment.pk])
    assert packet.file.name.startswith(f"clinics/{enrollment.clinic_id}/packets/")
    assert packet.file.read().startswith(b"%PDF") and packet.csv_file.read().startswith(b"mrn,patient")


def test_a_finished_packet_can_be_asked_for_again(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    services.packet_render(packet_id=request(team_a, enrollment).pk)
    assert request(team_a, enrollment).status == "queued"
    assert PacketRequest.objects.count() == 2


def test_a_program_without_packets_is_refused_and_nothing_saved(team_a):
    from django.core.exceptions import ValidationError

    enrollment = covered_enrollment(team_a["admin"].clinic, "post_rehab", mrn="X-1")
    with pytest.raises(ValidationError, match="Packets are made for"):
        request(team_a, enrollment)
    assert not PacketRequest.objects.exists()


def test_a_period_ending_before_it_starts_is_refused(team_a):
    from django.core.exceptions import ValidationError

    enrollment = rehab_enrollment(team_a["admin"].clinic)
    with pytest.raises(ValidationError, match="must end on or after"):
        request(team_a, enrollment, period_start=START, period_end=START - datetime.timedelta(days=1))
    assert not PacketRequest.objects.exists()


def test_packet_a_killed_worker_left_is_given_back_by_the_sweeper(team_a):
    from django.utils import timezone

    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, enrollment)
    claimed = services._claim(packet.pk)  # a worker took it and died
    later = timezone.now() + services.RENDERING_GIVEN_UP_AFTER + datetime.timedelta(seconds=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "request_render", lambda packet: None)
        assert services.packets_sweep(now=later) == 1
    assert services.packet_render(packet_id=packet.pk) is True
    assert services._store(claimed, io.BytesIO(b"%PDF-late"), "late.pdf", io.StringIO(""), []) is False
    packet.refresh_from_db()
    assert packet.status == "ready" and packet.attempts == 2


# --- The batch ZIP ----------------------------------------------------------------------------------------


def test_batch_zip_holds_one_pdf_per_enrollment_with_a_session_in_the_period(team_a):
    clinic = team_a["admin"].clinic
    first = rehab_enrollment(clinic, "P-1")
    second = Enrollment.objects.create(clinic=clinic, patient=first.patient, program=first.program, start_date=START)
    add_sessions(second, 2)
    idle = Enrollment.objects.create(clinic=clinic, patient=first.patient, program=first.program, start_date=START)
    add_session(idle, START + datetime.timedelta(days=200))  # outside the period
    packet = request(team_a, program=first.program)
    assert services.packet_render(packet_id=packet.pk) is True
    packet.refresh_from_db()
    with zipfile.ZipFile(packet.file.open("rb")) as archive:
        pdfs = [name for name in archive.namelist() if name.endswith(".pdf")]
        rows = list(csv.DictReader(io.StringIO(archive.read("packets.csv").decode())))
    assert len(pdfs) == 2 and sorted(packet.enrollment_ids) == sorted([first.pk, second.pk])
    assert (packet.items_done, packet.items_total) == (2, 2)
    assert sorted({row["enrollment"] for row in rows}) == sorted([str(first.pk), str(second.pk)])


@pytest.mark.django_db(transaction=True)
def test_batch_is_made_by_the_worker_and_the_page_shows_it_ready(team_a, celery_worker):
    import time

    clinic = team_a["admin"].clinic
    enrollment = rehab_enrollment(clinic, "P-9")
    billing = team_a["billing"]
    data = {"program": enrollment.program_id, **PERIOD}
    response = billing.client.post(reverse("batch_create", args=[clinic.slug]), data)
    assert response.status_code == 302
    packet = PacketRequest.objects.get()
    deadline = time.monotonic() + 60
    while not packet.is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
        packet.refresh_from_db()
    assert packet.status == "ready" and packet.attempts == 1
    row = billing.client.get(reverse("packet_status", args=[clinic.slug, packet.pk])).text
    assert "ZIP" in row and "hx-trigger" not in row


# --- Pages, downloads, roles ------------------------------------------------------------------------------


def test_the_page_shows_a_pending_packet_with_a_progress_bar_polled_by_htmx(team_a, django_assert_max_num_queries):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    for _ in range(3):
        packet = request(team_a, enrollment)
        services.packet_render(packet_id=packet.pk)
    request(team_a, enrollment)
    with django_assert_max_num_queries(20):
        response = team_a["billing"].client.get(reverse("packet_list", args=["alpha"]))
    assert response.status_code == 200
    assert "<progress" in response.text and 'hx-trigger="every 2s"' in response.text
    assert response.text.count("packet-download") == 3


def test_billing_requests_a_packet_from_the_patients_page(team_a, django_capture_on_commit_callbacks):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    client = team_a["billing"].client
    form = client.get(reverse("packet_list", args=["alpha"]), {"patient": enrollment.patient_id})
    assert f'value="{enrollment.pk}"' in form.text
    data = {"patient": enrollment.patient_id, "enrollment": enrollment.pk, **PERIOD}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("packet_create", args=["alpha"]), data)
    assert response.status_code == 302
    assert PacketRequest.objects.get().enrollment == enrollment


def test_a_bad_period_on_the_page_is_explained_and_nothing_saved(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    data = {"patient": enrollment.patient_id, "enrollment": enrollment.pk, "period_start": START,
            "period_end": START - datetime.timedelta(days=3)}  # fmt: skip
    response = team_a["billing"].client.post(reverse("packet_create", args=["alpha"]), data)
    assert response.status_code == 400 and "The period must end on or after its first day." in response.text
    assert not PacketRequest.objects.exists()


def test_the_chart_offers_billing_the_packet(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    chart = reverse("patient_detail", args=["alpha", enrollment.patient_id])
    link = f"{reverse('packet_list', args=['alpha'])}?patient={enrollment.patient_id}"
    assert link in team_a["billing"].client.get(chart).text
    assert link not in team_a["physiologist"].client.get(chart).text


def test_download_is_audited_as_an_export_of_the_patient(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, enrollment)
    services.packet_render(packet_id=packet.pk)
    response = team_a["billing"].client.get(reverse("packet_download", args=["alpha", packet.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF") and response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(event=AuditEntry.Event.EXPORT, object_id=packet.pk)
    assert entry.actor == team_a["billing"].user and entry.patient_id == enrollment.patient_id
    csv_response = team_a["billing"].client.get(reverse("packet_download_csv", args=["alpha", packet.pk]))
    assert csv_response["Content-Type"] == "text/csv"


def test_batch_download_audits_every_enrollment_it_holds(team_a):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, program=enrollment.program)
    services.packet_render(packet_id=packet.pk)
    response = team_a["admin"].client.get(reverse("packet_download", args=["alpha", packet.pk]))
    assert response["Content-Type"] == "application/zip"
    entry = AuditEntry.objects.get(event=AuditEntry.Event.EXPORT)
    assert entry.additional_data == {"ids": [enrollment.pk]}


@pytest.mark.parametrize("role", ["physiologist", "physician"])
def test_clinicians_cannot_see_request_or_download_packets(team_a, role):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, enrollment)
    services.packet_render(packet_id=packet.pk)
    client = team_a[role].client
    assert client.get(reverse("packet_list", args=["alpha"])).status_code == 404
    assert client.get(reverse("packet_download", args=["alpha", packet.pk])).status_code == 404
    data = {"patient": enrollment.patient_id, "enrollment": enrollment.pk, **PERIOD}
    assert client.post(reverse("packet_create", args=["alpha"]), data).status_code == 404
    assert api(team_a[role]).get("/api/v1/clinics/alpha/billing/packets/").status_code == 404


def test_another_clinics_member_gets_404_for_a_packet(team_a, team_b):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    packet = request(team_a, enrollment)
    services.packet_render(packet_id=packet.pk)
    client = team_b["billing"].client
    for slug in ("alpha", "bravo"):
        assert client.get(reverse("packet_download", args=[slug, packet.pk])).status_code == 404
        assert api(team_b["billing"]).get(f"/api/v1/clinics/{slug}/billing/packets/{packet.pk}/").status_code == 404


# --- API -------------------------------------------------------------------------------------------------


class JsonClient:
    def __init__(self, persona):
        from django.test import Client

        _, raw = clinic_services.api_token_create(membership=persona.membership, name="test")
        self.client = Client(headers={"Authorization": f"Bearer {raw}"})

    def get(self, path):
        return self.client.get(path)

    def post(self, path, data):
        return self.client.post(path, data, content_type="application/json")


def api(persona) -> JsonClient:
    return JsonClient(persona)


def test_api_creates_lists_and_downloads_a_packet(team_a, django_capture_on_commit_callbacks):
    enrollment = rehab_enrollment(team_a["admin"].clinic)
    base = "/api/v1/clinics/alpha/billing/packets/"
    body = {"enrollment": enrollment.pk, "period_start": str(PERIOD["period_start"]),
            "period_end": str(PERIOD["period_end"])}  # fmt: skip
    client = api(team_a["billing"])
    with django_capture_on_commit_callbacks(execute=False):
        created = client.post(base, body)
        again = client.post(base, body)
    assert (created.status_code, again.status_code) == (201, 200)
    packet_id = created.json()["id"]
    assert again.json()["id"] == packet_id and created.json()["kind"] == "rehab"
    assert client.get(f"{base}{packet_id}/download/").status_code == 404  # not ready yet
    services.packet_render(packet_id=packet_id)
    assert client.get(f"{base}{packet_id}/").json()["ready"] is True
    assert [row["id"] for row in client.get(base).json()["results"]] == [packet_id]
    assert client.get(f"{base}{packet_id}/download/")["Content-Type"] == "application/pdf"
    assert client.get(f"{base}{packet_id}/csv/")["Content-Type"] == "text/csv"


def test_api_refuses_another_clinics_enrollment(team_a, team_b):
    theirs = covered_enrollment(team_b["admin"].clinic, "cr", mrn="B-9")
    body = {"enrollment": theirs.pk, "period_start": "2026-03-01", "period_end": "2026-03-31"}
    response = api(team_a["billing"]).post("/api/v1/clinics/alpha/billing/packets/", body)
    assert response.status_code == 400 and "enrollment" in response.json()["errors"]
    assert not PacketRequest.objects.exists()
