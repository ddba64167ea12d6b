"""Add a CHECK constraint without an ACCESS EXCLUSIVE scan.

expand    the constraint NOT VALID: enforced for new writes at once, no scan
verify    list the rows that break it, then VALIDATE CONSTRAINT in its own transaction
          (SHARE UPDATE EXCLUSIVE: reads and writes go on)
rollback  drop the constraint
"""

from __future__ import annotations

import hashlib
import re

from schemashift.model import Change, Phase
from schemashift.phases.plan import Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.add_foreign_key import named
from schemashift.strategies.common import (
    StrategyError,
    balanced,
    name_of,
    pk_of,
    quote,
    short_name,
    statement_text,
    table_of,
)

KIND = "add_constraint"
DIALECTS = ("postgres",)

_UNNAMED = re.compile(r"\bADD\s+(?=CHECK\b)", re.IGNORECASE)
_CHECK = re.compile(r"\bCHECK\s*(?=\()", re.IGNORECASE)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return action.constraint == "check" and not action.not_valid and bool(action.table)


def check_expression(sql: str) -> str | None:
    text = statement_text(sql)
    m = _CHECK.search(text)
    if m is None:
        return None
    end = balanced(text, m.end())
    return text[m.end() + 1 : end - 1].strip() if end != -1 else None


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    expr = check_expression(sql)
    if expr is None:
        raise StrategyError("cannot find the CHECK (…) expression in the statement")
    t = table_of(action.table, dialect)
    digest = hashlib.sha1(expr.encode()).hexdigest()[:8]
    name = name_of(action.name, dialect, "constraint name") or short_name(f"{t.name}_{digest}_check")
    ts = t.sql("postgres")
    n = quote(name, "postgres")
    return [
        Step(
            Phase.EXPAND,
            f"add check {name} NOT VALID",
            sql=(f"{named(sql, name, _UNNAMED)} NOT VALID",),
            rollback=(f"ALTER TABLE {ts} DROP CONSTRAINT IF EXISTS {n}",),
            why="a brief ACCESS EXCLUSIVE, no scan: enforced for new writes at once",
        ),
        Step(
            Phase.VERIFY,
            f"every row of {t} passes {name}",
            verify=Verify(
                f"rows of {t} that break {name}",
                f"SELECT {pk_of(t)} FROM {ts} WHERE ({expr}) IS FALSE",
            ),
            why="VALIDATE fails on the first such row; this lists them",
        ),
        Step(
            Phase.VERIFY,
            f"validate {name}",
            sql=(f"ALTER TABLE {ts} VALIDATE CONSTRAINT {n}",),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction",
        ),
    ]
