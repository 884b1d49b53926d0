"""Staff: invitations by email (sent by a real Celery worker), roles, deactivation."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic import outbox, services
from clinic.models import Invitation, Membership, OutboundMessage, User


def invite(team, email="new.person@alpha.test", roles=("physiologist",)):
    return services.invitation_create(
        clinic=team["admin"].clinic, actor=team["admin"].user, email=email, roles=list(roles)
    )


def wait_for_mail(count=1, seconds=10):
    import time

    deadline = time.time() + seconds
    while len(mail.outbox) < count and time.time() < deadline:
        time.sleep(0.05)
    return mail.outbox


def test_invitation_email_is_sent_by_the_celery_worker_after_commit(celery_worker, team_a):
    _, raw = invite(team_a)
    outbox = wait_for_mail()
    assert outbox[0].to == ["new.person@alpha.test"]
    assert reverse("invitation_accept", args=[raw]) in outbox[0].body


def test_invitation_email_is_sent_once_even_if_the_task_runs_twice(team_a):
    invite(team_a)
    message = OutboundMessage.objects.get(kind=OutboundMessage.Kind.INVITATION)
    outbox.message_send(message_id=message.pk)
    outbox.message_send(message_id=message.pk)
    assert len(mail.outbox) == 1


def test_invitation_link_is_erased_from_the_database_once_sent(team_a):
    invite(team_a)
    message = OutboundMessage.objects.get(kind=OutboundMessage.Kind.INVITATION)
    outbox.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.sent_at is not None and message.body == ""


def test_invited_person_creates_an_account_and_joins_with_the_roles(team_a):
    _, raw = invite(team_a, roles=["physiologist", "billing"])
    Client().post(
        reverse("invitation_accept", args=[raw]),
        {
            "first_name": "New",
            "last_name": "Person",
            "password": "a-long-unusual-pass",
            "password_again": "a-long-unusual-pass",
        },
    )
    membership = Membership.objects.get(user__email="new.person@alpha.test")
    assert sorted(membership.roles) == ["billing", "physiologist"]


def test_weak_password_is_refused_with_a_field_error(team_a):
    _, raw = invite(team_a)
    response = Client().post(
        reverse("invitation_accept", args=[raw]),
        {"first_name": "New", "last_name": "Person", "password": "password", "password_again": "password"},
    )
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="new.person@alpha.test").exists()


def test_invitation_link_works_only_once(team_a):
    _, raw = invite(team_a)
    services.invitation_accept(raw_token=raw, first_name="A", last_name="B", password="a-long-unusual-pass")
    with pytest.raises(ValidationError):
        services.invitation_accept(raw_token=raw, first_name="A", last_name="B", password="a-long-unusual-pass")


def test_invitation_expires_after_seven_days(team_a):
    invitation, raw = invite(team_a)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert Client().get(reverse("invitation_accept", args=[raw])).status_code == 404


def test_existing_user_accepts_while_signed_in(team_a, team_b):
    someone = team_b["physician"]
    _, raw = invite(team_a, email=someone.user.email, roles=["physician"])
    someone.client.post(reverse("invitation_accept", args=[raw]))
    assert Membership.objects.filter(user=someone.user, clinic=team_a["admin"].clinic, is_active=True).exists()


def test_admin_changes_roles(team_a):
    admin = team_a["admin"]
    billing = team_a["billing"].membership
    admin.client.post(reverse("staff_edit", args=[admin.clinic.slug, billing.pk]), {"roles": ["billing", "admin"]})
    billing.refresh_from_db()
    assert sorted(billing.roles) == ["admin", "billing"]


def test_the_last_admin_cannot_lose_the_admin_role(team_a):
    admin = team_a["admin"]
    response = admin.client.post(
        reverse("staff_edit", args=[admin.clinic.slug, admin.membership.pk]), {"roles": ["billing"]}
    )
    assert "at least one administrator" in str(response.context["form"].errors)
    admin.membership.refresh_from_db()
    assert admin.membership.roles == ["admin"]


def test_deactivation_keeps_the_membership_row(team_a):
    admin, billing = team_a["admin"], team_a["billing"]
    admin.client.post(reverse("staff_deactivate", args=[admin.clinic.slug, billing.membership.pk]))
    billing.membership.refresh_from_db()
    assert (billing.membership.is_active, billing.membership.deactivated_at is not None) == (False, True)


def test_admin_cannot_deactivate_themself(team_a):
    admin = team_a["admin"]
    with pytest.raises(ValidationError):
        services.membership_deactivate(clinic=admin.clinic, actor=admin.user, membership=admin.membership)


def test_there_is_no_public_sign_up(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "x@y.test", "password1": "a-long-unusual-pass", "password2": "a-long-unusual-pass"},
    )
    assert not User.objects.filter(email="x@y.test").exists()
    assert response.status_code in (200, 302, 403)
