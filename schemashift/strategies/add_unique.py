"""Add a UNIQUE constraint without ACCESS EXCLUSIVE through the index build.

expand    CREATE UNIQUE INDEX CONCURRENTLY (outside a transaction: reads and writes go on;
          duplicates are refused from then on)
verify    the index is valid (a failed concurrent build leaves an INVALID one behind)
contract  ADD CONSTRAINT … UNIQUE USING INDEX: a brief lock, no scan
rollback  DROP INDEX CONCURRENTLY
"""

from __future__ import annotations

import re

from schemashift.model import Change, Phase
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    StrategyError,
    name_of,
    pg_index_valid_verify,
    quote,
    short_name,
    split_columns,
    statement_text,
    table_of,
)

KIND = "add_constraint"
DIALECTS = ("postgres",)

# UNIQUE [NULLS [NOT] DISTINCT] (columns) and nothing after it we would have to carry.
_UNIQUE = re.compile(
    r'\bUNIQUE\s*(?P<nulls>NULLS\s+(?:NOT\s+)?DISTINCT\s*)?\((?P<cols>(?:"(?:[^"]|"")*"|[^()"])*)\)\s*$',
    re.IGNORECASE,
)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return action.constraint == "unique" and not action.using_index and bool(action.table)


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    m = _UNIQUE.search(statement_text(sql))
    if m is None:
        raise StrategyError(
            "only UNIQUE (columns) [NULLS [NOT] DISTINCT] is planned; add the index "
            "CONCURRENTLY and ADD CONSTRAINT … USING INDEX by hand for other forms"
        )
    t = table_of(action.table, dialect)
    cols = split_columns(m.group("cols"))
    name = name_of(action.name, dialect, "constraint name") or short_name(
        f"{t.name}_{'_'.join(cols)}_key")
    ts = t.sql("postgres")
    n = quote(name, "postgres")
    nulls = f" {' '.join(m.group('nulls').split()).upper()}" if m.group("nulls") else ""
    column_list = ", ".join(quote(c, "postgres") for c in cols)
    return [
        Step(
            Phase.EXPAND,
            f"build the unique index {name} CONCURRENTLY",
            sql=(
                f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {n} ON {ts} ({column_list}){nulls}",
            ),
            concurrent=True,
            rollback=(f"DROP INDEX CONCURRENTLY IF EXISTS {t.sibling(name, 'postgres')}",),
            why="SHARE UPDATE EXCLUSIVE: reads and writes go on while it builds; duplicates "
            "are refused from then on",
        ),
        Step(
            Phase.VERIFY,
            f"index {name} is valid",
            verify=pg_index_valid_verify(t, name),
            why="a concurrent build that met a duplicate leaves an INVALID index behind",
        ),
        Step(
            Phase.CONTRACT,
            f"turn the index {name} into the unique constraint",
            sql=(f"ALTER TABLE {ts} ADD CONSTRAINT {n} UNIQUE USING INDEX {n}",),
            why="a brief ACCESS EXCLUSIVE, no scan: the index already proves uniqueness",
        ),
    ]
