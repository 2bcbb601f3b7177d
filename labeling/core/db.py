"""Fewer round trips to the database on the labeling hot path."""

from contextlib import contextmanager
from functools import cache

from django.db import connection


@contextmanager
def pipelined():
    """Send the block's statements to PostgreSQL without waiting for each reply (psycopg's
    pipeline mode): they travel together and come back together when the block ends, one
    round trip instead of one each. Only for statements whose results the block does not
    read; read them after it (each from its own cursor). An error in any of them is raised,
    as Django's own database exception, when the block ends, and the transaction is then
    aborted as usual. Elsewhere (SQLite) the statements simply run one by one.

    A labeling request waits on PostgreSQL about twenty times; on two busy cores each wait
    costs a process switch both ways, so under load the waits, not the SQL, make the tail.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@cache
def _columns(model, alias: str, vendor: str) -> tuple[str, list[str], list]:
    """A model's concrete columns under a table alias, with each field's value converters
    (what the ORM applies to a fetched row), built once per process and database vendor."""
    names, attnames, converters = [], [], []
    for f in model._meta.concrete_fields:
        names.append(f"{alias}.{connection.ops.quote_name(f.column)}")
        col = f.get_col(model._meta.db_table)
        attnames.append(f.attname)
        converters.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    return ", ".join(names), attnames, converters


def model_from_row(model, alias: str, row, at: int):
    """The model instance whose columns (as `select_columns` lists them) start at row[at]:
    what the ORM would make of the row, without compiling a query for it."""
    _, attnames, converters = _columns(model, alias, connection.vendor)
    values = []
    for i, (col, funcs) in enumerate(converters, start=at):
        value = row[i]
        for func in funcs:
            value = func(value, col, connection)
        values.append(value)
    return model.from_db(connection.alias, attnames, values)


def select_columns(model, alias: str) -> str:
    return _columns(model, alias, connection.vendor)[0]
