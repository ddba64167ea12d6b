"""What a live database says about its tables, for `schemashift lint --database-url`:
every column's type and NOT NULL, and each table's estimated rows and size. Read-only
(a read-only transaction, catalog queries only), one connection, a few queries.

The facts go to the linter as the schema it prices against (like `--schema`): a type
change is priced on the real old type, and a finding on a table says how big the table
is, so a rewrite of 3,000 rows is not reported like one of 50 million.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemashift.execute.database import DatabaseError, Target, connect, parse_url
from schemashift.sqltext.names import canonical_part


@dataclass
class CatalogFacts:
    column_types: dict[tuple[str, str], str] = field(default_factory=dict)
    not_null: dict[tuple[str, str], bool] = field(default_factory=dict)
    # table -> (estimated rows, bytes on disk with indexes)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


_PG_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
"""
_PG_SIZES = """
SELECT c.relname, GREATEST(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
"""
_MYSQL_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'NO'
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
"""
_MYSQL_SIZES = """
SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
"""


def read_catalog(url: str) -> CatalogFacts:
    """The facts of the database at ``url`` (DatabaseError: cannot connect or read)."""
    target = parse_url(url)
    if target.dialect == "sqlite":
        return _sqlite(target)
    conn = connect(target, autocommit=True)
    try:
        if target.dialect == "postgres":
            conn.execute("SET default_transaction_read_only = on")
            columns = conn.execute(_PG_COLUMNS).fetchall()
            sizes = conn.execute(_PG_SIZES).fetchall()
        else:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.execute(_MYSQL_COLUMNS)
                columns = list(cur.fetchall())
                cur.execute(_MYSQL_SIZES)
                sizes = list(cur.fetchall())
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot read the catalog of {target.safe}: "
                            f"{' '.join(str(exc).split())}", target) from None  # fmt: skip
    finally:
        conn.close()
    return _facts(target.dialect, columns, sizes)


def _sqlite(target: Target) -> CatalogFacts:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{target.database}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open {target.safe}: {exc}", target) from None
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
        columns: list[tuple[Any, ...]] = []
        sizes: list[tuple[Any, ...]] = []
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for _cid, name, ctype, notnull, _default, pk in conn.execute(
                    f"PRAGMA table_info({quoted})"):  # fmt: skip
                columns.append((table, name, ctype, bool(notnull) or bool(pk)))
            rows = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0]
            sizes.append((table, rows, 0))
    finally:
        conn.close()
    return _facts("sqlite", columns, sizes)


def _facts(dialect: str, columns: list[tuple[Any, ...]], sizes: list[tuple[Any, ...]]
           ) -> CatalogFacts:  # fmt: skip
    facts = CatalogFacts()
    for table, column, ctype, not_null in columns:
        key = (canonical_part(str(table)), str(column))
        facts.column_types[key] = str(ctype).lower()
        facts.not_null[key] = bool(not_null)
    for table, rows, size in sizes:
        facts.sizes[canonical_part(str(table))] = (int(rows), int(size))
    return facts
