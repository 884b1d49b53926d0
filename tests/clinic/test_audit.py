"""The audit trail: changes, reads, sign-ins, masking, the admin's audit page."""

import pytest
from django.test import Client
from django.urls import reverse

from clinic import audit, services
from clinic.models import AuditEntry
from tests.conftest import PASSWORD


def test_chart_view_records_an_access_entry_with_actor_clinic_and_address(team_a, patient_a):
    persona = team_a["physiologist"]
    persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]), REMOTE_ADDR="10.1.2.3")
    entry = AuditEntry.objects.get(event=AuditEntry.Event.VIEW, patient=patient_a)
    assert (entry.actor, entry.clinic, entry.remote_addr) == (persona.user, persona.clinic, "10.1.2.3")


def test_patient_change_is_logged_with_the_clinic_and_the_changed_field(team_a, patient_a):
    services.patient_update(clinic=patient_a.clinic, actor=None, patient=patient_a, data={"phone": "555-0100"})
    entry = AuditEntry.objects.get(event=AuditEntry.Event.UPDATE, patient=patient_a)
    assert entry.clinic == patient_a.clinic
    assert entry.changes_dict["phone"] == ["", "555-0100"]


def test_mbi_and_member_id_are_masked_in_diffs(team_a, patient_a):
    services.patient_update(
        clinic=patient_a.clinic,
        actor=None,
        patient=patient_a,
        data={"mbi": "1EG4TE5MK73", "payer_member_id": "XYZ123456"},
    )
    entry = AuditEntry.objects.get(event=AuditEntry.Event.UPDATE, patient=patient_a)
    assert "1EG4TE5MK73" not in str(entry.changes)
    assert "XYZ123456" not in str(entry.changes)


def test_role_change_is_in_the_audit_trail(team_a):
    admin, billing = team_a["admin"], team_a["billing"]
    services.membership_set_roles(
        clinic=admin.clinic, actor=admin.user, membership=billing.membership, roles=["billing", "physiologist"]
    )
    entry = AuditEntry.objects.filter(event=AuditEntry.Event.UPDATE, object_pk=str(billing.membership.pk)).get()
    assert "roles" in entry.changes_dict


def test_system_reads_are_recorded_with_the_system_actor(patient_a):
    entry = audit.record_access(clinic=patient_a.clinic, actor=None, obj=patient_a, detail="Nightly report")
    assert (entry.actor, entry.actor_email) == (None, "system")


@pytest.mark.parametrize(("password", "event"), [(PASSWORD, "login"), ("wrong-password-123", "login_failed")])
def test_sign_in_attempts_are_recorded_for_each_clinic_of_the_person(team_a, password, event):
    person = team_a["billing"].user
    Client().post(reverse("account_login"), {"login": person.email, "password": password})
    entry = AuditEntry.objects.filter(event=event).latest("id")
    assert (entry.actor_email, entry.clinic) == (person.email, team_a["billing"].clinic)


def test_sign_out_is_recorded(team_a):
    persona = team_a["billing"]
    persona.client.post(reverse("account_logout"))
    assert AuditEntry.objects.filter(event=AuditEntry.Event.LOGOUT, actor=persona.user).exists()


def test_admin_filters_the_trail_by_patient(team_a, patient_a, clinic_a):
    from tests.conftest import make_patient

    other = make_patient(clinic_a, "OTHER-1")
    for patient in (patient_a, other):
        team_a["physiologist"].client.get(reverse("patient_detail", args=[clinic_a.slug, patient.pk]))
    response = team_a["admin"].client.get(reverse("audit_list", args=[clinic_a.slug]), {"patient": patient_a.pk})
    assert {e.patient_id for e in response.context["page"]} == {patient_a.pk}


def test_admin_filters_the_trail_by_user_and_action(team_a, patient_a, clinic_a):
    team_a["physiologist"].client.get(reverse("patient_detail", args=[clinic_a.slug, patient_a.pk]))
    team_a["billing"].client.get(reverse("patient_detail", args=[clinic_a.slug, patient_a.pk]))
    response = team_a["admin"].client.get(
        reverse("audit_list", args=[clinic_a.slug]), {"actor": team_a["billing"].user.pk, "event": "view"}
    )
    assert [e.actor for e in response.context["page"]] == [team_a["billing"].user]


def test_audit_page_never_shows_another_clinics_entries(team_a, team_b, patient_b, clinic_a):
    team_b["physiologist"].client.get(reverse("patient_detail", args=[patient_b.clinic.slug, patient_b.pk]))
    response = team_a["admin"].client.get(reverse("audit_list", args=[clinic_a.slug]))
    assert all(entry.clinic_id == clinic_a.pk for entry in response.context["page"])


def test_audit_export_is_itself_audited(team_a, clinic_a):
    response = team_a["admin"].client.get(reverse("audit_export", args=[clinic_a.slug]))
    b"".join(response.streaming_content)
    assert AuditEntry.objects.filter(clinic=clinic_a, event=AuditEntry.Event.EXPORT).exists()


def test_patient_export_records_which_patients_left_the_system(team_a, patient_a, clinic_a):
    response = team_a["admin"].client.get(reverse("patient_export", args=[clinic_a.slug]))
    b"".join(response.streaming_content)
    entry = AuditEntry.objects.get(clinic=clinic_a, event=AuditEntry.Event.EXPORT)
    assert entry.additional_data == {"ids": [patient_a.pk]}


def test_audit_page_query_count_does_not_grow_with_entries(team_a, patient_a, clinic_a, django_assert_max_num_queries):
    for _ in range(30):
        audit.record_access(clinic=clinic_a, actor=team_a["physiologist"].user, obj=patient_a)
    with django_assert_max_num_queries(12):
        team_a["admin"].client.get(reverse("audit_list", args=[clinic_a.slug]))
