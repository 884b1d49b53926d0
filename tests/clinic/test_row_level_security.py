"""Row-level security: the database itself keeps each clinic's rows to that clinic (clinic/rls.py)."""

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.test import Client
from django.urls import reverse

from clinic import rls, selectors, services
from clinic.models import AuditEntry, Patient, User
from referrals import selectors as referral_selectors
from referrals.models import Referral
from tests.conftest import make_patient, make_referral


def tables_with_a_clinic_column() -> list[str]:
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if any(field.name == "clinic" and field.is_relation for field in model._meta.get_fields())
    )


@pytest.mark.parametrize("table", tables_with_a_clinic_column())
def test_every_table_with_a_clinic_column_has_a_forced_clinic_policy(db, table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, "
            "EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = 'clinic_isolation') "
            "FROM pg_class c WHERE c.relname = %s",
            [table],
        )
        assert cursor.fetchone() == (True, True, True), f"{table} needs clinic.rls.enable_sql in a migration"


def test_every_policy_reads_the_scope_once_per_query_not_once_per_row(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_policies WHERE policyname = 'clinic_isolation' "
            "AND (qual ~ '(?<!SELECT )medfit_rls_\\w+\\(\\)' OR with_check ~ '(?<!SELECT )medfit_rls_\\w+\\(\\)')"
        )
        assert cursor.fetchall() == [], "wrap each medfit_rls_*() call in (SELECT …): see clinic/rls.py VISIBLE"


def test_a_scan_under_a_policy_computes_the_scope_in_init_plans(db):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN SELECT count(*) FROM clinic_patient WHERE last_name <> ''")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "InitPlan" in plan and "current_setting" not in plan


def test_the_application_role_cannot_bypass_row_level_security(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, EXISTS (SELECT 1 FROM pg_tables WHERE tableowner = current_user) "
            "FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False)


def test_a_connection_without_a_scope_sees_no_clinic_rows(patient_a, patient_b):
    with rls.scoped(rls.NOTHING):
        assert Patient.objects.count() == 0


def test_a_clinic_scope_sees_only_that_clinics_rows(patient_a, patient_b):
    with rls.scoped(rls.clinic_scope(patient_a.clinic_id)):
        assert list(Patient.objects.all()) == [patient_a]


def test_writing_a_row_into_another_clinic_is_refused(clinic_a, clinic_b):
    refused = pytest.raises(ProgrammingError, match="row-level security")
    with rls.scoped(rls.clinic_scope(clinic_a.pk)), refused, transaction.atomic():
        make_patient(clinic_b, "B-999")


def test_the_bypass_is_recorded_in_the_audit_trail(db):
    with rls.bypass(reason="manage.py something"):
        pass
    entry = AuditEntry.objects.get(event=AuditEntry.Event.RLS_BYPASS)
    assert (entry.clinic_id, entry.changes_text) == (None, "manage.py something")


def test_a_request_leaves_the_connection_as_it_found_it(team_a, patient_a):
    before = rls.current()
    team_a["admin"].client.get(reverse("patient_list", args=[team_a["admin"].clinic.slug]))
    assert rls.current() == before


# --- The wall: with a selector's clinic filter removed on purpose, pages still show one clinic -----


@pytest.fixture
def forgotten_patient_filter(monkeypatch):
    def every_clinics_patients(membership):
        return Patient.objects.all()

    monkeypatch.setattr(selectors, "patients_visible_to", every_clinics_patients)


@pytest.fixture
def forgotten_referral_filter(monkeypatch):
    def every_clinics_referrals(membership):
        return Referral.objects.all()

    monkeypatch.setattr(referral_selectors, "referrals_visible_to", every_clinics_referrals)


def test_patient_list_page_shows_only_its_clinic_without_the_selectors_filter(
    forgotten_patient_filter, team_a, patient_a, patient_b
):
    response = team_a["admin"].client.get(reverse("patient_list", args=[team_a["admin"].clinic.slug]))
    assert patient_a.last_name in response.content.decode()
    assert patient_b.last_name not in response.content.decode()


def test_patient_chart_of_another_clinic_is_404_without_the_selectors_filter(
    forgotten_patient_filter, team_a, patient_b
):
    url = reverse("patient_detail", args=[team_a["admin"].clinic.slug, patient_b.pk])
    assert team_a["admin"].client.get(url).status_code == 404


def test_patient_api_shows_only_its_clinic_without_the_selectors_filter(
    forgotten_patient_filter, team_a, patient_a, patient_b
):
    _, raw = services.api_token_create(membership=team_a["physiologist"].membership, name="EHR")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.get(reverse("api-patient-list", args=[team_a["admin"].clinic.slug]))
    assert [row["mrn"] for row in response.json()["results"]] == [patient_a.mrn]


def test_referral_queue_shows_only_its_clinic_without_the_selectors_filter(
    forgotten_referral_filter, team_a, clinic_b, patient_a, patient_b
):
    make_referral(team_a["admin"].clinic, patient=patient_a)
    make_referral(clinic_b, patient=patient_b)
    response = team_a["physiologist"].client.get(reverse("referral_queue", args=[team_a["admin"].clinic.slug]))
    assert patient_a.last_name in response.content.decode()
    assert patient_b.last_name not in response.content.decode()


def test_the_django_admin_shows_every_clinic_to_a_superuser_and_records_it(patient_a, patient_b):
    superuser = User.objects.create_superuser("root@platform.test", "a-long-platform-password")
    client = Client()
    client.force_login(superuser)
    page = client.get(reverse("admin:clinic_patient_changelist")).content.decode()
    assert patient_a.mrn in page and patient_b.mrn in page
    assert AuditEntry.objects.filter(event=AuditEntry.Event.RLS_BYPASS, actor=superuser).exists()


def test_a_failed_sign_in_with_an_unknown_email_is_recorded_without_a_clinic(db):
    response = Client().post(reverse("account_login"), {"login": "nobody@nowhere.test", "password": "wrong-password"})
    assert response.status_code == 200
    entry = AuditEntry.objects.get(event=AuditEntry.Event.LOGIN_FAILED)
    assert (entry.clinic_id, entry.actor_email) == (None, "nobody@nowhere.test")


def test_entries_without_a_clinic_stay_out_of_a_clinics_scope(team_a):
    Client().post(reverse("account_login"), {"login": "nobody@nowhere.test", "password": "wrong-password"})
    with rls.scoped(rls.clinic_scope(team_a["admin"].clinic.pk)):
        assert not AuditEntry.objects.filter(clinic__isnull=True).exists()
