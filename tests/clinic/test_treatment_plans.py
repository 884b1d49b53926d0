"""Individualized treatment plans (ITP): drafts, signatures, the lock, reviews, coverage, the due
list, the physicians' daily email, pages, API and access."""

import datetime
import zoneinfo

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.models import ITP_SIGNATURE_MEANING, AuditEntry, PatientPhysician, TreatmentPlan, TreatmentPlanService
from clinic.treatment_plans import selectors, services
from tests.clinic.treatment_plan_factories import (
    DRAFT,
    EXERCISE,
    make_itp_enrollment,
    make_plan,
    make_signed_plan,
)
from tests.conftest import PASSWORD, link_physician, make_member, make_patient, make_provider

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def local_noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=NEW_YORK)


@pytest.fixture
def enrollment(patient_a):
    return make_itp_enrollment(patient_a)


@pytest.fixture
def physiologist(team_a):
    return team_a["physiologist"].membership


@pytest.fixture
def physician(team_a, patient_a):
    member = team_a["physician"].membership
    link_physician(patient_a, member)
    return member


@pytest.fixture
def draft(enrollment, physiologist):
    return services.itp_draft(
        clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment, data=DRAFT, services=[EXERCISE]
    )


def sign(plan, physician, **credentials):
    credentials.setdefault("meaning", ITP_SIGNATURE_MEANING)
    return services.itp_sign(clinic=plan.clinic, actor=physician, plan=plan, **credentials)


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


# --- Drafting -------------------------------------------------------------------------------------


def test_draft_saves_diagnosis_goals_services_and_the_prescription_in_force(draft):
    assert draft.version == 1
    assert draft.diagnosis_codes == ["I21.4"]
    service = draft.services.get()
    assert (service.minutes_per_session, service.sessions_per_week, service.duration_weeks) == (60, 3, 12)
    assert not draft.is_signed


def test_draft_refuses_codes_that_are_not_icd10_and_saves_nothing(enrollment, physiologist):
    with pytest.raises(ValidationError) as error:
        services.itp_draft(
            clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment,
            data={**DRAFT, "diagnosis_codes": "I21.4, 12345"}, services=[EXERCISE],
        )  # fmt: skip
    assert "12345" in error.value.message_dict["diagnosis_codes"][0]
    assert not TreatmentPlan.objects.exists()


def test_draft_needs_a_service(enrollment, physiologist):
    with pytest.raises(ValidationError) as error:
        services.itp_draft(clinic=enrollment.clinic, actor=physiologist, enrollment=enrollment, data=DRAFT, services=[])
    assert "services" in error.value.message_dict


def test_only_cardiac_and_pulmonary_rehab_enrollments_get_a_plan(patient_a, physiologist):
    dpp = make_itp_enrollment(patient_a, "dpp")
    with pytest.raises(ValidationError, match="pulmonary rehab"):
        services.itp_draft(clinic=dpp.clinic, actor=physiologist, enrollment=dpp, data=DRAFT, services=[EXERCISE])


def test_an_enrollment_has_one_open_draft_at_a_time(draft, physiologist):
    with pytest.raises(ValidationError, match="already a draft"):
        services.itp_draft(
            clinic=draft.clinic, actor=physiologist, enrollment=draft.enrollment, data=DRAFT, services=[EXERCISE]
        )


def test_the_database_refuses_a_second_open_draft(draft, physiologist):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_plan(draft.enrollment, physiologist, version=2)


def test_updating_a_draft_replaces_its_services(draft, physiologist):
    education = {"kind": "education", "description": "Risk factors", "minutes_per_session": 30,
                 "sessions_per_week": 1, "duration_weeks": 12}  # fmt: skip
    services.itp_update_draft(
        clinic=draft.clinic, actor=physiologist, plan=draft, data={**DRAFT, "goals": "Return to work"},
        services=[EXERCISE, education],
    )  # fmt: skip
    draft.refresh_from_db()
    assert draft.goals == "Return to work"
    assert [s.kind for s in draft.services.all()] == ["exercise", "education"]


# --- Signing --------------------------------------------------------------------------------------


def test_physician_signs_with_their_password(draft, physician):
    signed = sign(draft, physician, password=PASSWORD)
    assert signed.is_signed
    assert signed.signed_by == physician
    assert signed.signature_method == "password"
    assert signed.signature_meaning == ITP_SIGNATURE_MEANING
    assert signed.signer_name == physician.user.get_full_name()


def test_wrong_password_signs_nothing_and_is_audited(draft, physician):
    with pytest.raises(ValidationError, match="Wrong password"):
        sign(draft, physician, password="not-my-password")
    draft.refresh_from_db()
    assert not draft.is_signed
    failure = AuditEntry.objects.get(event=AuditEntry.Event.SIGN_FAILED)
    assert failure.actor == physician.user
    assert failure.patient_id == draft.enrollment.patient_id


def test_physician_signs_with_an_authenticator_code(draft, physician):
    secret = generate_totp_secret()
    TOTP.activate(physician.user, secret)
    signed = sign(draft, physician, mfa_code=totp_code(secret))
    assert signed.signature_method == "mfa"


def test_wrong_authenticator_code_signs_nothing_and_is_audited(draft, physician):
    secret = generate_totp_secret()
    TOTP.activate(physician.user, secret)
    wrong = f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"
    with pytest.raises(ValidationError, match="authenticator code is not valid"):
        sign(draft, physician, mfa_code=wrong)
    draft.refresh_from_db()
    assert not draft.is_signed
    assert AuditEntry.objects.filter(event=AuditEntry.Event.SIGN_FAILED).count() == 1


def test_signing_needs_the_meaning_agreed(draft, physician):
    with pytest.raises(ValidationError, match="Confirm what your signature means"):
        sign(draft, physician, password=PASSWORD, meaning="")


def test_too_many_wrong_passwords_lock_signing_for_a_while(draft, physician):
    for _ in range(services.MAX_FAILED_SIGNATURES):
        with pytest.raises(ValidationError):
            sign(draft, physician, password="wrong")
    with pytest.raises(ValidationError, match="Too many failed"):
        sign(draft, physician, password=PASSWORD)


def test_physician_not_linked_to_the_patient_cannot_sign(draft, clinic_a):
    stranger = make_member(clinic_a, "physician", "stranger@alpha.test")
    with pytest.raises(ValidationError, match="Only a physician who referred"):
        sign(draft, stranger, password=PASSWORD)


def test_physiologist_cannot_sign(draft, physiologist):
    link_physician(draft.enrollment.patient, physiologist)
    with pytest.raises(ValidationError, match="Only a physician"):
        sign(draft, physiologist, password=PASSWORD)


def test_nurse_practitioner_signatures_are_not_accepted_yet(draft, physician):
    make_provider(draft.clinic, membership=physician, credentials="NP")
    with pytest.raises(ValidationError, match="nurse practitioners"):
        sign(draft, physician, password=PASSWORD)


def test_signer_credential_is_kept_with_the_signature(draft, physician):
    make_provider(draft.clinic, membership=physician, credentials="DO")
    assert sign(draft, physician, password=PASSWORD).signer_credential == "DO"


def test_signing_links_the_signer_to_the_patient_as_plan_signer(draft, physician):
    sign(draft, physician, password=PASSWORD)
    assert PatientPhysician.objects.filter(
        physician=physician, relationship=PatientPhysician.Relationship.PLAN_SIGNER
    ).exists()


# --- The lock and reviews -------------------------------------------------------------------------


def test_a_signed_plan_cannot_be_edited(draft, physician, physiologist):
    sign(draft, physician, password=PASSWORD)
    with pytest.raises(ValidationError, match="signed and locked"):
        services.itp_update_draft(clinic=draft.clinic, actor=physiologist, plan=draft, data=DRAFT, services=[EXERCISE])


def test_the_database_refuses_changes_to_a_signed_plan(draft, physician):
    sign(draft, physician, password=PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentPlan.objects.filter(pk=draft.pk).update(goals="Changed afterwards")
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentPlanService.objects.filter(plan=draft).update(minutes_per_session=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        TreatmentPlanService.objects.create(clinic=draft.clinic, plan=draft, kind="other")


def test_a_signed_plan_cannot_be_signed_again(draft, physician):
    sign(draft, physician, password=PASSWORD)
    with pytest.raises(ValidationError, match="signed and locked"):
        sign(draft, physician, password=PASSWORD)


def test_review_drafts_a_new_version_copied_from_the_last_signed(draft, physician, physiologist):
    sign(draft, physician, password=PASSWORD)
    review = services.itp_start_review(clinic=draft.clinic, actor=physiologist, enrollment=draft.enrollment)
    assert review.version == 2
    assert not review.is_signed
    assert (review.diagnosis, review.goals, review.diagnosis_codes) == (draft.diagnosis, draft.goals, ["I21.4"])
    assert [s.minutes_per_session for s in review.services.all()] == [60]
    signed = sign(review, physician, password=PASSWORD)
    assert list(TreatmentPlan.objects.filter(signed_at__isnull=False).values_list("version", flat=True)) == [2, 1]
    assert signed.version == 2


def test_review_waits_while_a_draft_is_open(draft, physiologist):
    with pytest.raises(ValidationError, match="already a draft"):
        services.itp_start_review(clinic=draft.clinic, actor=physiologist, enrollment=draft.enrollment)


# --- Coverage -------------------------------------------------------------------------------------


@pytest.fixture
def signed_on_march_1(enrollment, physiologist, physician):
    return make_signed_plan(enrollment, physiologist, physician, local_noon(datetime.date(2026, 3, 1)))


def test_plan_covers_dates_up_to_30_days_after_its_signature(signed_on_march_1):
    assert signed_on_march_1.covers(datetime.date(2026, 3, 1))
    assert signed_on_march_1.covers(datetime.date(2026, 3, 31))  # 30 days after


def test_plan_does_not_cover_31_days_after_its_signature(signed_on_march_1):
    assert not signed_on_march_1.covers(datetime.date(2026, 4, 1))


def test_plan_does_not_cover_dates_before_its_signature(signed_on_march_1):
    assert not signed_on_march_1.covers(datetime.date(2026, 2, 28))


def test_signature_date_is_the_clinics_local_date(enrollment, physiologist, physician):
    late_evening = datetime.datetime(2026, 3, 1, 23, 30, tzinfo=NEW_YORK)  # 04:30 UTC on 2 March
    plan = make_signed_plan(enrollment, physiologist, physician, late_evening)
    assert plan.covers(datetime.date(2026, 3, 1))
    assert not plan.covers(datetime.date(2026, 4, 1))


def test_review_days_come_from_settings(signed_on_march_1, settings):
    settings.ITP_REVIEW_DAYS = 31
    assert signed_on_march_1.covers(datetime.date(2026, 4, 1))


def test_covering_plan_is_the_latest_signature(signed_on_march_1, enrollment, physiologist, physician):
    later = make_signed_plan(enrollment, physiologist, physician, local_noon(datetime.date(2026, 3, 20)))
    clinic = enrollment.clinic
    assert (
        selectors.treatment_plan_covering(clinic=clinic, enrollment=enrollment, on_date=datetime.date(2026, 3, 25))
        == later
    )
    assert (
        selectors.treatment_plan_covering(clinic=clinic, enrollment=enrollment, on_date=datetime.date(2026, 3, 5))
        == signed_on_march_1
    )
    assert (
        selectors.treatment_plan_covering(clinic=clinic, enrollment=enrollment, on_date=datetime.date(2026, 4, 20))
        is None
    )


def test_the_sql_form_of_coverage_agrees_with_covers(signed_on_march_1, enrollment, settings):
    days = [datetime.date(2026, 2, 28), *(datetime.date(2026, 3, d) for d in range(1, 32)), datetime.date(2026, 4, 1)]
    signed_on, covers_until = selectors.plan_coverage_sql(plan="plan")
    query = "SELECT d FROM unnest(%(days)s::date[]) AS d, clinic_treatmentplan plan WHERE plan.id = %(plan)s AND "
    with connection.cursor() as cursor:
        cursor.execute(
            query + f"{signed_on} <= d AND d <= {covers_until}",
            {"days": days, "plan": signed_on_march_1.pk, "tz": enrollment.clinic.timezone,
             "itp_review_days": settings.ITP_REVIEW_DAYS},
        )  # fmt: skip
        covered = {row[0] for row in cursor.fetchall()}
    assert covered == {day for day in days if signed_on_march_1.covers(day)} == set(days[1:-1])


def test_a_draft_covers_nothing(draft):
    assert not draft.covers(timezone.localdate())


# --- The due list ---------------------------------------------------------------------------------


def signed_days_ago(enrollment, physiologist, physician, days: int) -> TreatmentPlan:
    today = selectors.clinic_today(enrollment.clinic)
    return make_signed_plan(enrollment, physiologist, physician, local_noon(today - datetime.timedelta(days=days)))


def test_due_list_shows_coverage_ending_within_7_days(enrollment, physiologist, physician):
    signed_days_ago(enrollment, physiologist, physician, 24)  # covers 6 more days
    [row] = selectors.plans_due(membership=physiologist)
    assert (row.enrollment, row.days_left, row.status) == (enrollment, 6, "Due in 6 days")


def test_due_list_leaves_out_plans_covering_more_than_7_days(enrollment, physiologist, physician):
    signed_days_ago(enrollment, physiologist, physician, 22)  # covers 8 more days
    assert selectors.plans_due(membership=physiologist) == []


def test_due_list_shows_overdue_plans_and_enrollments_never_signed(enrollment, physiologist, physician, patient_a):
    signed_days_ago(enrollment, physiologist, physician, 40)
    unsigned = make_itp_enrollment(make_patient(patient_a.clinic, "A-300", last_name="Zed"), "pr")
    rows = selectors.plans_due(membership=physiologist)
    assert [(row.enrollment, row.status) for row in rows] == [
        (unsigned, "No signed plan"), (enrollment, "Overdue by 10 days"),
    ]  # fmt: skip


def test_due_list_leaves_out_ended_enrollments_and_other_programs(enrollment, physiologist, patient_a):
    enrollment.status = "completed"
    enrollment.save()
    make_itp_enrollment(patient_a, "dpp")
    assert selectors.plans_due(membership=physiologist) == []


def test_due_page_stays_at_a_few_queries(team_a, patient_a, physiologist, physician, django_assert_max_num_queries):
    for n in range(7):  # signed 25 to 31 days ago
        enrollment = make_itp_enrollment(make_patient(patient_a.clinic, f"D-{n}"), "cr")
        signed_days_ago(enrollment, physiologist, physician, 25 + n)
    client = team_a["physiologist"].client
    with django_assert_max_num_queries(16):
        response = client.get(f"/c/{patient_a.clinic.slug}/treatment-plans/due/")
    assert response.status_code == 200
    assert response.content.decode().count('class="overdue"') == 1  # the one signed 31 days ago


# --- The daily email ------------------------------------------------------------------------------


def test_daily_email_counts_plans_due_without_patient_data(
    draft, physician, mailoutbox, django_capture_on_commit_callbacks
):
    from clinic.treatment_plans import digest

    morning = datetime.datetime.combine(selectors.clinic_today(draft.clinic), datetime.time(8), tzinfo=NEW_YORK)
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.itp_due_digest_queue(clinic=draft.clinic, now=morning) == 1
    from clinic import outbox
    from clinic.models import OutboundMessage

    message = OutboundMessage.objects.get(kind="itp_due")
    outbox.message_send(message_id=message.pk)
    [email] = mailoutbox
    assert email.to == [physician.user.email]
    assert "1 treatment plan is due" in email.body
    patient = draft.enrollment.patient
    for private in (patient.first_name, patient.last_name, patient.mrn, "I21.4", draft.diagnosis):
        assert private not in email.body and private not in email.subject


def test_daily_email_is_queued_once_per_physician_per_day(draft, physician):
    from clinic.models import OutboundMessage
    from clinic.treatment_plans import digest

    morning = datetime.datetime.combine(selectors.clinic_today(draft.clinic), datetime.time(8), tzinfo=NEW_YORK)
    digest.itp_due_digest_queue(clinic=draft.clinic, now=morning)
    assert digest.itp_due_digest_queue(clinic=draft.clinic, now=morning + datetime.timedelta(hours=3)) == 0
    assert OutboundMessage.objects.filter(kind="itp_due").count() == 1
    digest.itp_due_digest_queue(clinic=draft.clinic, now=morning + datetime.timedelta(days=1))
    assert OutboundMessage.objects.filter(kind="itp_due").count() == 2


def test_daily_email_waits_for_the_morning(draft, physician):
    from clinic.treatment_plans import digest

    night = datetime.datetime.combine(timezone.localdate(), datetime.time(3), tzinfo=NEW_YORK)
    assert digest.itp_due_digest_queue(clinic=draft.clinic, now=night) == 0


def test_physicians_with_nothing_due_get_no_email(enrollment, physiologist, physician):
    from clinic.models import OutboundMessage
    from clinic.treatment_plans import digest

    signed_days_ago(enrollment, physiologist, physician, 1)
    morning = datetime.datetime.combine(selectors.clinic_today(enrollment.clinic), datetime.time(8), tzinfo=NEW_YORK)
    assert digest.itp_due_digest_queue(clinic=enrollment.clinic, now=morning) == 0
    assert not OutboundMessage.objects.exists()


# --- Pages ------------------------------------------------------------------------------------------


def plan_url(enrollment, suffix=""):
    return f"/c/{enrollment.clinic.slug}/patients/{enrollment.patient_id}/enrollments/{enrollment.pk}/plan/{suffix}"


def service_post(**fields) -> dict:
    data = {"diagnosis": "COPD GOLD 3", "diagnosis_codes": "J44.9", "goals": "6MWT + 30 m",
            "services-TOTAL_FORMS": "2", "services-INITIAL_FORMS": "0",
            "services-0-kind": "exercise", "services-0-minutes_per_session": "60",
            "services-0-sessions_per_week": "2", "services-0-duration_weeks": "18"}  # fmt: skip
    return {**data, **fields}


def test_physiologist_drafts_a_plan_on_the_page(team_a, enrollment):
    response = team_a["physiologist"].client.post(plan_url(enrollment, "draft/"), service_post())
    assert response.status_code == 302
    plan = TreatmentPlan.objects.get()
    assert (plan.diagnosis_codes, plan.services.get().duration_weeks) == (["J44.9"], 18)


def test_draft_page_shows_the_error_and_saves_nothing(team_a, enrollment):
    response = team_a["physiologist"].client.post(
        plan_url(enrollment, "draft/"), service_post(**{"services-0-sessions_per_week": "20"})
    )
    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    assert not TreatmentPlan.objects.exists()


def test_signed_version_page_shows_the_signature_block(team_a, draft, physician):
    sign(draft, physician, password=PASSWORD)
    page = team_a["physiologist"].client.get(plan_url(draft.enrollment, "v1/")).content.decode()
    assert ITP_SIGNATURE_MEANING in page
    assert physician.user.get_full_name() in page
    assert "locked" in page


def test_billing_sees_codes_and_signature_but_not_the_clinical_text(team_a, draft, physician):
    sign(draft, physician, password=PASSWORD)
    page = team_a["billing"].client.get(plan_url(draft.enrollment, "v1/")).content.decode()
    assert "I21.4" in page and ITP_SIGNATURE_MEANING in page
    assert draft.diagnosis not in page and draft.goals not in page


def test_print_view_renders(team_a, draft):
    response = team_a["physiologist"].client.get(plan_url(draft.enrollment, "v1/print/"))
    assert response.status_code == 200
    assert "Individualized treatment plan" in response.content.decode()


def test_plan_pages_are_only_for_rehab_enrollments(team_a, patient_a):
    dpp = make_itp_enrollment(patient_a, "dpp")
    assert team_a["physiologist"].client.get(plan_url(dpp)).status_code == 404


def test_physician_sees_plans_awaiting_their_signature(team_a, draft, physician):
    page = team_a["physician"].client.get(f"/c/{draft.clinic.slug}/portal/plans/").content.decode()
    assert draft.enrollment.patient.last_name in page


def test_portal_list_leaves_out_patients_of_other_physicians(team_a, draft):
    page = team_a["physician"].client.get(f"/c/{draft.clinic.slug}/portal/plans/").content.decode()
    assert "Nothing to sign" in page


def test_physician_signs_on_the_sign_page(team_a, draft, physician):
    url = f"/c/{draft.clinic.slug}/portal/plans/{draft.pk}/sign/"
    response = team_a["physician"].client.post(url, {"password": PASSWORD, "agree": "on"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_signed


def test_sign_page_refuses_a_wrong_password_with_a_message(team_a, draft, physician):
    url = f"/c/{draft.clinic.slug}/portal/plans/{draft.pk}/sign/"
    response = team_a["physician"].client.post(url, {"password": "nope", "agree": "on"})
    assert "Wrong password" in response.content.decode()
    draft.refresh_from_db()
    assert not draft.is_signed


def test_unlinked_physician_gets_404_on_the_sign_page(team_a, draft):
    url = f"/c/{draft.clinic.slug}/portal/plans/{draft.pk}/sign/"
    assert team_a["physician"].client.get(url).status_code == 404


# --- API --------------------------------------------------------------------------------------------


def api_url(clinic, suffix=""):
    return f"/api/v1/clinics/{clinic.slug}/treatment-plans/{suffix}"


def test_api_creates_a_draft(team_a, enrollment):
    body = {"enrollment": enrollment.pk, **DRAFT, "services": [EXERCISE]}
    response = team_a["physiologist"].client.post(api_url(enrollment.clinic), body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 1
    assert response.json()["signed_at"] is None


def test_api_refuses_a_bad_code_with_a_400(team_a, enrollment):
    body = {"enrollment": enrollment.pk, **DRAFT, "diagnosis_codes": ["XYZ"], "services": [EXERCISE]}
    response = team_a["physiologist"].client.post(api_url(enrollment.clinic), body, content_type="application/json")
    assert response.status_code == 400
    assert "XYZ" in str(response.json())


def test_api_updates_a_draft_but_not_a_signed_plan(team_a, draft, physician):
    client = team_a["physiologist"].client
    url = api_url(draft.clinic, f"{draft.pk}/")
    assert client.patch(url, {"goals": "New goal"}, content_type="application/json").status_code == 200
    sign(TreatmentPlan.objects.get(pk=draft.pk), physician, password=PASSWORD)
    response = client.patch(url, {"goals": "Too late"}, content_type="application/json")
    assert response.status_code == 400
    assert "locked" in str(response.json())


def test_api_sign_with_password(team_a, draft, physician):
    url = api_url(draft.clinic, f"{draft.pk}/sign/")
    body = {"password": PASSWORD, "meaning_confirmed": True}
    response = team_a["physician"].client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["signature_method"] == "password"
    assert response.json()["covers_until"]


def test_api_sign_with_a_wrong_code_is_a_400(team_a, draft, physician):
    secret = generate_totp_secret()
    TOTP.activate(physician.user, secret)
    url = api_url(draft.clinic, f"{draft.pk}/sign/")
    body = {"mfa_code": "000000" if totp_code(secret) != "000000" else "111111", "meaning_confirmed": True}
    assert team_a["physician"].client.post(url, body, content_type="application/json").status_code == 400


def test_api_billing_reads_signatures_without_clinical_text(team_a, draft, physician):
    sign(draft, physician, password=PASSWORD)
    row = team_a["billing"].client.get(api_url(draft.clinic, f"{draft.pk}/")).json()
    assert row["signed_at"] and row["diagnosis_codes"] == ["I21.4"]
    assert not {"diagnosis", "goals", "services"} & set(row)


def test_api_billing_cannot_create_or_sign(team_a, draft):
    billing = team_a["billing"].client
    body = {"enrollment": draft.enrollment_id, **DRAFT, "services": [EXERCISE]}
    assert billing.post(api_url(draft.clinic), body, content_type="application/json").status_code == 404
    sign_body = {"password": PASSWORD, "meaning_confirmed": True}
    assert (
        billing.post(api_url(draft.clinic, f"{draft.pk}/sign/"), sign_body, content_type="application/json").status_code
        == 404
    )


def test_api_plan_of_another_clinic_is_a_404(team_a, team_b, patient_b):
    other = make_plan(make_itp_enrollment(patient_b), team_b["physiologist"].membership)
    assert team_a["admin"].client.get(api_url(team_a["admin"].clinic, f"{other.pk}/")).status_code == 404


def test_api_list_stays_at_a_few_queries(team_a, patient_a, physiologist, django_assert_max_num_queries):
    for n in range(5):
        make_plan(make_itp_enrollment(make_patient(patient_a.clinic, f"L-{n}")), physiologist)
    with django_assert_max_num_queries(14):
        response = team_a["physiologist"].client.get(api_url(patient_a.clinic))
    assert response.json()["count"] == 5


def test_physician_api_list_shows_only_their_patients(team_a, draft, patient_a, physiologist):
    make_plan(make_itp_enrollment(make_patient(patient_a.clinic, "X-1")), physiologist)
    link_physician(draft.enrollment.patient, team_a["physician"].membership)
    rows = team_a["physician"].client.get(api_url(draft.clinic)).json()["results"]
    assert [row["id"] for row in rows] == [draft.pk]


def test_home_page_counts_plans_to_sign_for_the_physician_and_due_for_staff(team_a, draft, physician):
    page = team_a["physician"].client.get(f"/c/{draft.clinic.slug}/").content.decode()
    assert "treatment plan to sign" in page
    page = team_a["physiologist"].client.get(f"/c/{draft.clinic.slug}/").content.decode()
    assert "treatment plan due or overdue" in page
