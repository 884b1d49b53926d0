"""Queries that every request runs, compiled into SQL once per process (issue 11).

For a small query Django spends more CPU compiling the queryset into SQL than PostgreSQL spends
answering it: reading the person's memberships with their clinics cost 0.65 ms of CPU, of which the
compiling was about 0.4 ms; the session about 0.35 ms, half of it compiling. The SQL here is still
written by the ORM, from the queryset, so it follows the models; only the values change per request.
Use it for the handful of queries on every page, and for the most requested pages' reads: the chart's
panels (each panel's small query cost about 1.6 ms of CPU through the ORM, 0.2 ms run so) and the
physicians' Progress and My patients (attendance, observations, measures). Not as a general cache.
Rows come straight from the cursor, without Django's field converters: a JSONField's value is its text
(decode it with the field's `from_db_value`, as outcomes.kpis.selectors.recent_exports does).
"""

import datetime

from django.contrib.postgres.fields import ArrayField
from django.db import connections
from django.db.models import BigIntegerField, BooleanField, F, Func, Value


class CompiledQuery:
    """A queryset's SQL, compiled on first use and then run with other values in place of `samples`.

    `build` returns the queryset with the sample values; their order in the compiled SQL is checked,
    so that a value is never bound to the wrong placeholder.
    """

    def __init__(self, build, *samples, using: str = "default"):
        self.build, self.samples, self.using = build, samples, using
        self._sql = None

    @property
    def sql(self) -> str:
        if self._sql is None:
            sql, params = self.build().query.sql_with_params()
            if tuple(params) != self.samples:
                raise ValueError(f"compiled parameters {params!r} are not the samples {self.samples!r}")
            self._sql = sql
        return self._sql

    def rows(self, *values) -> list[tuple]:
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, values)
            return cursor.fetchall()


# A moment for a compiled query's samples: no query compiles it in as a constant.
SAMPLE_MOMENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class NamedCompiledQuery:
    """A queryset's SQL compiled once, its values named: `build(**samples)` returns the queryset, and
    `rows(**values)` runs it with each sample's placeholders bound to the value of the same name. Any
    other value the ORM compiled in (the statuses of a filter) is a constant of the query and stays, so
    the samples must be values no constant can equal (a list holding -1, a moment in the year 2000), and
    the query must have no value that depends on the request other than the samples: a `__date` lookup, for
    one, compiles the active time zone in (compare with moments instead).
    For a larger query with several filters, where listing every compiled value in order would be
    unreadable; a list of ids goes in as one array (`AnyOf`), so that the SQL does not depend on its length.
    """

    def __init__(self, build, using: str = "default", **samples):
        self.build, self.samples, self.using = build, samples, using
        self._compiled = None

    @property
    def compiled(self) -> tuple[str, list[tuple[str | None, object]]]:
        """The SQL, and for each placeholder (the name of its value, None) or (None, the constant)."""
        if self._compiled is None:
            sql, params = self.build(**self.samples).query.sql_with_params()
            slots = [(self._name_of(param), param) for param in params]
            missing = self.samples.keys() - {name for name, _ in slots}
            if missing:
                raise ValueError(f"samples {sorted(missing)} are not among the compiled parameters {params!r}")
            self._compiled = sql, slots
        return self._compiled

    def _name_of(self, param) -> str | None:
        return next((name for name, sample in self.samples.items() if param == sample), None)

    def rows(self, **values) -> list[tuple]:
        if values.keys() != self.samples.keys():
            raise TypeError(f"values for {sorted(self.samples)} expected, got {sorted(values)}")
        sql, slots = self.compiled
        params = [values[name] if name is not None else constant for name, constant in slots]
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


class AnyOf(Func):
    """`.filter(AnyOf("enrollment_id", ids))`: `"enrollment_id" = ANY(%s)` with the ids as one array
    parameter, so that the SQL does not depend on how many there are (PostgreSQL plans it as `IN (…)`)."""

    output_field = BooleanField()

    def __init__(self, column: str, values, base_field=None):
        array = Value(list(values), output_field=ArrayField(base_field or BigIntegerField()))
        super().__init__(F(column), array)

    def as_sql(self, compiler, connection, **extra_context):
        column, array = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        array_sql, array_params = compiler.compile(array)
        return f"{column_sql} = ANY({array_sql})", (*column_params, *array_params)


def columns_of(model) -> list[str]:
    """The attribute names of `model`'s columns in the order the ORM selects them (`Model.from_db`)."""
    return [field.attname for field in model._meta.concrete_fields]


def loaded(model, **values):
    """An instance of `model` as the ORM reads one with `.only()` these columns (`Model.from_db`): the others
    are deferred, and reading one of them would be a query of its own. `from_db` takes the values in the
    order of the model's fields."""
    names = [name for name in columns_of(model) if name in values]
    if len(names) != len(values):
        raise ValueError(f"not columns of {model.__name__}: {sorted(set(values) - set(names))}")
    return model.from_db("default", names, [values[name] for name in names])
