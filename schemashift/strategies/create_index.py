"""Create an index on an existing table without blocking writes.

PostgreSQL
    expand    CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS, outside a transaction
              (SHARE UPDATE EXCLUSIVE instead of SHARE: writes go on)
    verify    the index is valid (a failed concurrent build leaves an INVALID one)
    rollback  DROP INDEX CONCURRENTLY IF EXISTS
MySQL / MariaDB
    expand    the same statement with ALGORITHM=INPLACE, LOCK=NONE: the server builds it
              online or refuses, never silently locks
    rollback  drop the index
"""

from __future__ import annotations

import re

from schemashift.model import Change, Phase
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    StrategyError,
    TableName,
    mysql_drop_index_if_exists,
    name_of,
    pg_index_valid_verify,
    quote,
    short_name,
    statement_text,
    table_of,
)

KIND = "create_index"
DIALECTS = ("postgres", "mysql")

_IDENT = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\w+)'
_PG_HEAD = re.compile(
    r"^\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:(?!ON\b){_IDENT}\s+)?ON\s+",
    re.IGNORECASE,
)
_MY_CLAUSES = re.compile(r"(?:\s*,?\s*(?:ALGORITHM|LOCK)\s*=?\s*\w+)+\s*$", re.IGNORECASE)
_MY_ADD_UNNAMED = re.compile(
    r"\bADD\s+(?P<kind>(?:UNIQUE\s+)?(?:INDEX|KEY)|UNIQUE)\s*(?=\()", re.IGNORECASE
)


def applies(action: Action, change: Change, dialect: str) -> bool:
    if not action.table:
        return False
    if dialect == "mysql":
        # FULLTEXT / SPATIAL cannot be built with LOCK=NONE: nothing better to offer.
        return (action.lock_clause or "").upper() != "NONE" and action.detail not in (
            "fulltext", "spatial")  # fmt: skip
    return not action.concurrently


def index_name(action: Action, t: TableName, dialect: str = "postgres") -> str:
    name = name_of(action.name, dialect, "index name")
    if name:
        return name
    cols = (action.column or "expr").replace(",", "_")
    return short_name(f"{t.name}_{cols}_idx")


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    if not sql:
        raise StrategyError("create_index needs the statement's text")
    return _mysql(action, sql) if dialect == "mysql" else _postgres(action, sql)


def _postgres(action: Action, sql: str) -> list[Step]:
    t = table_of(action.table, "postgres")
    name = index_name(action, t)
    text = statement_text(sql)
    m = _PG_HEAD.match(text)
    if m is None:
        raise StrategyError("cannot rewrite this CREATE INDEX as CREATE INDEX CONCURRENTLY")
    unique = "UNIQUE " if m.group("unique") else ""
    concurrent = (
        f"CREATE {unique}INDEX CONCURRENTLY IF NOT EXISTS {quote(name, 'postgres')} ON "
        + text[m.end() :]
    )
    return [
        Step(
            Phase.EXPAND,
            f"create index {name} CONCURRENTLY",
            sql=(concurrent,),
            concurrent=True,
            rollback=(f"DROP INDEX CONCURRENTLY IF EXISTS {t.sibling(name, 'postgres')}",),
            why="SHARE UPDATE EXCLUSIVE instead of SHARE: writes go on while it builds "
            "(outside a transaction block)",
        ),
        Step(
            Phase.VERIFY,
            f"index {name} is valid",
            verify=pg_index_valid_verify(t, name),
            why="a failed concurrent build leaves an INVALID index that IF NOT EXISTS would keep",
        ),
    ]


def _mysql(action: Action, sql: str) -> list[Step]:
    t = table_of(action.table, "mysql")
    name = index_name(action, t, "mysql")
    text = _MY_CLAUSES.sub("", statement_text(sql))
    if re.match(r"\s*ALTER\b", text, re.IGNORECASE):
        if not action.name:
            text = _MY_ADD_UNNAMED.sub(
                lambda m: f"ADD {m.group('kind')} {quote(name, 'mysql')} ", text, count=1
            )
        online = f"{text}, ALGORITHM=INPLACE, LOCK=NONE"
    else:
        online = f"{text} ALGORITHM=INPLACE LOCK=NONE"
    return [
        Step(
            Phase.EXPAND,
            f"create index {name} online",
            sql=(online,),
            rollback=mysql_drop_index_if_exists(t, name),
            why="ALGORITHM=INPLACE, LOCK=NONE: built while reads and writes go on, or refused "
            "- never a silent table lock",
        )
    ]
