"""The benchmark's own PostgreSQL database, `medfit_bench`, on the same server as DATABASE_URL.

The development database is never touched: Django is pointed at medfit_bench before it starts, and
`configure_django` checks that it really is.
"""

import contextlib
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

# BENCH_DATABASE names another, for two checkouts (other migrations) benchmarking against one server.
BENCH_DB = os.environ.get("BENCH_DATABASE", "medfit_bench")


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name (works for unix-socket URLs too)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def ensure_database(url: str, name: str = BENCH_DB, recreate: bool = False) -> bool:
    """Create database `name` on the server of `url` if missing (drop it first if `recreate`).

    Connects to the `postgres` maintenance database. Returns True when the database was created.
    """
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def configure_django() -> str:
    """Point Django's test settings at medfit_bench and start Django. Returns the bench URL (the owner's).

    As in production, pages run as the application role (row-level security applies); the database
    is created, migrated and filled as the owner (clinic/dbroles.py)."""
    dev_url = os.environ.get("DATABASE_URL")
    if not dev_url:
        raise SystemExit("DATABASE_URL is not set; run through `make bench` (clinic.devservices sets it).")
    owner_url = os.environ.get("DATABASE_OWNER_URL") or dev_url
    bench_url = with_database(owner_url, BENCH_DB)
    ensure_database(owner_url)

    # Read by clinic.settings when tests.settings imports it.
    os.environ["DATABASE_URL"] = with_database(dev_url, BENCH_DB)
    os.environ["DATABASE_OWNER_URL"] = bench_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # no HTTPS redirect, test Redis database
    os.environ["DEBUG"] = "0"  # measure the production code paths (cached templates, no debug toolbar)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # the host django.test.Client sends
    # A Redis database of its own, so a concurrent `make test` (dbs 1-8, cleared at start) can't interfere.
    os.environ.setdefault("MEDFIT_TEST_REDIS_DB", "9")

    import django
    from django.conf import settings

    django.setup()
    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DB:
        raise SystemExit(f"Refusing to run: Django is configured for database {name!r}, not {BENCH_DB!r}.")
    return bench_url


def recreate_database(bench_url: str) -> None:
    """Drop and create medfit_bench again (Django's connections are closed first)."""
    from django.db import connections

    connections.close_all()
    ensure_database(bench_url, recreate=True)


def migrate() -> None:
    from django.core.management import call_command

    from clinic.dbroles import connected_as_owner

    with connected_as_owner():
        call_command("migrate", interactive=False, verbosity=0)


RLS_TABLES_SQL = "SELECT relname FROM pg_class WHERE relkind = 'r' AND relrowsecurity ORDER BY relname"


@contextlib.contextmanager
def without_row_level_security():
    """For the comparison run only: pages as the owner with every policy off and no scope round trips."""
    from django.db import connection

    from clinic import rls
    from clinic.dbroles import connected_as_owner

    def set_no_scope(scope, *, force=False):
        return None

    with connected_as_owner():
        with connection.cursor() as cursor:
            cursor.execute(RLS_TABLES_SQL)
            tables = [name for (name,) in cursor.fetchall()]
            for table in tables:
                cursor.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(sql.Identifier(table)))
        activate, rls.activate = rls.activate, set_no_scope
        try:
            yield
        finally:
            rls.activate = activate
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(sql.Identifier(table)))
