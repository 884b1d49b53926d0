"""Exporting claim lines as a batch, voiding it, fee schedules, coverage, and the billing pages and API."""

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing import services
from billing.claims import claim_lines_derive
from billing.models import ClaimBatch, ClaimLine, Coverage, FeeScheduleEntry, Payer
from tests.billing.factories import START, add_session, add_sessions, covered_enrollment


@pytest.fixture
def billing(team_a):
    return team_a["billing"]


@pytest.fixture
def enrollment(clinic_a):
    enrollment = covered_enrollment(clinic_a)
    add_sessions(enrollment, 2)
    add_session(enrollment, START + datetime.timedelta(days=5), minutes=20)  # blocked: duration_short
    claim_lines_derive(clinic=clinic_a, enrollment_ids=[enrollment.pk])
    return enrollment


def ready_ids(enrollment):
    return list(ClaimLine.objects.filter(enrollment=enrollment, status="ready").values_list("pk", flat=True))


# --- Batches -----------------------------------------------------------------------------------------------


def test_exporting_ready_lines_makes_them_exported_and_keeps_the_csv(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    assert batch.line_count == 2
    assert set(ClaimLine.objects.filter(batch=batch).values_list("status", flat=True)) == {"exported"}
    assert batch.csv.splitlines()[0].startswith("line_id,patient_mrn")
    assert len(batch.csv.splitlines()) == 3


def test_a_batch_with_a_blocked_line_is_refused_and_nothing_is_exported(clinic_a, billing, enrollment):
    every_line = list(ClaimLine.objects.filter(enrollment=enrollment).values_list("pk", flat=True))
    with pytest.raises(ValidationError, match="not ready"):
        services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=every_line)
    assert not ClaimBatch.objects.exists()
    assert not ClaimLine.objects.filter(status="exported").exists()


def test_an_exported_line_cannot_go_in_a_second_batch(clinic_a, billing, enrollment):
    ids = ready_ids(enrollment)
    services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ids)
    with pytest.raises(ValidationError):
        services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ids)


def test_re_deriving_leaves_an_exported_batch_as_it_was(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    Coverage.objects.filter(patient=enrollment.patient).delete()
    claim_lines_derive(clinic=clinic_a)
    assert set(ClaimLine.objects.filter(batch=batch).values_list("status", flat=True)) == {"exported"}


def test_voiding_needs_a_reason(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    with pytest.raises(ValidationError, match="reason"):
        services.batch_void(clinic=clinic_a, actor=billing.membership, batch=batch, reason="  ")
    batch.refresh_from_db()
    assert batch.status == "exported"


def test_voiding_a_batch_gives_its_lines_back_ready_and_keeps_its_file(clinic_a, billing, enrollment):
    ids = ready_ids(enrollment)
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ids)
    services.batch_void(clinic=clinic_a, actor=billing.membership, batch=batch, reason="Sent to the wrong payer")
    batch.refresh_from_db()
    assert (batch.status, batch.void_reason, batch.line_ids) == ("void", "Sent to the wrong payer", sorted(ids))
    assert set(ClaimLine.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"ready"}
    assert services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ids).line_count == 2


def test_the_export_page_refuses_blocked_lines_with_a_message(billing, enrollment):
    every_line = ClaimLine.objects.filter(enrollment=enrollment).values_list("pk", flat=True)
    url = reverse("batch_export", args=[billing.clinic.slug])
    response = billing.client.post(url, {"line": [str(pk) for pk in every_line]}, follow=True)
    assert "1 of the chosen lines are not ready (1 blocked)" in response.content.decode()
    assert not ClaimBatch.objects.exists()


def test_the_void_page_without_a_reason_changes_nothing(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    response = billing.client.post(reverse("batch_void", args=[clinic_a.slug, batch.pk]), {"reason": ""}, follow=True)
    assert "Give the reason" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == "exported"


def test_the_batch_csv_download_is_the_kept_file(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    response = billing.client.get(reverse("batch_download", args=[clinic_a.slug, batch.pk]))
    assert response.content.decode() == batch.csv


# --- Fee schedules and coverage ----------------------------------------------------------------------------


def fee(clinic, actor, start, end=None, payer=None, code="93798"):
    data = {"payer": payer, "code": code, "amount": "110.00", "effective_from": start, "effective_to": end}
    return services.fee_save(clinic=clinic, actor=actor, data=data)


def test_an_overlapping_fee_for_the_same_payer_and_code_is_refused(clinic_a, billing):
    fee(clinic_a, billing.membership, datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    with pytest.raises(ValidationError, match="already has a fee from 2026-01-01 to 2026-12-31"):
        fee(clinic_a, billing.membership, datetime.date(2026, 12, 31))
    assert FeeScheduleEntry.objects.count() == 1


def test_a_fee_starting_the_day_after_the_last_one_ends_is_accepted(clinic_a, billing):
    fee(clinic_a, billing.membership, datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    fee(clinic_a, billing.membership, datetime.date(2027, 1, 1))
    assert FeeScheduleEntry.objects.count() == 2


def test_the_same_dates_for_another_payer_are_accepted(clinic_a, billing):
    payer = Payer.objects.create(clinic=clinic_a, name="Aetna", kind="commercial")
    fee(clinic_a, billing.membership, datetime.date(2026, 1, 1))
    fee(clinic_a, billing.membership, datetime.date(2026, 1, 1), payer=payer)
    assert FeeScheduleEntry.objects.count() == 2


def test_the_fee_page_shows_the_overlap_message(clinic_a, billing):
    fee(clinic_a, billing.membership, datetime.date(2026, 1, 1))
    response = billing.client.post(
        reverse("fee_create", args=[clinic_a.slug]),
        {"code": "93798", "amount": "99", "effective_from": "2026-06-01", "effective_to": ""},
    )
    assert response.status_code == 200
    assert "already has a fee" in response.content.decode()


def test_a_medicare_coverage_needs_a_valid_mbi(clinic_a, billing, patient_a):
    medicare = Payer.objects.create(clinic=clinic_a, name="Medicare", kind="medicare")
    data = {"payer": medicare, "member_id": "12345", "starts_on": START, "ends_on": None, "priority": 1}
    with pytest.raises(ValidationError, match="Medicare Beneficiary Identifier"):
        services.coverage_save(clinic=clinic_a, actor=billing.membership, patient=patient_a, data=data)
    assert not Coverage.objects.exists()


def test_coverage_member_ids_are_masked_in_the_audit_trail(clinic_a, billing, patient_a):
    from clinic.models import AuditEntry

    medicare = Payer.objects.create(clinic=clinic_a, name="Medicare", kind="medicare")
    data = {"payer": medicare, "member_id": "1EG4-TE5-MK73", "starts_on": START, "ends_on": None, "priority": 1}
    coverage = services.coverage_save(clinic=clinic_a, actor=billing.membership, patient=patient_a, data=data)
    entry = AuditEntry.objects.filter(object_pk=str(coverage.pk), content_type__model="coverage").get()
    assert "1EG4TE5MK73" not in json.dumps(entry.changes)


def test_the_patient_chart_shows_coverage_to_billing(clinic_a, billing, patient_a):
    medicare = Payer.objects.create(clinic=clinic_a, name="Medicare Part B", kind="medicare")
    Coverage.objects.create(
        clinic=clinic_a, patient=patient_a, payer=medicare, member_id="1EG4TE5MK73", starts_on=START
    )
    page = billing.client.get(reverse("patient_detail", args=[clinic_a.slug, patient_a.pk])).content.decode()
    assert "Medicare Part B" in page
    assert "1EG4TE5MK73" not in page


# --- Pages and API -----------------------------------------------------------------------------------------


def test_the_claim_lines_page_lists_every_blocker(billing, enrollment):
    page = billing.client.get(reverse("claim_line_list", args=[billing.clinic.slug])).content.decode()
    assert "duration_short" in page
    assert "20 minutes recorded" in page


def test_the_claim_lines_page_shows_each_lines_patient_status_and_batch(clinic_a, team_a, enrollment):
    enrollment.patient.last_name = "<b>O'Hara</b>"
    enrollment.patient.save()
    batch = services.batch_export(clinic=clinic_a, actor=team_a["billing"].membership, line_ids=ready_ids(enrollment))
    blocked = ClaimLine.objects.get(enrollment=enrollment, status="blocked")
    page = team_a["admin"].client.get(reverse("claim_line_list", args=[clinic_a.slug])).content.decode()
    patient_url = reverse("patient_detail", args=[clinic_a.slug, enrollment.patient_id])
    assert f'<a href="{patient_url}">&lt;b&gt;O&#x27;Hara&lt;/b&gt;, ' in page and "<b>O'Hara" not in page
    batch_link = f'<a href="{reverse("batch_detail", args=[clinic_a.slug, batch.pk])}">batch {batch.pk}</a>'
    assert page.count(batch_link) == 2  # the two exported lines
    assert '<span class="badge inactive">Exported</span>' in page
    # A blocked line may be checked for export (an administrator manages billing), but is not checked already.
    assert f'<input type="checkbox" name="line" value="{blocked.pk}" id="line-{blocked.pk}">' in page
    assert '<span class="badge urgent">Blocked</span>' in page


def test_the_claim_lines_page_shows_no_clinical_notes(clinic_a, billing, enrollment):
    enrollment.session_logs.update(notes="Chest tightness at minute 12")
    page = billing.client.get(reverse("claim_line_list", args=[clinic_a.slug])).content.decode()
    assert "Chest tightness" not in page


def test_the_claim_lines_page_reads_a_constant_number_of_queries(
    clinic_a, billing, enrollment, django_assert_max_num_queries
):
    url = reverse("claim_line_list", args=[clinic_a.slug])
    billing.client.get(url)
    with django_assert_max_num_queries(9):
        billing.client.get(url)
    other = covered_enrollment(clinic_a, mrn="B-002")
    add_sessions(other, 20)
    claim_lines_derive(clinic=clinic_a)
    with django_assert_max_num_queries(9):
        billing.client.get(url)


def test_the_rules_page_marks_uncertain_values_as_configurable(billing):
    page = billing.client.get(reverse("billing_rule_list", args=[billing.clinic.slug])).content.decode()
    assert "G9871" in page
    assert "configurable, verify" in page


def test_the_api_lists_claim_lines_with_their_blockers(clinic_a, billing, enrollment):
    response = billing.client.get(reverse("api-claim-line-list", args=[clinic_a.slug]), {"status": "blocked"})
    assert response.status_code == 200
    (line,) = response.json()["results"]
    assert line["blockers"][0]["code"] == "duration_short"
    assert line["enrollment"] == enrollment.pk
    assert {"date_of_service", "code", "units", "modifiers", "status", "expected_amount", "session"} <= set(line)


@pytest.mark.parametrize(
    ("params", "count"),
    [({"program_type": "cr"}, 3), ({"program_type": "pr"}, 0), ({"date_from": "2026-03-03"}, 2),
     ({"date_to": "2026-03-02"}, 1), ({"status": "ready"}, 2)],
)  # fmt: skip
def test_the_api_filters_claim_lines(clinic_a, billing, enrollment, params, count):
    response = billing.client.get(reverse("api-claim-line-list", args=[clinic_a.slug]), params)
    assert response.json()["count"] == count


def test_the_api_filters_by_patient(clinic_a, billing, enrollment):
    url = reverse("api-claim-line-list", args=[clinic_a.slug])
    assert billing.client.get(url, {"patient": enrollment.patient_id}).json()["count"] == 3
    assert billing.client.get(url, {"patient": enrollment.patient_id + 1000}).json()["count"] == 0


def test_the_api_export_refuses_blocked_lines(clinic_a, billing, enrollment):
    every_line = list(ClaimLine.objects.filter(enrollment=enrollment).values_list("pk", flat=True))
    response = billing.client.post(
        reverse("api-claim-batch-list", args=[clinic_a.slug]), {"lines": every_line}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "not ready" in json.dumps(response.json())


def test_the_api_void_needs_a_reason(clinic_a, billing, enrollment):
    batch = services.batch_export(clinic=clinic_a, actor=billing.membership, line_ids=ready_ids(enrollment))
    url = reverse("api-claim-batch-void", args=[clinic_a.slug, batch.pk])
    assert billing.client.post(url, {"reason": ""}, content_type="application/json").status_code == 400
    assert billing.client.post(url, {"reason": "Duplicate"}, content_type="application/json").status_code == 200


@pytest.mark.parametrize("role", ["physiologist", "physician"])
def test_clinical_roles_do_not_see_claim_lines(team_a, enrollment, role):
    client = team_a[role].client
    assert client.get(reverse("claim_line_list", args=[team_a[role].clinic.slug])).status_code == 404
    assert client.get(reverse("api-claim-line-list", args=[team_a[role].clinic.slug])).status_code == 404


def test_another_clinics_claim_line_is_a_404(team_b, clinic_a, enrollment):
    line = ClaimLine.objects.filter(enrollment=enrollment).first()
    response = team_b["billing"].client.get(reverse("api-claim-line-detail", args=[clinic_a.slug, line.pk]))
    assert response.status_code == 404
