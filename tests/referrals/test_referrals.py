"""Referrals: intake, patient matching, the status funnel, enrollment, notifications, attachments."""

import datetime
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clinic import outbox
from clinic.models import AuditEntry, Enrollment, OutboundMessage, Patient, PatientPhysician
from referrals import selectors, services
from referrals.models import Referral, ReferralNotification, ReferralStatusChange, ReferringProvider
from referrals.templatetags.ago import ago
from tests.conftest import clinic_time, make_patient, make_program, make_provider, make_referral

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


def referral_data(program, provider, **changes):
    return {
        "program": program,
        "referring_provider": provider,
        "patient_first_name": "Grace",
        "patient_last_name": "Hopper",
        "patient_date_of_birth": datetime.date(1946, 12, 9),
        "cleared_for_exercise": True,
        **changes,
    }


def create(clinic, actor, program, provider, **changes):
    return services.referral_create(clinic=clinic, actor=actor, data=referral_data(program, provider, **changes))


# --- Intake and patient matching ----------------------------------------------------------------


def test_referral_for_an_unknown_person_creates_the_patient(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor)
    assert referral.patient.full_name == "Grace Hopper"
    assert referral.patient.mrn.startswith("MF")


def test_referral_with_a_known_mrn_name_and_birth_date_links_that_patient(clinic_a, team_a, program, doctor):
    known = make_patient(clinic_a, "EXIST-1", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09")
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor, patient_mrn="exist-1")
    assert referral.patient == known


def test_an_mrn_alone_does_not_link_someone_elses_chart(clinic_a, team_a, program, doctor, patient_a):
    referral = create(clinic_a, team_a["physician"].user, program, doctor, patient_mrn=patient_a.mrn)
    assert (referral.patient, referral.possible_duplicate) == (None, True)
    assert not PatientPhysician.objects.filter(patient=patient_a).exists()


def test_same_name_and_birth_date_is_flagged_not_created(clinic_a, team_a, program, doctor):
    make_patient(clinic_a, "EXIST-1", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09")
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor)
    assert (referral.possible_duplicate, referral.patient) == (True, None)
    assert Patient.objects.filter(clinic=clinic_a).count() == 1


def test_staff_resolve_a_duplicate_by_linking_the_existing_patient(clinic_a, team_a, program, doctor):
    existing = make_patient(clinic_a, "EXIST-1", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09")
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor)
    services.referral_link_patient(clinic=clinic_a, actor=None, referral=referral, patient=existing)
    assert (referral.patient, referral.possible_duplicate) == (existing, False)


def test_referring_physician_may_then_see_the_patient(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor)
    assert PatientPhysician.objects.filter(patient=referral.patient, physician=team_a["physician"].membership).exists()


def test_bad_diagnosis_code_is_refused_and_nothing_is_saved(clinic_a, team_a, program, doctor):
    with pytest.raises(ValidationError) as error:
        create(clinic_a, team_a["physiologist"].user, program, doctor, diagnosis_codes=["I21.4", "HEART"])
    assert "diagnosis_codes" in error.value.message_dict
    assert not Referral.objects.exists() and not Patient.objects.exists()


def test_program_of_another_clinic_is_refused(clinic_a, clinic_b, team_a, doctor):
    with pytest.raises(ValidationError):
        create(clinic_a, team_a["physiologist"].user, make_program(clinic_b), doctor)


def test_staff_form_creates_a_referral(team_a, doctor):
    persona = team_a["physiologist"]
    program = make_program(persona.clinic, "dpp", name="Diabetes Prevention")
    response = persona.client.post(
        reverse("referral_create", args=[persona.clinic.slug]),
        {
            "program": program.pk,
            "referring_provider": doctor.pk,
            "urgency": "routine",
            "referral_date": "2026-11-01",
            "patient_first_name": "Grace",
            "patient_last_name": "Hopper",
            "patient_date_of_birth": "1946-12-09",
            "patient_sex": "F",
            "diagnosis_codes": "i25.10, Z95.1",
            "cleared_for_exercise": "true",
            "height": "65",
            "weight": "150",
        },
    )
    referral = Referral.objects.get()
    assert response.status_code == 302
    assert referral.diagnosis_codes == ["I25.10", "Z95.1"]
    assert (float(referral.height_cm), float(referral.weight_kg)) == (165.1, 68.0)


# --- The status funnel --------------------------------------------------------------------------


def test_every_status_change_is_recorded_with_who_and_when(clinic_a, team_a, program, doctor):
    actor = team_a["physiologist"].user
    referral = create(clinic_a, actor, program, doctor)
    services.referral_set_status(clinic=clinic_a, actor=actor, referral=referral, status="in_review")
    changes = list(ReferralStatusChange.objects.filter(referral=referral).values_list("to_status", "changed_by"))
    assert changes == [("received", actor.pk), ("in_review", actor.pk)]


def test_declining_needs_a_reason(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    with pytest.raises(ValidationError):
        services.referral_set_status(clinic=clinic_a, actor=None, referral=referral, status="declined")
    referral.refresh_from_db()
    assert referral.status == "received"


def test_a_failed_decline_shows_the_form_again_with_the_chosen_status_and_the_error(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, team_a["physiologist"].user, program, doctor)
    url = reverse("referral_set_status", args=[clinic_a.slug, referral.pk])

    response = team_a["physiologist"].client.post(url, {"status": "declined", "reason": "  "})

    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="declined" selected>' in page
    assert "Give the reason for declining" in page
    referral.refresh_from_db()
    assert referral.status == "received"


def test_a_declined_referral_cannot_be_reopened(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    services.referral_set_status(clinic=clinic_a, actor=None, referral=referral, status="declined", reason="Moved")
    with pytest.raises(ValidationError):
        services.referral_set_status(clinic=clinic_a, actor=None, referral=referral, status="in_review")


def test_accepting_opens_an_enrollment_in_the_program(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    start = datetime.date(2026, 12, 1)
    referral = services.referral_accept(
        clinic=clinic_a, actor=team_a["physiologist"].user, referral=referral, start_date=start
    )
    enrollment = Enrollment.objects.get()
    assert (referral.status, referral.enrollment, enrollment.program, enrollment.start_date) == (
        "accepted",
        enrollment,
        program,
        start,
    )


def test_accepting_gives_the_enrollment_the_referrals_precautions(clinic_a, team_a, program, doctor):
    referral = create(
        clinic_a, None, program, doctor, beta_blocker=True, supplemental_oxygen=True, target_hr_ceiling=130,
        diagnosis_codes=["E11.9"], contraindications="No overhead lifting", precaution_notes="Hearing aid",
    )  # fmt: skip
    services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    enrollment = Enrollment.objects.get()
    assert (
        enrollment.beta_blocker, enrollment.supplemental_oxygen, enrollment.hr_ceiling,
        enrollment.has_diabetes, enrollment.precaution_notes,
    ) == (True, True, 130, True, "No overhead lifting\nHearing aid")  # fmt: skip


def test_a_not_eligible_patient_is_accepted_only_after_an_override(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, None, program, doctor, cleared_for_exercise=False)
    with pytest.raises(ValidationError):
        services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    services.referral_override_eligibility(
        clinic=clinic_a, actor=team_a["admin"].user, referral=referral, reason="Cleared by phone by Dr. Park"
    )
    referral = services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    assert referral.status == "accepted"


def test_the_override_is_in_the_audit_trail(clinic_a, team_a, program, doctor):
    referral = create(clinic_a, None, program, doctor, cleared_for_exercise=False)
    services.referral_override_eligibility(clinic=clinic_a, actor=team_a["admin"].user, referral=referral, reason="OK")
    entry = AuditEntry.objects.filter(event="update", object_pk=str(referral.pk)).latest("id")
    assert "eligibility_override_reason" in entry.changes_dict


def test_a_possible_duplicate_must_be_resolved_before_accepting(clinic_a, program, doctor):
    make_patient(clinic_a, "EXIST-1", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09")
    referral = create(clinic_a, None, program, doctor)
    with pytest.raises(ValidationError):
        services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())


# --- Notifications ----------------------------------------------------------------------------


def wait_for_mail(count=1, seconds=10):
    deadline = time.time() + seconds
    while len(mail.outbox) < count and time.time() < deadline:
        time.sleep(0.05)
    return mail.outbox


def test_physician_is_emailed_on_acceptance_by_the_worker_after_commit(
    celery_worker, clinic_a, team_a, program, doctor
):
    referral = create(clinic_a, None, program, doctor)
    services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    message = wait_for_mail()[0]
    assert message.to == [team_a["physician"].user.email]
    assert "was accepted" in message.body


def test_notification_email_carries_no_patient_data(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    services.referral_set_status(clinic=clinic_a, actor=None, referral=referral, status="declined", reason="Moved away")
    outbox.message_send(message_id=OutboundMessage.objects.get().pk)
    body = mail.outbox[0].subject + mail.outbox[0].body
    assert "Hopper" not in body and "Grace" not in body and "Moved away" not in body


def test_notification_is_sent_once_even_if_the_task_runs_twice(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    message = OutboundMessage.objects.get()
    outbox.message_send(message_id=message.pk)
    outbox.message_send(message_id=message.pk)
    assert len(mail.outbox) == 1


def test_discharge_notifies_the_physician(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    referral = services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    services.enrollment_discharge(clinic=clinic_a, actor=None, enrollment=referral.enrollment, reason="Goals met")
    assert ReferralNotification.objects.filter(event="discharged").exists()


# --- Attachments ------------------------------------------------------------------------------


def test_attachment_must_be_a_pdf_or_image(clinic_a, program, doctor):
    upload = SimpleUploadedFile("referral.exe", b"MZ\x90\x00binary", content_type="application/pdf")
    with pytest.raises(ValidationError):
        services.referral_create(clinic=clinic_a, actor=None, data=referral_data(program, doctor), attachment=upload)
    assert not Referral.objects.exists()


def test_attachment_over_the_size_limit_is_refused(clinic_a, program, doctor, settings):
    settings.REFERRAL_ATTACHMENT_MAX_BYTES = 10
    upload = SimpleUploadedFile("referral.pdf", PDF, content_type="application/pdf")
    with pytest.raises(ValidationError):
        services.referral_create(clinic=clinic_a, actor=None, data=referral_data(program, doctor), attachment=upload)


def test_attachment_download_is_audited(clinic_a, team_a, program, doctor, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("fax.pdf", PDF, content_type="application/pdf")
    referral = services.referral_create(
        clinic=clinic_a, actor=None, data=referral_data(program, doctor), attachment=upload
    )
    attachment = referral.attachments.get()
    persona = team_a["physiologist"]
    response = persona.client.get(
        reverse("referral_attachment_download", args=[clinic_a.slug, referral.pk, attachment.pk])
    )
    assert b"".join(response.streaming_content) == PDF
    assert AuditEntry.objects.filter(event="export", actor=persona.user, object_pk=str(referral.pk)).exists()
    assert str(tmp_path / "clinics" / str(clinic_a.pk)) in attachment.file.path


# --- Queue and physician portal ------------------------------------------------------------------


def test_queue_lists_open_referrals_oldest_first(clinic_a, team_a, program, doctor):
    older = make_referral(
        clinic_a, provider=doctor, program=program, created_at=timezone.now() - datetime.timedelta(days=3)
    )
    newer = make_referral(clinic_a, provider=doctor, program=program)
    make_referral(clinic_a, provider=doctor, program=program, status="declined")
    found = selectors.referral_queue(
        membership=team_a["physiologist"].membership, overdue_before=selectors.overdue_cutoff(), status="open"
    )
    assert [r["id"] for r in found] == [older.pk, newer.pk]


def test_queue_rows_escape_what_was_typed_and_link_each_referral(clinic_a, team_a, doctor):
    program = make_program(clinic_a, name="Rehab & <Co>")
    provider = make_provider(clinic_a, first_name="<b>Helen", credentials="M&D")
    five_days_ago = timezone.now() - datetime.timedelta(days=5)
    late = make_referral(
        clinic_a, provider=provider, program=program, patient_last_name="<i>O'Hara", patient_first_name='"Jo"',
        possible_duplicate=True, urgency="urgent", last_action_at=five_days_ago, created_at=five_days_ago,
    )  # fmt: skip
    done = make_referral(clinic_a, provider=doctor, program=program, status="declined", last_action_at=five_days_ago)
    url = reverse("referral_queue", args=[clinic_a.slug])
    text = team_a["physiologist"].client.get(url, {"status": ""}).content.decode()
    assert (
        f'<tr class="overdue"><td class="nowrap">{clinic_time(five_days_ago, clinic_a):%m/%d/%Y}</td>'
        f'<td><a href="{url}{late.pk}/">&lt;i&gt;O&#x27;Hara, &quot;Jo&quot;</a> '
        '<span class="badge warn">Possible duplicate</span></td><td>Rehab &amp; &lt;Co&gt;</td>'
        '<td>&lt;b&gt;Helen Park, M&amp;D</td><td class="nowrap"><span class="badge urgent">Urgent</span></td>'
        '<td><span class="badge status-received">Received</span></td>'
        '<td>5 days ago <strong class="warn">overdue</strong></td></tr>'
    ) in text
    assert (  # a closed referral is never overdue
        f'<tr class=""><td class="nowrap">{clinic_time(done.created_at, clinic_a):%m/%d/%Y}</td>'
        f'<td><a href="{url}{done.pk}/">Lovelace, Ada</a> </td>'
    ) in text
    assert '<td class="nowrap">Routine</td><td><span class="badge status-declined">Declined</span></td>' in text
    assert "<i>" not in text and "<b>" not in text


def test_referral_untouched_for_two_business_days_is_overdue(clinic_a, team_a, program, doctor):
    make_referral(
        clinic_a, provider=doctor, program=program, last_action_at=timezone.now() - datetime.timedelta(days=5)
    )
    make_referral(clinic_a, provider=doctor, program=program)
    counts = selectors.referral_status_counts(
        membership=team_a["physiologist"].membership, overdue_before=selectors.overdue_cutoff()
    )
    assert (counts["open"], counts["overdue"]) == (2, 1)


@pytest.mark.parametrize("query", [*selectors.COUNT_BY_STATUS.values(), *selectors.OVERDUE_COUNT.values()])
def test_each_compiled_status_count_query_places_its_values(db, query):
    assert query.rows(**query.samples) == []  # its SQL runs; compiling it found a placeholder for each sample


def test_nothing_overdue_counts_zero(clinic_a, team_a, program, doctor):
    make_referral(clinic_a, provider=doctor, program=program)
    counts = selectors.referral_status_counts(
        membership=team_a["physiologist"].membership, overdue_before=selectors.overdue_cutoff()
    )
    assert (counts["open"], counts["overdue"]) == (1, 0)


def test_a_physician_counts_only_the_referrals_they_sent(clinic_a, team_a, program, doctor):
    five_days_ago = timezone.now() - datetime.timedelta(days=5)
    make_referral(clinic_a, provider=doctor, program=program, last_action_at=five_days_ago)
    make_referral(clinic_a, provider=make_provider(clinic_a, last_name="Other"), program=program)
    counts = selectors.referral_status_counts(
        membership=team_a["physician"].membership, overdue_before=selectors.overdue_cutoff()
    )
    assert (counts["all"], counts["open"], counts["overdue"]) == (1, 1, 1)


def test_the_overdue_tab_lists_as_many_referrals_as_its_count_says_when_one_crosses_the_cutoff(
    clinic_a, team_a, program, doctor, monkeypatch
):
    crossing = timezone.now() - datetime.timedelta(days=5)
    make_referral(clinic_a, provider=doctor, program=program, last_action_at=crossing)
    cutoffs = iter([crossing, crossing + datetime.timedelta(seconds=1)])  # the cutoff moves past it mid-request
    monkeypatch.setattr(selectors, "overdue_cutoff", lambda: next(cutoffs))
    response = team_a["physiologist"].client.get(reverse("referral_queue", args=[clinic_a.slug]), {"status": "overdue"})
    assert response.context["counts"]["overdue"] == len(response.context["page"].object_list) == 0


def test_status_without_referrals_counts_zero(clinic_a, team_a, program, doctor):
    make_referral(clinic_a, provider=doctor, program=program, status="declined")
    counts = selectors.referral_status_counts(
        membership=team_a["physiologist"].membership, overdue_before=selectors.overdue_cutoff()
    )
    assert (counts["declined"], counts["accepted"], counts["open"]) == (1, 0, 0)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (datetime.timedelta(seconds=20), "just now"),
        (datetime.timedelta(minutes=1), "1 minute ago"),
        (datetime.timedelta(hours=5, minutes=59), "5 hours ago"),
        (datetime.timedelta(days=3, hours=2), "3 days ago"),
        (datetime.timedelta(days=45), "1 month ago"),
        (datetime.timedelta(days=800), "2 years ago"),
    ],
)
def test_last_action_reads_as_time_ago_in_its_largest_unit(before, text):
    now = timezone.now()
    assert ago(now - before, now) == text


def test_two_business_days_before_monday_is_thursday():
    monday = datetime.datetime(2026, 11, 23, 9, 0)
    assert selectors.business_days_before(monday, 2) == datetime.datetime(2026, 11, 19, 9, 0)


def test_queue_page_query_count_does_not_grow(team_a, clinic_a, program, doctor, django_assert_max_num_queries):
    for _ in range(30):
        make_referral(clinic_a, provider=doctor, program=program)
    # The session is read from the database (no Redis in the way); three queries set and restore the
    # row-level security scope.
    with django_assert_max_num_queries(13):
        team_a["physiologist"].client.get(reverse("referral_queue", args=[clinic_a.slug]))


def test_queue_tab_is_counted_by_its_tab_count_and_a_search_by_itself(team_a, clinic_a, program, doctor):
    for _ in range(3):
        make_referral(clinic_a, provider=doctor, program=program)
    make_referral(clinic_a, provider=doctor, program=program, status="declined", patient_last_name="Zola")
    client, url = team_a["physiologist"].client, reverse("referral_queue", args=[clinic_a.slug])
    for query, in_all in [("", 3), ("?status=declined", 1), ("?status=", 4), ("?status=&q=Zo", 1)]:
        response = client.get(url + query)
        assert response.context["page"].paginator.count == in_all
        assert f"{in_all} in all" in response.content.decode()


def test_physician_sees_their_referrals_across_clinics(team_a, team_b, clinic_a, clinic_b):
    from clinic.models import Membership

    doctor_user = team_a["physician"].user
    in_b = Membership.objects.create(clinic=clinic_b, user=doctor_user, roles=["physician"])
    mine_a = make_referral(clinic_a, provider=make_provider(clinic_a, membership=team_a["physician"].membership))
    mine_b = make_referral(clinic_b, provider=make_provider(clinic_b, membership=in_b))
    make_referral(clinic_a, provider=make_provider(clinic_a, npi=""), program=mine_a.program)
    response = team_a["physician"].client.get(reverse("portal_home"))
    assert {r.pk for r in response.context["page"]} == {mine_a.pk, mine_b.pk}


def test_portal_refers_only_to_clinics_where_the_person_is_a_physician_and_switches_to_all(
    team_a, team_b, clinic_a, clinic_b
):
    from clinic.models import Membership

    Membership.objects.create(clinic=clinic_b, user=team_a["physician"].user, roles=["physiologist"])
    response = team_a["physician"].client.get(reverse("portal_home"))
    assert [m.clinic for m in response.context["memberships"]] == [clinic_a]
    assert [m.clinic for m in response.context["my_memberships"]] == [clinic_a, clinic_b]  # the header's switcher
    assert reverse("portal_refer", args=[clinic_b.slug]) not in response.content.decode()


def test_another_physician_of_the_same_clinic_sees_none_of_them(team_a, clinic_a):
    from tests.conftest import make_member

    make_referral(clinic_a, provider=make_provider(clinic_a, membership=team_a["physician"].membership))
    other = make_member(clinic_a, "physician", email="other-doc@alpha.test")
    assert not selectors.physician_referrals(user=other.user).exists()


def test_physician_cannot_open_a_referral_they_did_not_send(team_a, clinic_a):
    referral = make_referral(clinic_a)
    url = reverse("referral_detail", args=[clinic_a.slug, referral.pk])
    assert team_a["physician"].client.get(url).status_code == 404


def test_portal_query_count_does_not_grow(team_a, clinic_a, django_assert_max_num_queries):
    provider = make_provider(clinic_a, membership=team_a["physician"].membership)
    for _ in range(30):
        make_referral(clinic_a, provider=provider)
    with django_assert_max_num_queries(11):  # with row-level security's scope for the physician's clinics
        team_a["physician"].client.get(reverse("portal_home"))


def test_portal_requires_sign_in(client, db):
    response = client.get(reverse("portal_home"))
    assert response.url.startswith(reverse("account_login"))


def test_physician_refers_through_the_portal_and_their_details_are_remembered(team_a, clinic_a, program):
    persona = team_a["physician"]
    response = persona.client.post(
        reverse("portal_refer", args=[clinic_a.slug]),
        {
            "me-credentials": "MD",
            "me-npi": "1245319599",
            "me-specialty": "Cardiology",
            "program": program.pk,
            "urgency": "routine",
            "referral_date": "2026-11-20",
            "patient_first_name": "Alan",
            "patient_last_name": "Turing",
            "patient_date_of_birth": "1952-06-23",
            "patient_sex": "M",
            "cleared_for_exercise": "true",
        },
    )
    referral = Referral.objects.get()
    assert response.url == reverse("my_patients", args=[clinic_a.slug])
    assert (referral.source, referral.referring_provider.npi) == ("portal", "1245319599")
    form = persona.client.get(reverse("portal_refer", args=[clinic_a.slug])).context["profile"]
    assert form.initial["npi"] == "1245319599"


def test_invalid_npi_is_refused_with_a_field_error(team_a, clinic_a, program):
    response = team_a["physician"].client.post(
        reverse("portal_refer", args=[clinic_a.slug]),
        {
            "me-npi": "1245319598",
            "program": program.pk,
            "urgency": "routine",
            "referral_date": "2026-11-20",
            "patient_first_name": "Alan",
            "patient_last_name": "Turing",
            "patient_date_of_birth": "1952-06-23",
            "patient_sex": "M",
        },
    )
    assert "npi" in response.context["profile"].errors
    assert not Referral.objects.exists()


def test_a_contact_who_joins_as_a_physician_keeps_their_provider_record(clinic_a, team_a, program):
    physician = team_a["physician"]
    contact = make_provider(clinic_a, email=physician.user.email.upper(), npi="1245319599")
    make_referral(clinic_a, provider=contact, program=program)
    provider = services.provider_for_physician(membership=physician.membership)
    assert (provider, provider.membership) == (contact, physician.membership)
    assert selectors.physician_referrals(user=physician.user).count() == 1


def test_a_refused_portal_referral_saves_none_of_the_physicians_details(team_a, clinic_a, program):
    persona = team_a["physician"]
    persona.client.post(
        reverse("portal_refer", args=[clinic_a.slug]),
        {"me-npi": "1245319599", "program": program.pk, "urgency": "routine", "referral_date": "2026-11-20",
         "patient_first_name": "Alan", "patient_last_name": "Turing", "patient_date_of_birth": "2999-01-01"},
    )  # fmt: skip
    assert not Referral.objects.exists()
    assert not ReferringProvider.objects.filter(npi="1245319599").exists()


def test_changing_the_referrer_moves_chart_access_to_the_new_physician(clinic_a, team_a, program, doctor):
    from tests.conftest import make_member

    referral = create(clinic_a, None, program, doctor)
    other_member = make_member(clinic_a, "physician", email="other-doc@alpha.test")
    other = services.provider_for_physician(membership=other_member)
    services.referral_update(clinic=clinic_a, actor=None, referral=referral, data={"referring_provider": other})
    links = set(PatientPhysician.objects.filter(patient=referral.patient).values_list("physician_id", flat=True))
    assert links == {other_member.pk}


def test_the_program_of_a_decided_referral_cannot_change(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    with pytest.raises(ValidationError):
        services.referral_update(
            clinic=clinic_a, actor=None, referral=referral, data={"program": make_program(clinic_a, "pr")}
        )


def test_precautions_of_a_decided_referral_can_still_be_corrected(clinic_a, program, doctor):
    referral = create(clinic_a, None, program, doctor)
    services.referral_accept(clinic=clinic_a, actor=None, referral=referral, start_date=timezone.localdate())
    referral = services.referral_update(clinic=clinic_a, actor=None, referral=referral, data={"target_hr_ceiling": 125})
    assert referral.target_hr_ceiling == 125


def test_a_patient_is_not_enrolled_twice_in_the_same_program(clinic_a, program, doctor):
    first = create(clinic_a, None, program, doctor)
    services.referral_accept(clinic=clinic_a, actor=None, referral=first, start_date=timezone.localdate())
    second = create(clinic_a, None, program, doctor, patient_mrn=first.patient.mrn)
    with pytest.raises(ValidationError):
        services.referral_accept(clinic=clinic_a, actor=None, referral=second, start_date=timezone.localdate())


def test_clearing_height_and_weight_on_the_form_clears_them(team_a, clinic_a, doctor):
    program = make_program(clinic_a, "dpp", name="Diabetes Prevention")
    referral = create(clinic_a, None, program, doctor, height_cm=170, weight_kg=90)
    persona = team_a["physiologist"]
    form = persona.client.get(reverse("referral_edit", args=[clinic_a.slug, referral.pk])).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        program=program.pk, referring_provider=doctor.pk, height="", weight="", patient_date_of_birth="1946-12-09",
        referral_date=str(referral.referral_date), cleared_for_exercise="true",
    )  # fmt: skip
    persona.client.post(reverse("referral_edit", args=[clinic_a.slug, referral.pk]), data)
    referral.refresh_from_db()
    assert (referral.height_cm, referral.weight_kg) == (None, None)


def test_a_referral_dated_before_any_rules_shows_needs_information(team_a, clinic_a, doctor):
    referral = make_referral(
        clinic_a, provider=doctor, program=make_program(clinic_a, "cr"), referral_date="2010-01-01"
    )
    response = team_a["physiologist"].client.get(reverse("referral_detail", args=[clinic_a.slug, referral.pk]))
    assert response.context["eligibility"].status == "needs_information"


def test_claimed_contact_referrals_open_the_patient_chart_for_the_physician(clinic_a, team_a, program):
    physician = team_a["physician"]
    contact = make_provider(clinic_a, email=physician.user.email, npi="1245319599")
    referral = create(clinic_a, None, program, contact)
    services.provider_for_physician(membership=physician.membership)
    url = reverse("patient_detail", args=[clinic_a.slug, referral.patient.pk])
    assert physician.client.get(url).status_code == 200


# --- A physician's referral and an existing chart -------------------------------------------------


@pytest.fixture
def existing_chart(clinic_a):
    return make_patient(
        clinic_a, "EXIST-9", first_name="Grace", last_name="Hopper", date_of_birth="1946-12-09", phone="555-0100"
    )


def portal_refer(team_a, program):
    data = referral_data(program, None, patient_mrn="EXIST-9")
    data.pop("referring_provider")
    return services.portal_referral_submit(membership=team_a["physician"].membership, profile={}, data=data)


def test_a_portal_referral_matching_an_existing_chart_keeps_the_chart_closed_to_the_physician(
    team_a, program, existing_chart
):
    referral = portal_refer(team_a, program)
    assert referral.patient == existing_chart  # staff see the match at once
    chart = reverse("patient_detail", args=[existing_chart.clinic.slug, existing_chart.pk])
    assert team_a["physician"].client.get(chart).status_code == 404


def test_the_physician_sees_their_referral_but_no_chart_link_before_acceptance(team_a, program, existing_chart):
    referral = portal_refer(team_a, program)
    portal = team_a["physician"].client.get(reverse("portal_home")).content.decode()
    page = team_a["physician"].client.get(reverse("referral_detail", args=[referral.clinic.slug, referral.pk]))
    chart = reverse("patient_detail", args=[existing_chart.clinic.slug, existing_chart.pk])
    assert "Hopper" in portal and chart not in portal
    assert page.status_code == 200 and chart not in page.content.decode()


def test_accepting_the_referral_opens_the_chart_to_the_referring_physician(team_a, program, existing_chart):
    referral = portal_refer(team_a, program)
    services.referral_accept(
        clinic=referral.clinic, actor=team_a["physiologist"].user, referral=referral, start_date=timezone.localdate()
    )
    chart = reverse("patient_detail", args=[existing_chart.clinic.slug, existing_chart.pk])
    assert team_a["physician"].client.get(chart).status_code == 200
    assert chart in team_a["physician"].client.get(reverse("portal_home")).content.decode()


def test_a_staff_entered_referral_links_its_physician_to_the_matched_chart_at_once(
    team_a, program, doctor, existing_chart
):
    create(existing_chart.clinic, team_a["physiologist"].user, program, doctor, patient_mrn="EXIST-9")
    chart = reverse("patient_detail", args=[existing_chart.clinic.slug, existing_chart.pk])
    assert team_a["physician"].client.get(chart).status_code == 200
