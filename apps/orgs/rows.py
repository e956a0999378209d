"""Model rows through hand-written SQL, for the hot API paths (authentication, next, submit, attach).

There, compiling an ORM query costs the web process more CPU than PostgreSQL spends running it. The
column lists come from the models' own fields, so a field added to a model needs no change here; rows
come back as ordinary model instances (converters applied, `_state` as the ORM sets it).
"""

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection


class Columns:
    """A model's concrete columns as a SELECT list under `alias`, and instances built from slices of rows."""

    def __init__(self, model, alias: str):
        fields = model._meta.concrete_fields
        self.model, self.width = model, len(fields)
        self.sql = ", ".join(f'{alias}."{field.column}"' for field in fields)
        self._names = [field.attname for field in fields]
        # As the ORM's compiler orders them: the backend's (SQLite: dates, booleans), then the field's (JSON).
        self._converters = [
            (i, converter, field) for i, field in enumerate(fields)
            for converter in [*connection.ops.get_db_converters(field.cached_col), *field.get_db_converters(connection)]
        ]

    def build(self, row, start: int = 0):
        values = list(row[start:start + self.width])
        for i, converter, field in self._converters:
            values[i] = converter(values[i], field, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self._names, values)


@cache
def columns(model, alias: str) -> Columns:
    return Columns(model, alias)


class Insert:
    """`INSERT INTO <model's table> (<every concrete column but an auto primary key>) VALUES (...)`."""

    def __init__(self, model):
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if not (f.primary_key and f.db_returning)]
        self.sql = (f'INSERT INTO "{meta.db_table}" ({", ".join(chr(34) + f.column + chr(34) for f in self.fields)}) '
                    f'VALUES ({", ".join(["%s"] * len(self.fields))})')

    def params(self, instance, *, skip=()) -> list:
        """The values the ORM's own INSERT would send for `instance` (pre_save, then the database form)."""
        return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in self.fields
                if f.attname not in skip]

    def select_sql(self, source: str, computed: dict[str, str]) -> str:
        """`INSERT INTO ... SELECT ... FROM source`: SQL for the `computed` columns (by attname), %s for the rest
        (params(instance, skip=computed)): a row that takes a value from another part of the same statement."""
        head = self.sql.split(" VALUES ", 1)[0]
        values = ", ".join(computed.get(f.attname, "%s") for f in self.fields)
        return f"{head} SELECT {values} FROM {source}"


@cache
def insert(model) -> Insert:
    return Insert(model)


def fetch(sql: str, params) -> list[tuple]:
    """The rows of a statement that returns rows (SELECT, or a write with RETURNING)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
