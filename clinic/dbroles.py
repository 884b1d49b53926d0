"""MedFit's two PostgreSQL roles: the owner, which runs migrations, and the application role, which
gunicorn, Celery and the shell use. The application role is not superuser, owns no table and cannot
bypass row-level security; on the audit table it may only insert and read.

    python -m clinic.dbroles SUPERUSER_URL DATABASE [--owner medfit_owner] [--app medfit_app]

creates both roles and the database, owned by the owner. Passwords come from MEDFIT_OWNER_DB_PASSWORD
and MEDFIT_APP_DB_PASSWORD when set (docker-compose); without them the roles have none, for servers
with trust or peer authentication such as the embedded development server and CI. `grant_app_privileges` runs after
every `migrate`, so tables added later are granted too. Production: docs/deployment.md.
"""

import argparse
import contextlib
import os
import sys

from psycopg import sql

OWNER_ROLE = "medfit_owner"
APP_ROLE = "medfit_app"
AUDIT_TABLE = "clinic_auditentry"
AUDIT_CHAIN_HEADS = "medfit_audit_chain_head"  # the owner's alone (clinic/auditchain.py)

# Row-level security keeps a query's own conditions from running before the policy unless their
# functions are LEAKPROOF; upper() and LIKE are not marked so, which would stop the patient and referral
# prefix searches (UPPER(last_name) LIKE 'SM%') from using their indexes: a scan of the whole clinic
# instead of a few index pages. Neither can reveal a row's value through an error (LIKE's errors are
# about the pattern), so the superuser marks them. Where no superuser is at hand (a managed database),
# searches still work, only slower in large clinics: see docs/deployment.md.
LEAKPROOF_FUNCTIONS = ["pg_catalog.upper(text)", "pg_catalog.textlike(text, text)"]

# Patient data must not reach the server's log: no statement text on errors, no DETAIL lines (a
# unique violation's DETAIL repeats the key's values).
APP_ROLE_LOG_SETTINGS = {"log_min_error_statement": "panic", "log_error_verbosity": "terse"}


def _run(cursor, template: str, *names: str) -> None:
    """Execute `template` with each {} replaced by a quoted identifier."""
    cursor.execute(sql.SQL(template).format(*(sql.Identifier(name) for name in names)))


def _ensure_role(cursor, name: str, attributes: str) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    _run(cursor, f"{verb} ROLE {{}} {attributes}", name)


def setup(
    superuser_url: str, database: str, owner: str = OWNER_ROLE, app: str = APP_ROLE, passwords: dict | None = None
) -> None:
    """Create or repair both roles and the database. Safe to run again."""
    import psycopg

    passwords = passwords or {}
    with psycopg.connect(superuser_url, autocommit=True) as conn, conn.cursor() as cursor:
        # CREATEDB: the test suite creates its own database as the owner.
        _ensure_role(cursor, owner, "LOGIN NOSUPERUSER CREATEDB NOBYPASSRLS")
        _ensure_role(cursor, app, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
        for role in (owner, app):
            if passwords.get(role):
                statement = sql.SQL("ALTER ROLE {} PASSWORD {}")
                cursor.execute(statement.format(sql.Identifier(role), sql.Literal(passwords[role])))
        for setting, value in APP_ROLE_LOG_SETTINGS.items():
            _run(cursor, f"ALTER ROLE {{}} SET {setting} = '{value}'", app)
        cursor.execute("SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database])
        row = cursor.fetchone()
        if row is None:
            _run(cursor, "CREATE DATABASE {} OWNER {}", database, owner)
        elif row[0] != owner:
            _run(cursor, "ALTER DATABASE {} OWNER TO {}", database, owner)
    # template1 too: the databases the test suite and the benchmark create are copies of it.
    for name in (database, "template1"):
        mark_leakproof(psycopg.conninfo.make_conninfo(superuser_url, dbname=name))
    # A database made before the two roles existed has tables of another owner: hand them over.
    database_url = psycopg.conninfo.make_conninfo(superuser_url, dbname=database)
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(
            """SELECT format('ALTER %%s %%I.%%I OWNER TO %%I', CASE c.relkind WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, n.nspname, c.relname, %s::text)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
                 AND pg_catalog.pg_get_userbyid(c.relowner) <> %s
                 AND NOT (c.relkind = 'S' AND EXISTS (
                     SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))""",
            [owner, owner],
        )
        for (statement,) in cursor.fetchall():
            cursor.execute(statement)
        cursor.execute("SELECT format('ALTER FUNCTION %%s OWNER TO %%I', p.oid::regprocedure, %s::text) FROM pg_proc p "
                       "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
                       "AND p.proname LIKE 'medfit%%' AND pg_catalog.pg_get_userbyid(p.proowner) <> %s",
                       [owner, owner])  # fmt: skip
        for (statement,) in cursor.fetchall():
            cursor.execute(statement)
        _run(cursor, "GRANT USAGE ON SCHEMA public TO {}", app)


def mark_leakproof(superuser_url: str) -> None:
    import psycopg

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        for function in LEAKPROOF_FUNCTIONS:
            conn.execute(f"ALTER FUNCTION {function} LEAKPROOF")


def grant_app_privileges(connection, app_role: str) -> None:
    """Run as the owner after migrations: the application role may read and write every table, but
    only insert and read audit entries, and never change the migration history."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", [app_role])
        current_user, app_exists = cursor.fetchone()
        if not app_exists or current_user == app_role:
            return  # a single-role setup: nothing to grant
        _run(cursor, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}", app_role)
        _run(cursor, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}", app_role)
        _run(cursor, "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON django_migrations FROM {}", app_role)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [AUDIT_TABLE])
        if cursor.fetchone()[0]:
            _run(cursor, "REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}", AUDIT_TABLE, app_role)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [AUDIT_CHAIN_HEADS])
        if cursor.fetchone()[0]:
            _run(cursor, "REVOKE ALL ON {} FROM {}", AUDIT_CHAIN_HEADS, app_role)


def owner_session_options(*, audit_maintenance: bool = False) -> str:
    """libpq options for an owner's session: every clinic visible; the audit trail changeable only on request."""
    return "-c medfit.rls_bypass=on" + (" -c medfit.audit_maintenance=on" if audit_maintenance else "")


@contextlib.contextmanager
def connected_as_owner(*, audit_maintenance: bool = False):
    """Switch Django's default connection to the owner's login (DATABASE_OWNER_URL) for a block, with
    the bypass on as settings give the owner: for the test suite's and the benchmark's set-up."""
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    owner = dj_database_url.parse(settings.DATABASE_OWNER_URL)
    connection = connections["default"]
    keys = ["USER", "PASSWORD", "HOST", "PORT", "OPTIONS"]
    saved = {key: connection.settings_dict[key] for key in keys}
    options = owner_session_options(audit_maintenance=audit_maintenance)
    connection.close()
    connection.settings_dict.update({key: owner[key] for key in keys[:4]}, OPTIONS={"options": options})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Create MedFit's owner and application roles and its database.")
    parser.add_argument("superuser_url")
    parser.add_argument("database")
    parser.add_argument("--owner", default=OWNER_ROLE)
    parser.add_argument("--app", default=APP_ROLE)
    args = parser.parse_args(argv)
    passwords = {
        args.owner: os.environ.get("MEDFIT_OWNER_DB_PASSWORD", ""),
        args.app: os.environ.get("MEDFIT_APP_DB_PASSWORD", ""),
    }
    setup(args.superuser_url, args.database, owner=args.owner, app=args.app, passwords=passwords)
    print(f"Roles {args.owner} (owner) and {args.app} (application) ready; database {args.database}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
