"""Queries that every request runs, compiled into SQL once per process (issue 11).

For a small query Django spends more CPU compiling the queryset into SQL than PostgreSQL spends
answering it: reading the person's memberships with their clinics cost 0.65 ms of CPU, of which the
compiling was about 0.4 ms; the session about 0.35 ms, half of it compiling. The SQL here is still
written by the ORM, from the queryset, so it follows the models; only the values change per request.
Use it for the handful of queries on every page, and for the chart's panels (the most requested page
after the lists: each panel's small query cost about 1.6 ms of CPU through the ORM, 0.2 ms run so),
not as a general cache.
"""

from django.db import connections


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
