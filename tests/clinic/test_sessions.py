"""Sign-in policy: required MFA, automatic logoff, lockout after failed attempts."""

import time

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from clinic import auth_backends
from clinic.models import User
from clinic.sessions import LAST_SEEN_KEY
from tests.conftest import PASSWORD, make_clinic, make_member


def sign_in(email, password=PASSWORD):
    client = Client()
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    return client, response


def test_member_of_a_clinic_requiring_mfa_must_set_it_up_before_anything_else(db):
    clinic = make_clinic(
        "strict",
    )
    clinic.mfa_required = True
    clinic.save()
    member = make_member(clinic, "physiologist")
    client, _ = sign_in(member.user.email)
    response = client.get(reverse("patient_list", args=[clinic.slug]))
    assert response.url == reverse("mfa_activate_totp")


def test_member_with_totp_is_let_through(db):
    clinic = make_clinic("strict")
    clinic.mfa_required = True
    clinic.save()
    member = make_member(clinic, "physiologist")
    Authenticator.objects.create(user=member.user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    client = Client()
    client.force_login(member.user)
    session = client.session
    session["mfa_required"] = True
    session.save()
    assert client.get(reverse("patient_list", args=[clinic.slug])).status_code == 200


def test_idle_session_is_signed_out(team_a):
    client = team_a["physiologist"].client
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 16 * 60
    session.save()
    response = client.get(reverse("patient_list", args=[team_a["physiologist"].clinic.slug]))
    assert response.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_activity_within_the_timeout_keeps_the_session(team_a):
    client = team_a["physiologist"].client
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 14 * 60
    session.save()
    assert client.get(reverse("patient_list", args=[team_a["physiologist"].clinic.slug])).status_code == 200


def test_clinic_timeout_applies_at_sign_in(db):
    clinic = make_clinic("quick", idle_timeout_minutes=5)
    member = make_member(clinic, "billing")
    client, _ = sign_in(member.user.email)
    assert client.session["idle_timeout_seconds"] == 300


def test_clinic_can_end_sessions_when_the_browser_closes(db):
    clinic = make_clinic("kiosk", logout_on_browser_close=True)
    member = make_member(clinic, "billing")
    client, _ = sign_in(member.user.email)
    assert client.session.get_expire_at_browser_close()


def test_keepalive_answers_no_content(team_a):
    assert team_a["billing"].client.post(reverse("session_keepalive")).status_code == 204


def test_repeated_wrong_passwords_lock_the_account_with_a_clear_message(team_a):
    email = team_a["billing"].user.email
    for _ in range(5):
        sign_in(email, "wrong-password-123")
    _, response = sign_in(email, PASSWORD)
    assert "Too many failed login attempts" in response.content.decode()


def test_a_clinic_that_turns_mfa_on_asks_signed_in_members_at_once(team_a):
    persona = team_a["physiologist"]
    persona.clinic.mfa_required = True
    persona.clinic.save()
    response = persona.client.get(reverse("patient_list", args=[persona.clinic.slug]))
    assert response.url == reverse("mfa_activate_totp")


def test_idle_timeout_is_kept_between_2_and_60_minutes(team_a):
    admin = team_a["admin"]
    response = admin.client.post(
        reverse("clinic_settings", args=[admin.clinic.slug]),
        {"name": "Alpha", "timezone": "America/New_York", "weight_unit": "lb", "length_unit": "in",
         "idle_timeout_minutes": 0},
    )  # fmt: skip
    assert "idle_timeout_minutes" in response.context["form"].errors
    admin.clinic.refresh_from_db()
    assert admin.clinic.idle_timeout_minutes == 15


def test_api_tokens_do_not_open_pages(team_a):
    from clinic import services

    _, raw = services.api_token_create(membership=team_a["admin"].membership, name="x")
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get(
        reverse("patient_export", args=[team_a["admin"].clinic.slug])
    )
    assert response.status_code == 302


def test_people_cannot_change_their_sign_in_email(team_a):
    assert team_a["physician"].client.get("/accounts/email/").status_code == 404


def test_password_reset_sends_an_email(team_a):
    from django.core import mail

    Client().post(reverse("account_reset_password"), {"email": team_a["billing"].user.email})
    assert mail.outbox[0].to == [team_a["billing"].user.email]


def test_django_admin_signs_in_through_the_same_login(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.url.startswith(reverse("account_login"))


def test_signing_in_with_a_password_keeps_the_person_signed_in(team_a):
    member = team_a["physiologist"]
    client, _ = sign_in(member.user.email)
    assert client.session["_auth_user_backend"].startswith("clinic.auth_backends.")
    assert client.get(reverse("patient_list", args=[member.clinic.slug])).status_code == 200


@pytest.mark.parametrize("old_backend", sorted(auth_backends.RENAMED))
def test_a_session_signed_in_before_the_backends_moved_stays_signed_in(team_a, old_backend):
    member = team_a["physiologist"]
    session = member.client.session
    session["_auth_user_backend"] = old_backend
    session.save()
    assert member.client.get(reverse("patient_list", args=[member.clinic.slug])).status_code == 200


def test_a_deactivated_person_is_signed_out_at_their_next_request(team_a):
    member = team_a["physiologist"]
    member.user.is_active = False
    member.user.save()
    response = member.client.get(reverse("patient_list", args=[member.clinic.slug]))
    assert response.url.startswith(reverse("account_login"))


def test_the_signed_in_person_is_read_as_the_orm_reads_them(team_a):
    user = team_a["physiologist"].user
    read = auth_backends.user_by_id(user.pk)
    assert [getattr(read, f.attname) for f in User._meta.concrete_fields] == [
        getattr(User.objects.get(pk=user.pk), f.attname) for f in User._meta.concrete_fields
    ]
    assert auth_backends.user_by_id(-5) is None
