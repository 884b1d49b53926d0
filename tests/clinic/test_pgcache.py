"""The default cache (clinic/pgcache.py): Django's database cache semantics, with `set` and `add` in one
statement each, and expired rows deleted by Celery beat instead of culled as it writes."""

import threading
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection

from clinic import pgcache, tasks
from tests.conftest import run_at_once

EXPIRED = 0  # Django stores an entry set with timeout 0 as expired a second ago


@pytest.fixture
def key():
    return f"test:{uuid.uuid4()}"


def stored_keys() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key FROM {settings.CACHE_TABLE}")  # noqa: S608 (the setting's)
        return {row[0] for row in cursor.fetchall()}


def test_the_default_cache_is_this_backend():
    assert isinstance(caches["default"], pgcache.PostgresCache)


def test_set_stores_a_value_that_get_returns(db, key):
    cache.set(key, {"history": [1.5, 2.5]}, 60)
    assert cache.get(key) == {"history": [1.5, 2.5]}


def test_set_replaces_a_live_value(db, key):
    cache.set(key, "first", 60)
    cache.set(key, "second", 60)
    assert cache.get(key) == "second"


def test_set_and_add_are_one_statement_each(db, key, django_assert_num_queries):
    with django_assert_num_queries(1):
        cache.set(key, "value", 60)
    with django_assert_num_queries(1):
        cache.add(f"{key}:other", "value", 60)


def test_add_stores_a_missing_key(db, key):
    assert cache.add(key, "value", 60) is True
    assert cache.get(key) == "value"


def test_add_leaves_a_live_value_alone(db, key):
    cache.set(key, "first", 60)
    assert cache.add(key, "second", 60) is False
    assert cache.get(key) == "first"


def test_add_replaces_an_expired_value(db, key):
    cache.set(key, "old", EXPIRED)
    assert cache.add(key, "new", 60) is True
    assert cache.get(key) == "new"


def test_an_expired_value_is_not_returned(db, key):
    cache.set(key, "old", EXPIRED)
    assert cache.get(key, "missing") == "missing"
    assert cache.has_key(key) is False


def test_timeout_none_never_expires(db, key):
    cache.set(key, "forever", None)
    assert cache.get(key) == "forever"
    assert cache.add(key, "other", None) is False


def test_delete_removes_a_value(db, key):
    cache.set(key, "value", 60)
    assert cache.delete(key) is True
    assert cache.get(key) is None
    assert cache.delete(key) is False


def test_touch_gives_a_value_a_new_timeout(db, key):
    cache.set(key, "value", EXPIRED)
    assert cache.touch(key, 60) is True  # as Django's: the row of an expired key is still touched
    assert cache.get(key) == "value"


def test_touch_of_a_missing_key_is_false(db, key):
    assert cache.touch(key, 60) is False


def test_incr_and_get_or_set(db, key):
    cache.set(key, 1, 60)
    assert cache.incr(key, 2) == 3
    assert cache.get_or_set(f"{key}:computed", lambda: "computed", 60) == "computed"
    assert cache.get_many([key, f"{key}:computed", f"{key}:missing"]) == {key: 3, f"{key}:computed": "computed"}


def test_rows_read_the_same_with_djangos_database_cache(db, key):
    django_cache = DatabaseCache(settings.CACHE_TABLE, {})
    django_cache.set(f"{key}:django", [1.5], 60)
    cache.set(f"{key}:ours", [2.5], None)
    assert cache.get(f"{key}:django") == [1.5]
    assert django_cache.get(f"{key}:ours") == [2.5]


def concurrent_adds(key: str, times: int) -> list[bool]:
    results, lock = [], threading.Lock()

    def add():
        added = cache.add(key, "mine", 60)
        with lock:
            results.append(added)

    run_at_once(add, times=times)
    return results


def test_of_concurrent_adds_of_a_missing_key_exactly_one_succeeds(transactional_db, key):
    try:
        assert sorted(concurrent_adds(key, times=4)) == [False, False, False, True]
    finally:
        cache.delete(key)  # the cache table is not flushed between transactional tests


def test_of_concurrent_adds_of_an_expired_key_exactly_one_succeeds(transactional_db, key):
    cache.set(key, "old", EXPIRED)
    try:
        assert sorted(concurrent_adds(key, times=4)) == [False, False, False, True]
    finally:
        cache.delete(key)


def test_deleting_expired_entries_keeps_the_live_ones(db, key):
    cache.set(f"{key}:expired", "old", EXPIRED)
    cache.set(f"{key}:live", "value", 60)
    cache.set(f"{key}:forever", "value", None)
    assert tasks.delete_expired_cache_entries() >= 1
    assert {k.rsplit(":", 1)[1] for k in stored_keys() if key in k} == {"live", "forever"}


def test_beat_deletes_expired_entries_every_15_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["expired-cache-entries"]
    assert entry["task"] == "clinic.tasks.delete_expired_cache_entries" and entry["schedule"] == 15 * 60
