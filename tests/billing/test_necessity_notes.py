"""Medical-necessity notes for the KX modifier (rehab sessions 37–72): written by clinicians, seen by billing
as "on record" without the clinical text, audited, and clearing the kx_note_missing blocker."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.claims import claim_lines_derive
from billing.models import ClaimLine, MedicalNecessityNote
from clinic.models import AuditEntry
from tests.billing.factories import add_necessity_note, add_sessions, covered_enrollment
from tests.conftest import clinic_today

TEXT = "Still ischemic at 4 METs; needs monitored exercise to reach the return-to-work goal."


@pytest.fixture
def enrollment(clinic_a):
    return covered_enrollment(clinic_a, "cr")


def url(enrollment):
    return reverse("necessity_notes", args=[enrollment.clinic.slug, enrollment.patient_id, enrollment.pk])


def post(persona, enrollment, **fields):
    written_on = clinic_today(enrollment.clinic).isoformat()
    data = {"first_session": 37, "last_session": 72, "written_on": written_on, "text": TEXT}
    return persona.client.post(url(enrollment), {**data, **fields})


def test_a_physiologist_adds_a_note_for_sessions_37_to_72(team_a, enrollment):
    response = post(team_a["physiologist"], enrollment)
    assert response.status_code == 302
    note = MedicalNecessityNote.objects.get(enrollment=enrollment)
    assert (note.first_session, note.last_session, note.text, note.author) == (
        37, 72, TEXT, team_a["physiologist"].membership
    )  # fmt: skip


def test_the_note_makes_the_blocked_kx_lines_ready(team_a, enrollment):
    add_sessions(enrollment, 37)
    claim_lines_derive(clinic=enrollment.clinic, enrollment_ids=[enrollment.pk])
    line = ClaimLine.objects.get(enrollment=enrollment, date_of_service=enrollment.start_date + datetime.timedelta(36))
    assert [b["code"] for b in line.blockers] == ["kx_note_missing"]
    post(team_a["physiologist"], enrollment)
    claim_lines_derive(clinic=enrollment.clinic, enrollment_ids=[enrollment.pk])  # what the queued task does
    line.refresh_from_db()
    assert (line.status, line.modifiers) == ("ready", ["KX"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"text": "  "}, "This field is required"), ({"first_session": 36}, "within 37–72"),
     ({"last_session": 73}, "within 37–72"),
     ({"first_session": 50, "last_session": 40}, "the first not after the last"),
     ({"written_on": (timezone.localdate() + datetime.timedelta(days=1)).isoformat()}, "today or earlier")],
)  # fmt: skip
def test_bad_input_is_explained_and_nothing_is_saved(team_a, enrollment, fields, message):
    response = post(team_a["physiologist"], enrollment, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MedicalNecessityNote.objects.exists()


def test_a_note_for_a_program_without_kx_is_refused(team_a, clinic_a):
    mdpp = covered_enrollment(clinic_a, "mdpp", mrn="M-9")
    response = post(team_a["physiologist"], mdpp)
    assert "cardiac and pulmonary rehab" in response.content.decode()
    assert not MedicalNecessityNote.objects.exists()


def test_billing_sees_that_a_note_exists_but_not_its_text(team_a, enrollment):
    add_necessity_note(enrollment)
    page = team_a["billing"].client.get(url(enrollment)).content.decode()
    assert "37–72" in page and "On record (clinical text, not shown to billing)" in page
    assert "Ischemic" not in page and "<textarea" not in page


def test_the_physiologist_reads_the_text(team_a, enrollment):
    add_necessity_note(enrollment)
    assert b"Ischemic threshold" in team_a["physiologist"].client.get(url(enrollment)).content


def test_billing_cannot_write_a_note(team_a, enrollment):
    assert post(team_a["billing"], enrollment).status_code == 404
    assert not MedicalNecessityNote.objects.exists()


def test_reading_the_notes_leaves_an_audit_entry(team_a, enrollment):
    team_a["billing"].client.get(url(enrollment))
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS, patient_id=enrollment.patient_id).latest("pk")
    assert (entry.actor, entry.changes_text) == (team_a["billing"].user, "Medical-necessity notes")


def test_writing_a_note_is_in_the_audit_trail_without_its_text(team_a, enrollment):
    post(team_a["physiologist"], enrollment)
    entry = AuditEntry.objects.filter(content_type__model="medicalnecessitynote").get()
    assert entry.actor == team_a["physiologist"].user
    assert TEXT not in str(entry.changes)


def test_the_chart_links_rehab_enrollments_to_their_notes(team_a, enrollment):
    page = team_a["billing"].client.get(reverse("patient_detail", args=["alpha", enrollment.patient_id]))
    assert url(enrollment).encode() in page.content


def test_a_line_blocked_for_the_missing_note_links_to_the_enrollments_notes(team_a, enrollment):
    add_sessions(enrollment, 37)
    claim_lines_derive(clinic=enrollment.clinic, enrollment_ids=[enrollment.pk])
    page = team_a["admin"].client.get(reverse("claim_line_list", args=["alpha"]), {"blocker": "kx_note_missing"})
    assert url(enrollment).encode() in page.content
