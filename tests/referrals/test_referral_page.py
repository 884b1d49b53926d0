"""A referral's page and the reads behind it, compiled once (clinic.compiled, issue 11): the referral, its history
and documents, whether its chart opens to the member, and the eligibility thresholds."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clinic.compiled import columns_of
from clinic.models import PatientPhysician
from clinic.selectors import PATIENT_ID_SEEN
from referrals import selectors, services
from referrals.eligibility import THRESHOLDS_BETWEEN
from referrals.models import Referral
from tests.conftest import make_patient, make_provider, make_referral

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


@pytest.fixture
def referral(clinic_a, team_a, program, doctor):
    """Accepted (so it has a patient, an enrollment and a history), with a document."""
    staff = team_a["admin"].user
    referral = services.referral_create(
        clinic=clinic_a, actor=staff,
        data={"program": program, "referring_provider": doctor, "patient_first_name": "Grace",
              "patient_last_name": "Hopper", "patient_date_of_birth": datetime.date(1946, 12, 9),
              "cleared_for_exercise": True},
    )  # fmt: skip
    services.referral_accept(clinic=clinic_a, actor=staff, referral=referral, start_date=timezone.localdate())
    services.referral_add_attachment(
        clinic=clinic_a, actor=staff, referral=referral,
        upload=SimpleUploadedFile("clearance <1>.pdf", PDF, content_type="application/pdf"),
    )  # fmt: skip
    return Referral.objects.get(pk=referral.pk)


def page_of(persona, referral):
    return persona.client.get(reverse("referral_detail", args=[persona.clinic.slug, referral.pk]))


COMPILED = [*selectors.REFERRAL_SEEN.values(), selectors.REFERRAL_HISTORY, selectors.REFERRAL_ATTACHMENTS,
            *PATIENT_ID_SEEN.values(), THRESHOLDS_BETWEEN]  # fmt: skip


@pytest.mark.parametrize("query", COMPILED)
def test_each_compiled_query_places_its_values(db, query):
    assert query.rows(**query.samples) == []  # its SQL runs; compiling it found a placeholder for each sample


def test_the_referral_is_read_with_every_column_as_stored(team_a, referral):
    read = selectors.referral_get(membership=team_a["admin"].membership, referral_id=referral.pk)
    stored = Referral.objects.select_related("program", "referring_provider", "patient", "enrollment").get(
        pk=referral.pk
    )
    for instance, expected in [
        (read, stored), (read.program, stored.program), (read.referring_provider, stored.referring_provider),
        (read.patient, stored.patient), (read.enrollment, stored.enrollment),
    ]:  # fmt: skip
        for column in columns_of(type(expected)):
            assert getattr(instance, column) == getattr(expected, column), column


def test_the_referral_and_its_relations_are_read_in_one_query(team_a, referral, django_assert_num_queries):
    expected = (referral.program.name, referral.patient.mrn, referral.enrollment.status)
    with django_assert_num_queries(1):
        read = selectors.referral_get(membership=team_a["admin"].membership, referral_id=referral.pk)
        assert (read.program.name, read.patient.mrn, read.enrollment.status) == expected
        assert read.eligibility_overridden_by is None


def test_the_api_reads_a_referral_by_the_id_in_its_path(team_a, referral):
    read = selectors.referral_get(membership=team_a["admin"].membership, referral_id=str(referral.pk))
    assert read.pk == referral.pk


def test_a_referral_of_an_id_beyond_any_is_not_found(team_a, referral):
    admin = team_a["admin"]
    assert admin.client.get(reverse("referral_detail", args=[admin.clinic.slug, 2**63])).status_code == 404


def test_a_physician_reads_only_their_own_referral(team_a, referral, clinic_a, program):
    other = make_referral(clinic_a, provider=make_provider(clinic_a, last_name="Other"), program=program)
    assert page_of(team_a["physician"], referral).status_code == 200
    assert page_of(team_a["physician"], other).status_code == 404


def test_the_page_lists_the_history_with_who_changed_the_status(team_a, referral):
    html = page_of(team_a["admin"], referral).content.decode()
    changed_by = str(team_a["admin"].user)
    assert "<strong>Accepted</strong> " in html
    assert f" by {changed_by}</li>" in html


def test_the_page_lists_the_documents_with_their_links_escaped(team_a, referral):
    attachment = referral.attachments.get()
    html = page_of(team_a["admin"], referral).content.decode()
    url = reverse("referral_attachment_download", args=[team_a["admin"].clinic.slug, referral.pk, attachment.pk])
    assert f'<a href="{url}">clearance &lt;1&gt;.pdf</a>' in html


def test_the_chart_link_shows_only_to_a_member_who_may_see_the_patient(team_a, referral):
    chart = reverse("patient_detail", args=[team_a["admin"].clinic.slug, referral.patient_id])
    assert chart in page_of(team_a["admin"], referral).content.decode()
    assert chart in page_of(team_a["physician"], referral).content.decode()  # accepted: linked to its physician


def test_no_chart_link_for_a_physician_not_linked_to_the_patient(team_a, referral, clinic_a):
    PatientPhysician.objects.filter(patient_id=referral.patient_id).delete()
    chart = reverse("patient_detail", args=[team_a["admin"].clinic.slug, referral.patient_id])
    assert chart not in page_of(team_a["physician"], referral).content.decode()


def test_the_referral_page_query_count(team_a, referral, django_assert_max_num_queries):
    page_of(team_a["admin"], referral)
    with django_assert_max_num_queries(12):
        assert page_of(team_a["admin"], referral).status_code == 200


def test_an_override_shows_who_made_it(team_a, clinic_a, program, doctor):
    not_cleared = make_referral(clinic_a, provider=doctor, program=program, cleared_for_exercise=False)
    services.referral_override_eligibility(
        clinic=clinic_a, actor=team_a["physiologist"].user, referral=not_cleared, reason="Cleared by phone"
    )
    html = page_of(team_a["admin"], not_cleared).content.decode()
    assert f"Overridden by {team_a['physiologist'].user} on " in html


def forms_on(html: str) -> set[str]:
    buttons = {"Accept and enroll", "Update status", "Override", "Attach", "Discharge"}
    return {button for button in buttons if f'type="submit">{button}</button>' in html}


def test_an_open_referral_offers_acceptance_and_the_other_outcomes(team_a, clinic_a, program, doctor):
    open_referral = make_referral(
        clinic_a, provider=doctor, program=program, cleared_for_exercise=True,
        patient=make_patient(clinic_a, "OPEN-1"),
    )  # fmt: skip
    assert forms_on(page_of(team_a["admin"], open_referral).content.decode()) == {
        "Accept and enroll", "Update status", "Attach",
    }  # fmt: skip


def test_a_not_eligible_open_referral_offers_an_override(team_a, clinic_a, program, doctor):
    not_cleared = make_referral(clinic_a, provider=doctor, program=program, cleared_for_exercise=False)
    assert "Override" in forms_on(page_of(team_a["admin"], not_cleared).content.decode())


def test_an_enrollment_in_progress_can_be_ended_from_its_referral(team_a, referral):
    assert forms_on(page_of(team_a["admin"], referral).content.decode()) == {"Attach", "Discharge"}


def test_an_ended_enrollments_referral_offers_only_documents(team_a, clinic_a, referral):
    services.enrollment_discharge(
        clinic=clinic_a, actor=team_a["admin"].user, enrollment=referral.enrollment, reason="Moved away",
        ended_on=timezone.localdate(),
    )  # fmt: skip
    assert forms_on(page_of(team_a["admin"], referral).content.decode()) == {"Attach"}


def test_a_physician_is_offered_no_form(team_a, referral):
    assert forms_on(page_of(team_a["physician"], referral).content.decode()) == set()
