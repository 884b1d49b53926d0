"""The CDC DPRP evaluation export (billing/dprp.py): the file byte for byte, the validation report,
acceptance, participant ids, bad requests and the pages."""

import datetime
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from billing import dprp, tasks
from billing.models import DprpExport, DprpParticipant
from clinic.models import AuditEntry, Enrollment
from scheduling.models import SessionLog
from tests.billing.dprp_factories import PERIOD, small_cohort
from tests.conftest import make_patient, make_program

EXPECTED = Path(__file__).parent / "data" / "dprp_small_cohort.csv"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def cohort(clinic_a):
    return small_cohort(clinic_a)


def export_of(program, actor, org_code="ORG123", period=PERIOD) -> DprpExport:
    export = dprp.dprp_export_request(
        clinic=program.clinic, actor=actor, program=program, org_code=org_code, period_start=period[0],
        period_end=period[1],
    )  # fmt: skip
    return dprp.dprp_export_run(export_id=export.pk)


def billing_member(team):
    return team["billing"].membership


# --- The file ----------------------------------------------------------------------------------------------------


def test_the_file_is_the_hand_written_one_byte_for_byte(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    with export.file.open("rb") as stored:
        assert stored.read() == EXPECTED.read_bytes()


def test_the_export_counts_its_rows(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    assert (export.status, export.rows_total, export.rows_done, export.percent) == ("ready", 7, 7, 100)


def test_a_weight_outside_70_to_997_lb_is_written_as_999_and_reported(team_a, cohort):
    log = SessionLog.objects.get(patient__mrn="D-001", session_number=1)
    log.weight_kg = 30  # 66.1 lb
    log.save()
    export = export_of(cohort, billing_member(team_a))
    with export.file.open("rb") as stored:
        second_line = stored.read().decode().split("\r\n")[1]
    assert ",1/12/2026,999,60," in second_line
    assert {
        "column": "WEIGHT",
        "value": "66.1",
        "message": "Weight 66.1 lb is outside 70–997 lb: written as 999.",
    }.items() <= export.issues[0].items()


# --- The validation report ---------------------------------------------------------------------------------------


def test_the_validation_report_lists_the_missing_weight(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    log = SessionLog.objects.get(patient__mrn="D-002", session_number=2)
    assert export.issue_count == 1
    assert export.issues == [
        {
            "row": 5, "column": "WEIGHT", "value": "", "message": "Weight not recorded: written as 999.",
            "participant": "0F0F0F0F0F0F", "date": "1/19/2026", "session_log": log.pk,
            "occurrence": log.occurrence_id, "patient": log.patient_id,
        }
    ]  # fmt: skip


def test_an_export_with_issues_cannot_be_downloaded_before_acceptance(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    url = reverse("dprp_export_download", args=[cohort.clinic.slug, export.pk])
    assert team_a["billing"].client.get(url).status_code == 404


def test_accepting_the_report_records_who_and_allows_the_download(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    client, slug = team_a["billing"].client, cohort.clinic.slug
    client.post(reverse("dprp_export_accept", args=[slug, export.pk]))
    export.refresh_from_db()
    assert export.accepted_by == billing_member(team_a)
    response = client.get(reverse("dprp_export_download", args=[slug, export.pk]))
    assert b"".join(response.streaming_content) == EXPECTED.read_bytes()


def test_the_download_leaves_an_audit_entry(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    dprp.dprp_export_accept(clinic=cohort.clinic, actor=billing_member(team_a), export=export)
    team_a["billing"].client.get(reverse("dprp_export_download", args=[cohort.clinic.slug, export.pk]))
    entry = AuditEntry.objects.filter(event="export", object_pk=str(export.pk)).get()
    assert entry.changes_text.startswith("Downloaded the DPRP file of Prevent T2 for 2026-01-01 to 2026-07-31")


def test_an_export_without_issues_needs_no_acceptance(team_a, cohort):
    SessionLog.objects.filter(weight_kg__isnull=True, attendance="present").update(weight_kg=80)
    export = export_of(cohort, billing_member(team_a))
    assert (export.issue_count, export.downloadable) == (0, True)
    with pytest.raises(ValidationError):
        dprp.dprp_export_accept(clinic=cohort.clinic, actor=billing_member(team_a), export=export)


def test_the_report_page_links_each_issue_to_its_patient(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    response = team_a["billing"].client.get(reverse("dprp_export_detail", args=[cohort.clinic.slug, export.pk]))
    page = response.content.decode()
    patient = SessionLog.objects.get(patient__mrn="D-002", session_number=2).patient
    assert "Weight not recorded: written as 999." in page
    assert reverse("patient_detail", args=[cohort.clinic.slug, patient.pk]) in page
    assert "positions unconfirmed" in page


# --- Participant ids ---------------------------------------------------------------------------------------------


def test_a_new_participant_gets_a_random_id_kept_for_the_next_export(team_a, cohort):
    clinic = cohort.clinic
    patient = make_patient(clinic, "MRN-4242", first_name="Zed", last_name="Zulu")
    enrollment = Enrollment.objects.create(clinic=clinic, patient=patient, program=cohort, start_date=PERIOD[0])
    ids = dprp.participant_ids_ensure(clinic=clinic, enrollment_ids=[enrollment.pk])
    again = dprp.participant_ids_ensure(clinic=clinic, enrollment_ids=[enrollment.pk])
    assert re.fullmatch(r"[0-9A-F]{12}", ids[enrollment.pk])
    assert "4242" not in ids[enrollment.pk] and again == ids
    assert DprpParticipant.objects.filter(enrollment=enrollment).count() == 1


# --- Bad requests ------------------------------------------------------------------------------------------------


def test_a_cardiac_rehab_program_cannot_be_exported(team_a, clinic_a):
    with pytest.raises(ValidationError) as excinfo:
        export_of(make_program(clinic_a, "cr"), billing_member(team_a))
    assert excinfo.value.message_dict == {"program": ["Choose a CDC DPP or Medicare DPP program of this clinic."]}
    assert not DprpExport.objects.exists()


def test_a_period_ending_before_it_starts_is_refused(team_a, cohort):
    with pytest.raises(ValidationError) as excinfo:
        export_of(cohort, billing_member(team_a), period=(PERIOD[1], PERIOD[0]))
    assert excinfo.value.message_dict == {"period_end": ["The period cannot end before it starts."]}


def test_the_page_refuses_a_bad_organization_code_and_saves_nothing(team_a, cohort):
    response = team_a["billing"].client.post(
        reverse("dprp_export_list", args=[cohort.clinic.slug]),
        {"program": cohort.pk, "org_code": "ORG 1; DROP", "period_start": "2026-01-01", "period_end": "2026-07-31"},
    )
    assert response.status_code == 400
    assert "letters, digits and hyphens" in response.content.decode()
    assert not DprpExport.objects.exists()


def test_the_page_writes_the_request_row_and_shows_its_progress(team_a, cohort, django_capture_on_commit_callbacks):
    client = team_a["admin"].client
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("dprp_export_list", args=[cohort.clinic.slug]),
            {"program": cohort.pk, "org_code": "ORG123", "period_start": "2026-01-01", "period_end": "2026-07-31"},
        )
    export = DprpExport.objects.get()
    assert (export.status, len(callbacks)) == ("pending", 1)
    page = client.get(response.url).content.decode()
    assert 'aria-label="Export progress"' in page


def test_the_export_page_query_count_does_not_grow(team_a, cohort, django_assert_max_num_queries):
    for _ in range(3):
        export_of(cohort, billing_member(team_a))
    with django_assert_max_num_queries(13):
        response = team_a["billing"].client.get(reverse("dprp_export_list", args=[cohort.clinic.slug]))
    assert response.status_code == 200


# --- API ---------------------------------------------------------------------------------------------------------


def test_the_api_writes_the_request_row_and_refuses_another_clinics_program(team_a, team_b, cohort):
    client, slug = team_a["billing"].client, cohort.clinic.slug
    url = reverse("api-dprp-export-list", args=[slug])
    body = {"org_code": "ORG123", "period_start": "2026-01-01", "period_end": "2026-07-31"}
    other = make_program(team_b["admin"].clinic, "dpp")
    refused = client.post(url, {**body, "program": other.pk}, content_type="application/json")
    created = client.post(url, {**body, "program": cohort.pk}, content_type="application/json")
    assert refused.status_code == 400
    assert (created.status_code, created.json()["status"]) == (201, "pending")
    assert DprpExport.objects.get().program == cohort


def test_the_api_accepts_the_report_and_downloads_the_file(team_a, cohort):
    export = export_of(cohort, billing_member(team_a))
    client, slug = team_a["billing"].client, cohort.clinic.slug
    accepted = client.post(reverse("api-dprp-export-accept", args=[slug, export.pk]))
    response = client.get(reverse("api-dprp-export-download", args=[slug, export.pk]))
    assert (accepted.json()["accepted_by"], accepted.json()["downloadable"]) == (billing_member(team_a).pk, True)
    assert b"".join(response.streaming_content) == EXPECTED.read_bytes()


# --- The beat job: exports the worker never took -----------------------------------------------------------------


def requested(cohort, team) -> DprpExport:
    """A request whose task never ran (in a test's transaction, nothing is committed, so nothing is sent)."""
    return dprp.dprp_export_request(
        clinic=cohort.clinic, actor=billing_member(team), program=cohort, org_code="ORG123", period_start=PERIOD[0],
        period_end=PERIOD[1],
    )  # fmt: skip


def test_an_export_still_pending_after_a_minute_is_run_by_the_beat_job(team_a, cohort):
    export = requested(cohort, team_a)
    DprpExport.objects.filter(pk=export.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=2))
    assert tasks.run_pending_dprp_exports() == 1
    export.refresh_from_db()
    assert export.status == DprpExport.Status.READY


def test_an_export_pending_for_less_than_a_minute_is_left_to_the_worker(team_a, cohort):
    export = requested(cohort, team_a)
    assert tasks.run_pending_dprp_exports() == 0
    export.refresh_from_db()
    assert export.status == DprpExport.Status.PENDING
