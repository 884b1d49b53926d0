"""The audit trail is append-only and tamper-evident.

Append-only: the application role may only insert and read audit entries (clinic/dbroles.py), and a
trigger refuses UPDATE, DELETE and TRUNCATE from every role unless the session set
`medfit.audit_maintenance`, which only `manage.py audit_retention` does.

Tamper-evident: each clinic's entries form a chain (entries without a clinic form one more). A trigger
gives every new entry the next sequence number of its chain, the previous entry's hash, and its own
hash: SHA-256 over the previous hash and the entry's canonical content (`medfit_audit_content`). The
chain's head (last number and hash) lives in a table the application role cannot read or write; its
row lock keeps concurrent writers of one clinic in order. `verify_chain` recomputes every hash.

Anyone with the owner's password could rewrite a whole chain consistently; to detect that, keep the
head hashes that `manage.py audit_verify` prints somewhere the database owner cannot change.
"""

from dataclasses import dataclass

from django.db import connection

from clinic.models import AuditCheckpoint

ZERO_HASH = "0" * 64

CHAIN_SQL = """
CREATE TABLE IF NOT EXISTS medfit_audit_chain_head (
    chain_key bigint PRIMARY KEY,  -- the clinic's id; 0 for entries without a clinic
    seq bigint NOT NULL,
    hash text NOT NULL
);

CREATE OR REPLACE FUNCTION medfit_audit_content(e clinic_auditentry) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_array(
      e.chain_seq, e.clinic_id, e.patient_id,
      to_char(e."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
      e.action, e.event, e.content_type_id, e.object_pk, e.object_id, e.object_repr,
      e.changes, e.changes_text, e.serialized_data, e.actor_id, e.actor_email,
      e.remote_addr::text, e.remote_port, e.cid, e.additional_data)::text
$$;

CREATE OR REPLACE FUNCTION medfit_audit_hash(prev_hash text, e clinic_auditentry) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(prev_hash || medfit_audit_content(e), 'UTF8')), 'hex')
$$;

-- Runs as the owner (SECURITY DEFINER): the application role cannot touch the heads itself.
CREATE OR REPLACE FUNCTION medfit_audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  chain bigint := coalesce(NEW.clinic_id, 0);
  head record;
BEGIN
  INSERT INTO medfit_audit_chain_head (chain_key, seq, hash) VALUES (chain, 0, repeat('0', 64))
    ON CONFLICT (chain_key) DO NOTHING;
  SELECT seq, hash INTO head FROM medfit_audit_chain_head WHERE chain_key = chain FOR UPDATE;
  NEW.chain_seq := head.seq + 1;
  NEW.prev_hash := head.hash;
  NEW.entry_hash := medfit_audit_hash(head.hash, NEW);
  UPDATE medfit_audit_chain_head SET seq = NEW.chain_seq, hash = NEW.entry_hash WHERE chain_key = chain;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION medfit_audit_chain_head(chain bigint) RETURNS TABLE (seq bigint, hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT seq, hash FROM medfit_audit_chain_head WHERE chain_key = chain
$$;

CREATE OR REPLACE FUNCTION medfit_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('medfit.audit_maintenance', true), '') <> 'on' THEN
    RAISE EXCEPTION 'The audit trail is append-only: % is refused (see docs/operations.md)', TG_OP;
  END IF;
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM medfit_audit_chain_head;  -- every chain starts again
    RETURN NULL;
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- Existing entries, in the order they were written, become the start of each chain.
DO $$
DECLARE
  entry record;
  head record;
BEGIN
  FOR entry IN SELECT id, coalesce(clinic_id, 0) AS chain FROM clinic_auditentry ORDER BY id LOOP
    INSERT INTO medfit_audit_chain_head VALUES (entry.chain, 0, repeat('0', 64)) ON CONFLICT DO NOTHING;
    SELECT seq, hash INTO head FROM medfit_audit_chain_head WHERE chain_key = entry.chain;
    UPDATE clinic_auditentry SET chain_seq = head.seq + 1, prev_hash = head.hash WHERE id = entry.id;
    UPDATE clinic_auditentry e SET entry_hash = medfit_audit_hash(e.prev_hash, e) WHERE id = entry.id;
    UPDATE medfit_audit_chain_head
       SET seq = head.seq + 1, hash = (SELECT entry_hash FROM clinic_auditentry WHERE id = entry.id)
     WHERE chain_key = entry.chain;
  END LOOP;
END $$;

DROP TRIGGER IF EXISTS audit_chain ON clinic_auditentry;
CREATE TRIGGER audit_chain BEFORE INSERT ON clinic_auditentry
  FOR EACH ROW EXECUTE FUNCTION medfit_audit_chain();
DROP TRIGGER IF EXISTS audit_append_only ON clinic_auditentry;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON clinic_auditentry
  FOR EACH ROW EXECUTE FUNCTION medfit_audit_append_only();
DROP TRIGGER IF EXISTS audit_no_truncate ON clinic_auditentry;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON clinic_auditentry
  FOR EACH STATEMENT EXECUTE FUNCTION medfit_audit_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS audit_chain ON clinic_auditentry;
DROP TRIGGER IF EXISTS audit_append_only ON clinic_auditentry;
DROP TRIGGER IF EXISTS audit_no_truncate ON clinic_auditentry;
DROP FUNCTION IF EXISTS medfit_audit_chain(), medfit_audit_append_only(), medfit_audit_chain_head(bigint);
DROP FUNCTION IF EXISTS medfit_audit_hash(text, clinic_auditentry), medfit_audit_content(clinic_auditentry);
DROP TABLE IF EXISTS medfit_audit_chain_head;
"""


@dataclass
class ChainReport:
    clinic_id: int | None
    entries: int
    head_hash: str
    problem: str = ""  # the first break found, naming the entry

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_chain(clinic_id: int | None) -> ChainReport:
    """Walk one chain in sequence order and name the first entry that was edited, deleted or
    inserted out of order. Needs to see the whole chain (row-level security bypass)."""
    checkpoint = AuditCheckpoint.objects.filter(clinic_id=clinic_id).order_by("-chain_seq").first()
    expected_seq = checkpoint.chain_seq + 1 if checkpoint else 1
    expected_prev = checkpoint.entry_hash if checkpoint else ZERO_HASH
    report = ChainReport(clinic_id=clinic_id, entries=0, head_hash=expected_prev)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id, e.chain_seq, e.prev_hash, e.entry_hash, medfit_audit_hash(e.prev_hash, e) "
            "FROM clinic_auditentry e WHERE e.clinic_id IS NOT DISTINCT FROM %s ORDER BY e.chain_seq, e.id",
            [clinic_id],
        )
        for entry_id, seq, prev_hash, entry_hash, recomputed in cursor:
            report.entries += 1
            if seq is None or seq < expected_seq:
                report.problem = f"Entry {entry_id} was inserted out of order (number {seq}, expected {expected_seq})."
            elif seq > expected_seq:
                report.problem = f"Entries {expected_seq}–{seq - 1} before entry {entry_id} were deleted."
            elif prev_hash != expected_prev:
                report.problem = f"Entry {entry_id} does not follow the entry before it (one was replaced or removed)."
            elif recomputed != entry_hash:
                report.problem = f"Entry {entry_id} was edited after it was written."
            if report.problem:
                return report
            expected_seq, expected_prev = seq + 1, entry_hash
        cursor.execute("SELECT seq, hash FROM medfit_audit_chain_head(%s)", [clinic_id or 0])
        head = cursor.fetchone()
    if head is not None and head[0] >= expected_seq:
        report.problem = f"The last entries of the chain ({expected_seq}–{head[0]}) were deleted."
    report.head_hash = expected_prev
    return report
