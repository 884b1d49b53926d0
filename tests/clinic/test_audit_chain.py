"""The audit trail is append-only and tamper-evident (clinic/auditchain.py)."""

import datetime
from io import StringIO

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from clinic import audit
from clinic.dbroles import owner_session_options
from clinic.models import AuditCheckpoint, AuditEntry, Patient
from tests.conftest import connected_as_owner, make_clinic, make_patient, run_at_once


def owner_connection(*, maintenance: bool) -> psycopg.Connection:
    """The owner's own session on the test database, as someone with the owner's password would have."""
    owner = dj_database_url.parse(settings.DATABASE_OWNER_URL)
    options = owner_session_options(audit_maintenance=maintenance)
    return psycopg.connect(
        dbname=connection.settings_dict["NAME"], user=owner["USER"], password=owner["PASSWORD"] or None,
        host=owner["HOST"] or None, port=owner["PORT"] or None, autocommit=True, options=options,
    )  # fmt: skip


def write_entries(patient, count: int) -> list[AuditEntry]:
    entries = [
        audit.record_access(clinic=patient.clinic, actor=None, obj=patient, detail=f"Chart {i}") for i in range(count)
    ]
    return [AuditEntry.objects.get(pk=entry.pk) for entry in entries]


def verify(clinic) -> str:
    out = StringIO()
    call_command("audit_verify", clinic=clinic.slug, stdout=out)
    return out.getvalue()


def test_each_entry_carries_the_hash_of_the_one_before_it_in_its_clinic(patient_a):
    first, second = write_entries(patient_a, 2)
    assert second.chain_seq == first.chain_seq + 1
    assert second.prev_hash == first.entry_hash
    assert len(second.entry_hash) == 64


def test_each_clinic_has_a_chain_of_its_own(patient_a, patient_b):
    (entry_a,) = write_entries(patient_a, 1)
    (entry_b,) = write_entries(patient_b, 1)
    assert entry_b.prev_hash != entry_a.entry_hash


@pytest.mark.parametrize(
    "statement",
    ["UPDATE clinic_auditentry SET changes_text = 'x'", "DELETE FROM clinic_auditentry", "TRUNCATE clinic_auditentry"],
)
def test_the_application_role_may_not_change_or_remove_audit_entries(patient_a, statement):
    write_entries(patient_a, 1)
    refused = pytest.raises(ProgrammingError, match="permission denied")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)


def test_the_owner_is_refused_too_without_the_retention_command(transactional_db, patient_a):
    write_entries(patient_a, 1)
    with (
        owner_connection(maintenance=False) as owner,
        pytest.raises(psycopg.errors.RaiseException, match="append-only"),
    ):
        owner.execute("UPDATE clinic_auditentry SET changes_text = 'x'")


def test_verify_accepts_an_intact_trail(patient_a):
    write_entries(patient_a, 3)
    assert "intact" in verify(patient_a.clinic)


def test_verify_names_an_edited_entry(transactional_db, patient_a, capsys):
    _, edited, _ = write_entries(patient_a, 3)
    with owner_connection(maintenance=True) as owner:
        owner.execute("UPDATE clinic_auditentry SET changes_text = 'nothing to see' WHERE id = %s", [edited.pk])
    with pytest.raises(CommandError):
        call_command("audit_verify", clinic=patient_a.clinic.slug)
    assert f"Entry {edited.pk} was edited" in capsys.readouterr().out


def test_verify_names_the_entry_after_a_deleted_one(transactional_db, patient_a, capsys):
    _, deleted, following = write_entries(patient_a, 3)
    with owner_connection(maintenance=True) as owner:
        owner.execute("DELETE FROM clinic_auditentry WHERE id = %s", [deleted.pk])
    with pytest.raises(CommandError):
        call_command("audit_verify", clinic=patient_a.clinic.slug)
    assert f"before entry {following.pk} were deleted" in capsys.readouterr().out


def test_verify_notices_that_the_last_entries_were_deleted(transactional_db, patient_a, capsys):
    *_, last = write_entries(patient_a, 3)
    with owner_connection(maintenance=True) as owner:
        owner.execute("DELETE FROM clinic_auditentry WHERE id = %s", [last.pk])
    with pytest.raises(CommandError):
        call_command("audit_verify", clinic=patient_a.clinic.slug)
    assert "last entries of the chain" in capsys.readouterr().out


def test_verify_names_an_entry_inserted_out_of_order(transactional_db, patient_a, capsys):
    first, _ = write_entries(patient_a, 2)
    with owner_connection(maintenance=True) as owner:
        owner.execute("ALTER TABLE clinic_auditentry DISABLE TRIGGER audit_chain")
        owner.execute(
            "INSERT INTO clinic_auditentry (object_pk, object_repr, action, changes_text, timestamp, event, "
            "content_type_id, clinic_id, chain_seq, prev_hash, entry_hash) SELECT object_pk, object_repr, action, "
            "'forged', timestamp, event, content_type_id, clinic_id, chain_seq, prev_hash, entry_hash "
            "FROM clinic_auditentry WHERE id = %s RETURNING id",
            [first.pk],
        )
        owner.execute("ALTER TABLE clinic_auditentry ENABLE TRIGGER audit_chain")
    with pytest.raises(CommandError):
        call_command("audit_verify", clinic=patient_a.clinic.slug)
    assert "inserted out of order" in capsys.readouterr().out


def test_concurrent_writers_keep_one_unbroken_chain(transactional_db):
    clinic = make_clinic("concurrent")
    patient = make_patient(clinic)

    def write():
        for _ in range(5):
            with transaction.atomic():
                audit.record_access(clinic=clinic, actor=None, obj=patient)

    run_at_once(write, times=8)
    seqs = sorted(AuditEntry.objects.filter(clinic=clinic).values_list("chain_seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 40
    assert "intact" in verify(clinic)


def test_retention_removes_old_entries_and_leaves_a_chain_that_verifies(transactional_db, patient_a):
    long_ago = datetime.datetime(2015, 1, 1, tzinfo=datetime.UTC)
    for _ in range(2):  # written in 2015
        AuditEntry.objects.create(
            clinic=patient_a.clinic, timestamp=long_ago, action=AuditEntry.Action.ACCESS, object_pk="",
            object_repr="Patients", content_type=ContentType.objects.get_for_model(Patient),
        )  # fmt: skip
    kept = write_entries(patient_a, 1)
    with connected_as_owner():
        call_command(
            "audit_retention", "--before=2016-01-01", f"--clinic={patient_a.clinic.slug}", "--yes", stdout=StringIO()
        )
    remaining = set(AuditEntry.objects.filter(clinic=patient_a.clinic).values_list("pk", flat=True))
    assert remaining == {kept[0].pk}
    assert AuditCheckpoint.objects.get(clinic=patient_a.clinic).chain_seq == kept[0].chain_seq - 1
    assert "intact" in verify(patient_a.clinic)


def test_retention_refuses_to_remove_entries_younger_than_six_years(db):
    with pytest.raises(CommandError, match="at least 6 years"):
        call_command("audit_retention", f"--before={datetime.date.today()}")


def test_an_unknown_clinic_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No clinic"):
        call_command("audit_verify", clinic="nowhere")
