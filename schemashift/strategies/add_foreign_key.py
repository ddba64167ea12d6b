"""Add a foreign key without holding SHARE ROW EXCLUSIVE on both tables through a scan.

expand    the constraint NOT VALID: enforced for new writes at once, no scan
verify    list the rows without a parent (when the statement names its columns), then
          VALIDATE CONSTRAINT in its own transaction (SHARE UPDATE EXCLUSIVE: writes go on)
rollback  drop the constraint
"""

from __future__ import annotations

import re

from schemashift.model import Change, Phase
from schemashift.phases.plan import Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    StrategyError,
    TableName,
    name_of,
    pk_of,
    quote,
    short_name,
    split_columns,
    statement_text,
    table_of,
)

KIND = "add_constraint"
DIALECTS = ("postgres",)

_UNNAMED = re.compile(r"\bADD\s+(?=FOREIGN\s+KEY\b)", re.IGNORECASE)
_REFERENCE = re.compile(
    r"FOREIGN\s+KEY\s*\((?P<cols>[^)]*)\)\s*REFERENCES\s+"
    r'(?P<ref>(?:"(?:[^"]|"")+"|\w+)(?:\.(?:"(?:[^"]|"")+"|\w+))?)'
    r"\s*(?:\((?P<refcols>[^)]*)\))?",
    re.IGNORECASE,
)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return action.constraint == "foreign_key" and not action.not_valid and bool(action.table)


def constraint_name(action: Action, t: TableName) -> str:
    cols = (action.column or "").replace(",", "_")
    return name_of(action.name, "postgres", "constraint name") or short_name(f"{t.name}_{cols}_fkey")


def named(sql: str, name: str, pattern: re.Pattern[str]) -> str:
    """The statement with ``CONSTRAINT <name>`` written in when it had none."""
    text = statement_text(sql)
    return pattern.sub(f"ADD CONSTRAINT {quote(name, 'postgres')} ", text, count=1)


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    if not sql:
        raise StrategyError("add_foreign_key needs the statement's text")
    t = table_of(action.table, dialect)
    name = constraint_name(action, t)
    ts = t.sql("postgres")
    n = quote(name, "postgres")
    out = [
        Step(
            Phase.EXPAND,
            f"add foreign key {name} NOT VALID",
            sql=(f"{named(sql, name, _UNNAMED)} NOT VALID",),
            rollback=(f"ALTER TABLE {ts} DROP CONSTRAINT IF EXISTS {n}",),
            why="a brief SHARE ROW EXCLUSIVE on both tables, no scan: enforced for new writes",
        )
    ]
    orphans = _orphans(t, statement_text(sql))
    if orphans is not None:
        out.append(
            Step(
                Phase.VERIFY,
                f"every row of {t} has its parent",
                verify=Verify(f"rows of {t} without a parent for {name}", orphans),
                why="VALIDATE fails on the first orphan; this lists them",
            )
        )
    out.append(
        Step(
            Phase.VERIFY,
            f"validate {name}",
            sql=(f"ALTER TABLE {ts} VALIDATE CONSTRAINT {n}",),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction",
        )
    )
    return out


def _orphans(t: TableName, text: str) -> str | None:
    m = _REFERENCE.search(text)
    if m is None:
        return None
    cols = split_columns(m.group("cols"))
    ref = table_of(m.group("ref"), "postgres")
    q = "postgres"
    refcols = ([quote(c, q) for c in split_columns(m.group("refcols"))] if m.group("refcols")
               else [pk_of(ref)])  # fmt: skip
    if len(refcols) != len(cols):
        return None
    present = " AND ".join(f"c.{quote(col, q)} IS NOT NULL" for col in cols)
    match = " AND ".join(
        f"p.{rc} = c.{quote(col, q)}" for col, rc in zip(cols, refcols, strict=True)
    )
    return (
        f"SELECT c.{pk_of(t)} FROM {t.sql(q)} c WHERE {present} "
        f"AND NOT EXISTS (SELECT 1 FROM {ref.sql(q)} p WHERE {match})"
    )
