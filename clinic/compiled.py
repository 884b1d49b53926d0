"""Queries compiled into SQL once per process and run with other values (issue 11).

For a small query Django spends more CPU compiling the queryset into SQL than PostgreSQL spends
answering it (the person's memberships: 0.4 of 0.65 ms of CPU; a chart panel's query cost about 1.6 ms
of CPU through the ORM, 0.2 ms run so). The SQL is still written by the ORM, from the queryset, so it
follows the models; only the values change per request. Use it for the handful of queries on every page
and for the most requested pages' reads (the chart, the floor sheet, Progress, My patients, the KPI
dashboard); not as a general cache.
`CompiledQuery` compiles and runs a query, `AnyOf` puts a list in as one value, and `loaded` and
`loaded_row` make a row's values instances as the ORM would. Rows come straight from the cursor, without
Django's field converters: a JSONField's value is its text (decode it with the field's `from_db_value`,
as outcomes.kpis.selectors.recent_exports does).
"""

import datetime
import functools

from django.contrib.postgres.fields import ArrayField
from django.db import connections
from django.db.models import BigIntegerField, BooleanField, F, Func, Value

# A moment for a compiled query's samples: no query compiles it in as a constant.
SAMPLE_MOMENT = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class CompiledQuery:
    """A queryset's SQL compiled once, its values named: `build(**samples)` returns the queryset, and
    `rows(**values)` runs it with each sample's placeholders bound to the value of the same name.

    A placeholder is a sample's when its compiled value is of the sample's type and equal to it (so a
    sample of 1 does not take a `True`); any other value the ORM compiled in (the statuses of a filter) is
    a constant of the query and stays. So the samples must be values no constant can equal (-1, a list
    holding -1, a moment in the year 2000), and the query must have no value that depends on the request
    other than the samples: a `__date` lookup, for one, compiles the active time zone in (compare with
    moments instead). A list of ids goes in as one array (`AnyOf`), so that the SQL does not depend on its
    length. A sample the ORM did not compile in is an error, found on the first use.
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
        return next(
            (name for name, sample in self.samples.items() if type(param) is type(sample) and param == sample), None
        )

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
    are deferred, and reading one of them would be a query of its own."""
    return _from_db(model, tuple(values), list(values.values()))


def paths_of(parts) -> list[str]:
    """What `values_list` reads for a row of `parts`, each `(model, path from the queried model, columns)`
    with the id first: the path and column of each, in the order `loaded_row` takes them."""
    for model, _, columns in parts:
        if columns[0] != "id":
            raise ValueError(f"the columns of {model.__name__} must begin with its id: {columns}")
    return [path + column for _, path, columns in parts for column in columns]


def loaded_row(row, parts, made: dict | None = None) -> list:
    """A row read with `values_list(*paths_of(parts))` as one instance per part (`loaded`), in their order;
    None for a part whose id is NULL (a LEFT JOIN that found nothing). The caller links them.

    `made`, one dict kept over a list's rows, makes each part's instance once per id and gives the same
    instance to every row that names it: a page of "My patients" names one clinic and a few programs in its
    25 rows, and making a model instance is most of the cost of a row (issue 11). Only for pages that read
    the instances and change none of them."""
    instances, start = [], 0
    for position, (model, _, columns) in enumerate(parts):
        values = row[start : start + len(columns)]
        start += len(columns)
        if values[0] is None:
            instances.append(None)
        elif made is None:
            instances.append(_from_db(model, tuple(columns), values))
        else:
            key = (position, values[0])
            if key not in made:
                made[key] = _from_db(model, tuple(columns), values)
            instances.append(made[key])
    return instances


def _from_db(model, columns: tuple[str, ...], values):
    names, order = _in_model_order(model, columns)
    return model.from_db("default", names, [values[i] for i in order])


@functools.cache
def _in_model_order(model, columns: tuple[str, ...]) -> tuple[list[str], list[int]]:
    """`columns` in the order of the model's, as `Model.from_db` takes them, and where each is in `columns`:
    worked out once per model and columns (a page loads an instance per row and part: the floor sheet 140)."""
    place = {name: position for position, name in enumerate(columns_of(model))}
    if not place.keys() >= set(columns):
        raise ValueError(f"not columns of {model.__name__}: {sorted(set(columns) - place.keys())}")
    order = sorted(range(len(columns)), key=lambda i: place[columns[i]])
    return [columns[i] for i in order], order
