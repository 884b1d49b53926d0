"""The physician's portal inside a clinic: the home card, My patients, and the way between chart and referral."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEntry, Membership
from tests.conftest import (
    clinic_today,
    link_physician,
    make_member,
    make_patient,
    make_provider,
    make_referral,
)


@pytest.fixture
def physician(team_a):
    return team_a["physician"]


def refer(doctor, program, patient=None, **fields):
    return make_referral(doctor.clinic, patient=patient, provider=doctor, program=program, **fields)


def my_patients(persona, **params):
    return persona.client.get(reverse("my_patients", args=[persona.clinic.slug]), params)


def home_card(persona) -> tuple[int, str]:
    """The number on the physician's home card and the card's text."""
    html = persona.client.get(reverse("clinic_home", args=[persona.clinic.slug])).content.decode()
    card = re.search(r'<a class="card stat" href="/c/[\w-]+/my-patients/">(.*?)</a>', html, re.S)
    assert card, "no card linking to My patients"
    number = re.search(r'<span class="stat-number">(\d+)</span>', card.group(1))
    return int(number.group(1)), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card.group(1))).strip()


# --- One definition: the home card counts what My patients lists --------------------------------


@pytest.fixture
def referrals_in_several_statuses(clinic_a, clinic_b, team_a, physician, doctor, program):
    """Four referrals of the physician here (two awaiting review), one in another clinic, one of another
    physician here, and a patient linked to the physician without any referral."""
    for status in ("received", "in_review", "accepted", "declined"):
        refer(doctor, program, status=status)
    in_b = Membership.objects.create(clinic=clinic_b, user=physician.user, roles=["physician"])
    make_referral(clinic_b, provider=make_provider(clinic_b, membership=in_b))
    refer(make_provider(clinic_a, membership=make_member(clinic_a, "physician", email="other@alpha.test")), program)
    link_physician(make_patient(clinic_a, "LINKED-1", last_name="Linked"), physician.membership)


def test_home_card_counts_exactly_the_referrals_my_patients_lists(physician, referrals_in_several_statuses):
    number, _ = home_card(physician)
    assert number == my_patients(physician).context["page"].paginator.count == 4


def test_home_card_says_how_many_referrals_await_review(physician, referrals_in_several_statuses):
    _, text = home_card(physician)
    assert text == "4 patients you referred 2 awaiting the clinic's review"


def test_home_card_of_a_physician_without_referrals_says_none(physician):
    assert home_card(physician) == (0, "0 patients you referred Your referrals will appear here")


def test_staff_keep_the_active_patients_card(team_a, patient_a):
    html = team_a["physiologist"].client.get(reverse("clinic_home", args=[team_a["physiologist"].clinic.slug]))
    text = html.content.decode()
    assert "active patients" in text and "you referred" not in text


# --- My patients in one clinic -------------------------------------------------------------------


def test_my_patients_lists_only_this_clinics_referrals_of_this_physician(
    physician, doctor, program, referrals_in_several_statuses
):
    mine = set(doctor.referrals.values_list("pk", flat=True))
    assert {r.pk for r in my_patients(physician).context["page"]} == mine


def test_my_patients_filters_by_status(physician, doctor, program):
    accepted = refer(doctor, program, status="accepted")
    refer(doctor, program, status="received")
    assert [r.pk for r in my_patients(physician, status="accepted").context["page"]] == [accepted.pk]


def test_my_patients_shows_25_referrals_a_page(physician, doctor, program):
    for _ in range(26):
        refer(doctor, program)
    page = my_patients(physician, page=2).context["page"]
    assert (page.number, len(page.object_list), page.paginator.count) == (2, 1, 26)


def test_my_patients_is_shown_in_the_clinics_navigation(physician):
    html = my_patients(physician).content.decode()
    nav = re.search(r'<nav class="mainnav" aria-label="Clinic">(.*?)</nav>', html, re.S).group(1)
    url = reverse("my_patients", args=[physician.clinic.slug])
    assert f'<a href="{url}" aria-current="page">My patients</a>' in nav
    assert reverse("portal_refer", args=[physician.clinic.slug]) in nav


def test_my_patients_links_each_referral_and_a_visible_chart(physician, doctor, program, patient_a):
    pending = refer(doctor, program)
    accepted = refer(doctor, program, patient=patient_a, status="accepted")
    link_physician(patient_a, physician.membership)
    html = my_patients(physician).content.decode()
    slug = physician.clinic.slug
    assert reverse("referral_detail", args=[slug, pending.pk]) in html
    assert reverse("referral_detail", args=[slug, accepted.pk]) in html
    assert reverse("patient_detail", args=[slug, patient_a.pk]) in html


def test_my_patients_shows_a_rows_enrollment_and_escapes_the_patients_name(physician, doctor, program, patient_a):
    import datetime

    from clinic.models import Enrollment

    enrollment = Enrollment.objects.create(
        clinic=physician.clinic, patient=patient_a, program=program, start_date=datetime.date(2026, 9, 10),
        status=Enrollment.Status.COMPLETED,
    )  # fmt: skip
    refer(
        doctor, program, patient=patient_a, status="accepted", enrollment=enrollment, patient_last_name="<i>Doe</i>",
        referral_date=clinic_today(physician.clinic) - datetime.timedelta(days=1),
    )  # fmt: skip
    link_physician(patient_a, physician.membership)
    html = my_patients(physician).content.decode()
    assert "&lt;i&gt;Doe&lt;/i&gt;" in html and "<i>Doe" not in html
    assert "Accepted</span> · Completed" in html
    assert "09/10/2026" in html and "1 day<" in html
    progress_url = reverse("progress_detail", args=[physician.clinic.slug, patient_a.pk, enrollment.pk])
    assert f'<a class="nowrap" href="{progress_url}">Progress<span class="visually-hidden"> of &lt;i&gt;Doe' in html


def test_my_patients_records_the_list_access_in_the_audit_trail(physician, doctor, program):
    shown = refer(doctor, program)
    my_patients(physician)
    entry = AuditEntry.objects.filter(clinic=physician.clinic, actor=physician.user).latest("id")
    assert entry.additional_data == {"ids": [shown.pk]}
    assert entry.changes_text == "My patients (all), page 1"


def test_my_patients_without_referrals_explains_what_will_appear(physician):
    assert "No referrals yet." in my_patients(physician).content.decode()


def test_my_patients_of_another_clinic_is_not_found(physician, team_b, clinic_b):
    assert physician.client.get(reverse("my_patients", args=[clinic_b.slug])).status_code == 404


def test_my_patients_page_query_count_does_not_grow(physician, doctor, program, django_assert_max_num_queries):
    for _ in range(30):
        refer(doctor, program)
    # As the referral queue: the session is read from the database and saved (the current clinic), and
    # three queries set and restore the row-level security scope.
    with django_assert_max_num_queries(14):
        my_patients(physician)


# --- From the chart to the referral, and back --------------------------------------------------


@pytest.fixture
def referred_patient(physician, doctor, program, patient_a):
    """Clinic A's patient, whose referral by the physician the clinic accepted."""
    referral = refer(doctor, program, patient=patient_a, status="accepted")
    link_physician(patient_a, physician.membership)
    return referral


def chart(persona, patient):
    return persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient.pk]))


def test_chart_lists_the_physicians_referrals_of_the_patient_with_links(physician, referred_patient, patient_a):
    response = chart(physician, patient_a)
    assert [r.pk for r in response.context["referrals"]] == [referred_patient.pk]
    assert reverse("referral_detail", args=[physician.clinic.slug, referred_patient.pk]) in response.content.decode()


def test_chart_leaves_out_another_physicians_referral_of_the_same_patient(
    physician, clinic_a, program, referred_patient, patient_a
):
    other = make_provider(clinic_a, membership=make_member(clinic_a, "physician", email="other@alpha.test"))
    refer(other, program, patient=patient_a)
    assert [r.pk for r in chart(physician, patient_a).context["referrals"]] == [referred_patient.pk]


def test_staff_see_every_referral_of_the_patient_on_the_chart(team_a, clinic_a, program, referred_patient, patient_a):
    other = refer(make_provider(clinic_a, npi=""), program, patient=patient_a)
    assert {r.pk for r in chart(team_a["physiologist"], patient_a).context["referrals"]} == {
        referred_patient.pk,
        other.pk,
    }


def test_billing_sees_no_referrals_on_the_chart(team_a, referred_patient, patient_a):
    assert "<h2>Referrals</h2>" not in chart(team_a["billing"], patient_a).content.decode()


def test_chart_query_count_does_not_grow_with_referrals(
    team_a, doctor, program, patient_a, django_assert_max_num_queries
):
    for _ in range(10):
        refer(doctor, program, patient=patient_a)
    # The chart's queries (the session read and saved, the row-level security scope, the patient, the
    # audit entry, the enrollments), one for the referrals, one each for the sessions, reminders and
    # open safety flags panels, one for urgent clinical alerts, two for the progress reports panel and one
    # for the treatment plans.
    with django_assert_max_num_queries(22):
        chart(team_a["physiologist"], patient_a)


def test_referral_page_opens_the_chart_once_the_clinic_accepted_it(physician, referred_patient, patient_a):
    url = reverse("referral_detail", args=[physician.clinic.slug, referred_patient.pk])
    html = physician.client.get(url).content.decode()
    chart_url = reverse("patient_detail", args=[physician.clinic.slug, patient_a.pk])
    assert f'<a class="button" href="{chart_url}">Patient chart</a>' in html


def test_referral_page_tells_the_physician_when_the_chart_opens(physician, doctor, program):
    referral = refer(doctor, program)
    html = physician.client.get(reverse("referral_detail", args=[physician.clinic.slug, referral.pk])).content
    assert "Opens to you once the clinic accepts the referral" in html.decode()


def test_my_patients_and_the_referral_show_days_from_referral_to_first_session(
    physician, team_a, doctor, program, patient_a
):
    import datetime

    from clinic.models import Enrollment

    enrollment = Enrollment.objects.create(
        clinic=physician.clinic, patient=patient_a, program=program, start_date=datetime.date(2026, 9, 10),
        first_session_at=timezone.make_aware(datetime.datetime(2026, 9, 15, 9)),
    )  # fmt: skip
    referral = refer(
        doctor, program, patient=patient_a, status="accepted", enrollment=enrollment,
        referral_date=datetime.date(2026, 9, 1),
    )  # fmt: skip
    assert "14 days after referral" in my_patients(physician).content.decode()
    staff = team_a["physiologist"]
    page = staff.client.get(reverse("referral_detail", args=[staff.clinic.slug, referral.pk]))
    assert "First session 09/15/2026, 14 days after the referral." in page.content.decode()
