"""What every page does before and after its view (issue 11 made it cheaper; it must do the same)."""

import datetime

from csp.utils import build_policy
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEntry, Membership
from clinic.sessionstore import SessionStore
from clinic.tenancy import active_memberships
from tests.conftest import make_member


def test_the_memberships_every_page_reads_are_the_active_ones_of_the_person_with_their_clinics(
    person_in_three_clinics, clinic_b
):
    user, _ = person_in_three_clinics
    make_member(clinic_b, "admin")  # somebody else

    read = active_memberships(user)

    expected = list(Membership.objects.select_related("clinic").filter(user=user, is_active=True).order_by("pk"))
    assert [vars(m) | {"_state": None} for m in read] == [vars(m) | {"_state": None} for m in expected]
    assert [vars(m.clinic) | {"_state": None} for m in read] == [vars(m.clinic) | {"_state": None} for m in expected]
    assert all(m.user is user for m in read)


def test_a_session_is_read_as_django_reads_it(db):
    session = SessionStore()
    session["_auth_user_id"] = "7"
    session.save()
    assert (
        SessionStore(session.session_key).load()
        == DjangoSessionStore(session.session_key).load()
        == {"_auth_user_id": "7"}
    )


def test_an_expired_session_is_not_read_and_starts_afresh(db):
    session = SessionStore()
    session["_auth_user_id"] = "7"
    session.save()
    Session.objects.filter(pk=session.session_key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    reread = SessionStore(session.session_key)
    assert reread.load() == {}
    assert reread.session_key is None


def test_pages_get_the_content_security_policy_of_the_settings(team_a):
    persona = team_a["physiologist"]
    response = persona.client.get(reverse("patient_list", args=[persona.clinic.slug]))
    assert response["Content-Security-Policy"] == build_policy()
    assert "Content-Security-Policy-Report-Only" not in response


def test_the_request_s_address_and_port_are_on_its_audit_entries_and_gone_after_it(team_a, patient_a):
    persona = team_a["physiologist"]
    chart = reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk])
    persona.client.get(chart, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_PORT="4443")
    (entry,) = AuditEntry.objects.filter(patient=patient_a, event=AuditEntry.Event.VIEW)
    assert (entry.actor, entry.remote_addr, entry.remote_port) == (persona.user, "10.1.2.3", 4443)

    later = audit.record_access(clinic=persona.clinic, actor=None, obj=patient_a, detail="a task")
    later.refresh_from_db()
    assert (later.actor, later.actor_email, later.remote_addr, later.remote_port) == (None, "system", None, None)


def test_the_base_page_follows_a_change_of_the_static_url(team_a, settings):
    persona = team_a["physiologist"]
    settings.STATIC_URL = "/assets/"
    html = persona.client.get(reverse("patient_list", args=[persona.clinic.slug])).content.decode()
    assert 'href="/assets/css/app.css"' in html
