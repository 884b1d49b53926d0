"""The audit trail: changes, reads, sign-ins, masking, the admin's audit page."""

import datetime
import re
import zoneinfo

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from clinic import audit, services
from clinic.forms import AuditFilterForm
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


def test_sign_in_refused_during_a_lockout_is_recorded_as_failed(team_a):
    person = team_a["billing"].user
    for _ in range(5):  # ACCOUNT_RATE_LIMITS: 5 wrong passwords lock the account
        Client().post(reverse("account_login"), {"login": person.email, "password": "wrong-password-123"})
    response = Client().post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert "Too many failed login attempts" in response.content.decode()
    failed = AuditEntry.objects.filter(event=AuditEntry.Event.LOGIN_FAILED, actor_email=person.email)
    assert failed.count() == 6
    refused = failed.latest("id")
    assert (refused.changes_text, refused.clinic) == ("Refused: too many failed attempts", team_a["billing"].clinic)


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


def entry_at(clinic, moment, name):
    return AuditEntry.objects.create(
        clinic=clinic, timestamp=moment, content_type=ContentType.objects.get_for_model(clinic),
        object_pk=str(clinic.pk), object_repr=name, action=AuditEntry.Action.ACCESS,
    )  # fmt: skip


def test_the_trail_up_to_a_date_ends_at_the_clinics_midnight(team_a, clinic_a):
    local = zoneinfo.ZoneInfo(clinic_a.timezone)
    entry_at(clinic_a, datetime.datetime(2026, 3, 14, 23, 30, tzinfo=local), "late on the last day")
    entry_at(clinic_a, datetime.datetime(2026, 3, 15, 0, 10, tzinfo=local), "early the next day")
    shown = {row.entry.object_repr for row in audit_rows(team_a["admin"], date_to="2026-03-14")}
    assert "late on the last day" in shown and "early the next day" not in shown


def test_the_trail_from_a_date_starts_at_the_clinics_midnight(team_a, clinic_a):
    local = zoneinfo.ZoneInfo(clinic_a.timezone)
    entry_at(clinic_a, datetime.datetime(2026, 3, 13, 23, 50, tzinfo=local), "late the day before")
    entry_at(clinic_a, datetime.datetime(2026, 3, 14, 0, 10, tzinfo=local), "early on the first day")
    shown = {row.entry.object_repr for row in audit_rows(team_a["admin"], date_from="2026-03-14", date_to="2026-03-14")}
    assert shown == {"early on the first day"}


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
    with django_assert_max_num_queries(14):  # three set and restore the row-level security scope
        team_a["admin"].client.get(reverse("audit_list", args=[clinic_a.slug]))


FORGED = {"HTTP_X_FORWARDED_FOR": "6.6.6.6", "REMOTE_ADDR": "10.1.2.3"}


def test_a_forged_forwarded_for_header_is_ignored_without_trusted_proxies(team_a, patient_a):
    persona = team_a["physiologist"]
    persona.client.get(reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]), **FORGED)
    entry = AuditEntry.objects.get(event=AuditEntry.Event.VIEW, patient=patient_a)
    assert entry.remote_addr == "10.1.2.3"


def test_behind_one_trusted_proxy_the_address_it_saw_is_recorded_not_the_forged_one(team_a, patient_a, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    persona = team_a["physiologist"]
    # The client sent "X-Forwarded-For: 6.6.6.6"; our proxy appended the address it saw.
    persona.client.get(
        reverse("patient_detail", args=[persona.clinic.slug, patient_a.pk]),
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
        REMOTE_ADDR="10.0.0.2",
    )
    entry = AuditEntry.objects.get(event=AuditEntry.Event.VIEW, patient=patient_a)
    assert entry.remote_addr == "203.0.113.9"


def test_changes_recorded_by_auditlog_ignore_a_forged_forwarded_for_header(team_a, patient_a):
    admin = team_a["admin"]
    admin.client.post(
        reverse("patient_set_status", args=[admin.clinic.slug, patient_a.pk]), {"status": "inactive"}, **FORGED
    )
    entry = AuditEntry.objects.get(event=AuditEntry.Event.UPDATE, patient=patient_a)
    assert entry.remote_addr == "10.1.2.3"


def test_sign_in_rate_limits_count_the_same_address_as_the_audit_trail(rf, settings):
    from allauth.account.adapter import get_adapter

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.post("/accounts/login/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert get_adapter().get_client_ip(request) == "203.0.113.9"


# --- How the trail reads ----------------------------------------------------------------------


def audit_rows(persona, **filters):
    return persona.client.get(reverse("audit_list", args=[persona.clinic.slug]), filters).context["rows"]


def export_text(persona) -> str:
    response = persona.client.get(reverse("audit_export", args=[persona.clinic.slug]))
    return b"".join(response.streaming_content).decode()


def update_row(team_a, patient_a, **data):
    services.patient_update(clinic=patient_a.clinic, actor=team_a["physiologist"].user, patient=patient_a, data=data)
    return next(r for r in audit_rows(team_a["admin"], event="update") if r.entry.patient_id == patient_a.pk)


def test_the_trail_names_the_actor_with_full_name_and_email(team_a, patient_a):
    admin = team_a["admin"]
    admin.client.post(reverse("patient_set_status", args=[admin.clinic.slug, patient_a.pk]), {"status": "inactive"})
    row = next(r for r in audit_rows(admin, event="update") if r.entry.patient_id == patient_a.pk)
    assert row.actor == f"{admin.user.get_full_name()} ({admin.user.email})"
    assert [(c.field, c.old, c.new) for c in row.changes] == [("Status", "Active", "Inactive")]


def test_changes_show_field_labels_and_choice_labels(team_a, patient_a):
    row = update_row(team_a, patient_a, sex="F")
    assert [(c.field, c.old, c.new) for c in row.changes] == [("Sex", "Not reported", "Female")]


def test_an_empty_value_shows_as_a_dash(team_a, patient_a):
    row = update_row(team_a, patient_a, phone="555-0100")
    assert (row.changes[0].old, row.changes[0].new) == ("—", "555-0100")


def test_masked_values_show_as_masked_and_reveal_nothing(team_a, patient_a):
    row = update_row(team_a, patient_a, mbi="1EG4TE5MK73")
    assert [(c.field, c.old, c.new) for c in row.changes] == [("Medicare MBI", "—", "•••• (masked)")]


def test_a_change_of_a_masked_value_is_shown_without_the_values(team_a, patient_a):
    patient_a.mbi = "1EG4TE5MK73"
    patient_a.save()
    row = update_row(team_a, patient_a, mbi="2EG4TE5MK74")
    assert [(c.field, c.old, c.new) for c in row.changes] == [("Medicare MBI", "•••• (masked)", "•••• (masked)")]


def test_a_new_record_lists_its_fields_without_reverse_relations_or_reprs(team_a, clinic_a):
    from tests.conftest import make_program

    make_program(clinic_a)
    row = next(r for r in audit_rows(team_a["admin"], event="create") if r.record_type == "Program")
    shown = " ".join(f"{c.field} {c.old} {c.new}" for c in row.changes)
    assert "Clinic" in shown and clinic_a.name in shown
    assert "None" not in shown and "∅" not in shown and ".None" not in shown


def test_the_page_escapes_a_records_name_and_links_its_patients_trail(team_a, patient_a):
    patient_a.last_name = "<script>x</script>"
    patient_a.save()  # audited: an update of the patient, named by its new name
    html = team_a["admin"].client.get(reverse("audit_list", args=[patient_a.clinic.slug])).content.decode()
    assert f'<a href="?patient={patient_a.pk}">&lt;script&gt;x&lt;/script&gt;' in html
    assert "<script>x" not in html
    assert '<span class="event update">Updated</span>' in html
    assert re.search(r'<details class="changes"><summary>\d+ fields?: [^<]*Last name[^<]*</summary>', html)
    assert "<dt>Last name</dt><dd>Archer → &lt;script&gt;x&lt;/script&gt;</dd>" in html


def test_the_csv_export_reads_like_the_page(team_a, patient_a):
    admin = team_a["admin"]
    admin.client.post(reverse("patient_set_status", args=[admin.clinic.slug, patient_a.pk]), {"status": "inactive"})
    update_row(team_a, patient_a, sex="F", mbi="1EG4TE5MK73")
    text = export_text(admin)
    assert f"{admin.user.get_full_name()} ({admin.user.email})" in text
    assert "Sex: Not reported → Female" in text
    assert "•••• (masked)" in text and "MK73" not in text


def test_the_user_filter_keeps_the_chosen_user_selected_and_escapes_names(team_a):
    member = team_a["physician"].membership
    member.user.first_name = "<b>Ann</b>"
    html = str(AuditFilterForm({"actor": str(member.user_id)}, users=[(member.user_id, str(member.user))])["actor"])
    assert f'<option value="{member.user_id}" selected>' in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html and "<b>" not in html
