"""Run-time references (sqltext/refs.py) answered by the live catalog: a column's type, a
table's paging key, a MySQL column's definition. Shared by the phase runner (which captures
them once, at expand) and the inline executor of ``op.schemashift_change``."""

from __future__ import annotations

from typing import Any

from schemashift.execute.database import DatabaseError
from schemashift.sqltext import refs
from schemashift.sqltext.names import BadName, TableName


def lookup(backend: Any, conn: Any, dialect: str, r: refs.Ref) -> str:
    """The value of reference ``r`` as the catalog answers now (DatabaseError if none)."""
    try:
        t = TableName.parse(r.table, dialect)
    except BadName as exc:
        raise DatabaseError(str(exc)) from None
    found: str | None
    if r.kind == "pk":
        found = backend.primary_key(conn, t)
        if found is None:
            raise DatabaseError(f"table {t} has no single-column primary key to page on")
        return str(found)
    assert r.column is not None
    if r.kind == "coldef":
        found = backend.column_definition(conn, t, r.column)
    elif r.kind in ("copydef", "copymark"):
        copy = backend.copy_definition(conn, t, r.column)
        found = None if copy is None else copy[0 if r.kind == "copydef" else 1]
    else:
        found = backend.column_type(conn, t, r.column)
    if found is None:
        raise DatabaseError(f"column {t}.{r.column} not found: cannot read its {r.kind}")
    return str(found)


def sql_literal(dialect: str, value: str) -> str:
    """``value`` as a SQL string literal of ``dialect``."""
    body = value.replace("'", "''")
    if dialect == "mysql":
        body = body.replace("\\", "\\\\")
    return f"'{body}'"
