"""The default cache: Django's database cache with `set`, `add` and `touch` in one statement each.

No maintained library does this for Django's `DatabaseCache` (PyPI and GitHub searched, 2026-11).

Django's `DatabaseCache` spends five statements on every `set` and `add`: a `COUNT(*)` of the whole table
(to decide whether to cull), then BEGIN, SELECT, INSERT or UPDATE, COMMIT. allauth's sign-in rate limits
make 8 of them a sign-in (a lock `add` and a counter `set` per rate, once to count and once to give the
attempt back), so they were 40 of a sign-in's 69 statements. Here each is one `INSERT ... ON CONFLICT`:
atomic without a transaction of its own, and safe between concurrent writers (PostgreSQL settles the
conflict on the key's unique index). Reading, deleting and incrementing are Django's; values are pickled
and base64-encoded as Django does, so rows written by either backend read in the other.

No culling, so `MAX_ENTRIES` and `CULL_FREQUENCY` are not used: Django culls by deleting a share of the
rows in key order, live or not, which could drop a live lockout counter (the reason this cache is in
PostgreSQL), and deciding when costs a count of the table on every write. The rows are short-lived (rate
limits live up to 15 minutes, the KPI dashboard's figures an hour), and Celery beat deletes the expired
ones every few minutes (`expired_entries_delete`).
"""

import base64
import pickle
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router
from django.utils.timezone import now as tz_now


class PostgresCache(DatabaseCache):
    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        self._upsert(key, value, timeout, only_if_expired=False)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store the value unless the key holds a live one; True when stored. An expired entry is replaced,
        as Django's database cache does. Of concurrent adds of one key exactly one stores: PostgreSQL settles
        them on the key's unique index (Django's SELECT then UPDATE let two replace one expired entry)."""
        key = self.make_and_validate_key(key, version=version)
        return self._upsert(key, value, timeout, only_if_expired=True)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        """As Django's: a new expiry for the key's row, even an expired one; one UPDATE, without count and cull."""
        key = self.make_and_validate_key(key, version=version)
        connection, table = self._write_connection()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET expires = %s WHERE cache_key = %s",  # noqa: S608 (the table is the setting's)
                [connection.ops.adapt_datetimefield_value(self._expires(timeout)), key],
            )
            return cursor.rowcount > 0

    def _upsert(self, key, value, timeout, *, only_if_expired: bool) -> bool:
        connection, table = self._write_connection()
        pickled = pickle.dumps(value, self.pickle_protocol)
        encoded = base64.b64encode(pickled).decode("latin1")
        params = [key, encoded, connection.ops.adapt_datetimefield_value(self._expires(timeout))]
        sql = (
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s) "  # noqa: S608 (the setting's)
            "ON CONFLICT (cache_key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires"
        )
        if only_if_expired:
            # Django's `add` compares with the time in whole seconds, as it stores expiry times.
            sql += f" WHERE {table}.expires < %s RETURNING cache_key"
            params.append(connection.ops.adapt_datetimefield_value(tz_now().replace(microsecond=0)))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None if only_if_expired else True  # RETURNING: no row, not stored

    def _expires(self, timeout) -> datetime:
        """When an entry set now with `timeout` expires, computed as Django's database cache does."""
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return datetime.max.replace(microsecond=0)
        return datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None).replace(microsecond=0)

    def _write_connection(self):
        connection = connections[router.db_for_write(self.cache_model_class)]
        return connection, connection.ops.quote_name(self._table)


def expired_entries_delete(alias: str = "default") -> int:
    """Delete the cache's expired rows (Celery beat): what Django's per-write cull used to do.
    An index on `expires` (createcachetable makes it) keeps this to the expired rows."""
    connection, table = caches[alias]._write_connection()
    with connection.cursor() as cursor:
        # The app's clock, as `get` uses to tell an expired row (PostgreSQL's now() is the transaction's start).
        now = connection.ops.adapt_datetimefield_value(tz_now())
        cursor.execute(f"DELETE FROM {table} WHERE expires < %s", [now])  # noqa: S608 (the table is the setting's)
        return cursor.rowcount
