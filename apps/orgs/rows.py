"""Model rows through hand-written SQL, for the hot API paths (authentication, next, submit, attach).

There, compiling an ORM query costs the web process more CPU than PostgreSQL spends running it. The
column lists come from the models' own fields, so a field added to a model needs no change here; rows
come back as ordinary model instances (converters applied, `_state` as the ORM sets it).
"""

from functools import cache

import psycopg._queries
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

# psycopg converts a statement's %s placeholders and keeps the result only for statements under 4,096 characters
# and 50 parameters; the hot ones (a lease with its task's columns, an annotation with its version and audit event)
# are longer, and were converted anew on every call (a few tenths of a millisecond each). The cache is a 128-entry
# LRU whatever the sizes.
if hasattr(psycopg._queries, "MAX_CACHED_STATEMENT_LENGTH"):
    psycopg._queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg._queries.MAX_CACHED_STATEMENT_LENGTH, 32768)
    psycopg._queries.MAX_CACHED_STATEMENT_PARAMS = max(psycopg._queries.MAX_CACHED_STATEMENT_PARAMS, 200)


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
    """`INSERT INTO <model's table> (<every concrete column but an auto primary key, unless with_pk>) VALUES
    (...)`."""

    def __init__(self, model, with_pk: bool = False):
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if with_pk or not (f.primary_key and f.db_returning)]
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
def insert(model, with_pk: bool = False) -> Insert:
    return Insert(model, with_pk)


def _server_cursor(db, raw=None):
    """On PostgreSQL, a cursor that binds parameters on the server, so that psycopg prepares each statement the
    connection runs more than `prepare_threshold` times (settings): PostgreSQL then parses and plans it once per
    connection instead of on every call, which was more than half of its CPU on the queue's statements (and the
    ORM's client-side cursors are left as they are). Wrapped as Django wraps its own cursors, so query logging,
    `django_assert_num_queries` and execute wrappers see these statements too."""
    if raw is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        raw = ServerBindingCursor(db.connection)
    db.validate_thread_sharing()
    return _LoggedCursor(raw, db) if db.queries_logged else db.make_cursor(raw)


class _LoggedCursor(CursorDebugWrapper):
    """Django's query log for these cursors (tests, DEBUG): psycopg keeps no text of a prepared statement's run,
    so the statement is logged as composed on the client."""

    def execute(self, sql, params=None):
        try:
            shown = self.db.ops.compose_sql(sql, params)
        except Exception:  # a parameter the client cannot render: the statement as written
            shown = sql
        with self.debug_sql(shown, params):
            return CursorWrapper.execute(self, sql, params)


def _opens_transaction(db) -> bool:
    """The next statement is the first of a transaction Django has opened (psycopg would send BEGIN alone, a
    round trip of its own, before it)."""
    from psycopg.pq import TransactionStatus

    return not db.get_autocommit() and db.connection.info.transaction_status == TransactionStatus.IDLE


def _rows(cursor) -> list[tuple]:
    # psycopg's `rownumber` tells whether rows came back without building `description`'s column objects (a cost
    # per column, and the hot statements return wide rows).
    return cursor.fetchall() if cursor.rownumber is not None else []


def fetch(sql: str, params) -> list[tuple]:
    """The rows of a hand-written statement ([] for one that returns none), prepared on PostgreSQL. Statements
    must keep their text fixed for a given shape: pass lists as one array parameter (`= ANY(%s)`), not as a
    placeholder per item, or each length is another prepared statement."""
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` looks the thread's connection up on every use
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
    db.ensure_connection()
    raw = db.__dict__.get("_quorum_cursor")  # one such cursor per connection
    cursor = _server_cursor(db, raw if raw is not None and raw.connection is db.connection else None)
    db._quorum_cursor = cursor.cursor
    if _opens_transaction(db):  # BEGIN rides along in the statement's round trip
        with db.wrap_database_errors, db.connection.pipeline():
            cursor.execute(sql, params)
    else:
        cursor.execute(sql, params)
    return _rows(cursor)


def fetch_many(statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """The rows of each of several statements, sent together (psycopg's pipeline mode): one round trip on
    PostgreSQL. They run one after the other as if sent one by one, each with its own snapshot, so a statement
    sees what the ones before it did (and a lock they took)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return [fetch(sql, params) for sql, params in statements]
    db.ensure_connection()
    cursors = [_server_cursor(db) for _ in statements]
    with db.wrap_database_errors, db.connection.pipeline():
        for cursor, (sql, params) in zip(cursors, statements, strict=True):
            cursor.execute(sql, params)
    return [_rows(cursor) for cursor in cursors]


def in_list(column: str, values) -> tuple[str, list]:
    """`column` is one of `values`, as SQL and its parameters: one array parameter on PostgreSQL (so the text
    does not change with the number of values and the statement stays prepared), a placeholder each on SQLite."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values
