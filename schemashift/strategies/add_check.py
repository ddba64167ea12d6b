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
from schemashift.phases.model import Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.add_foreign_key import named
from schemashift.strategies.common import (
    StrategyError,
    balanced,
    bare,
    pk_of,
    quote,
    quote_table,
    short_name,
    statement_text,
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
    table = action.table or ""
    digest = hashlib.sha1(expr.encode()).hexdigest()[:8]
    name = action.name or short_name(f"{bare(table)}_{digest}_check")
    t = quote_table(table, "postgres")
    n = quote(name, "postgres")
    return [
        Step(
            Phase.EXPAND,
            f"add check {name} NOT VALID",
            sql=(f"{named(sql, name, _UNNAMED)} NOT VALID",),
            rollback=(f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {n}",),
            why="a brief ACCESS EXCLUSIVE, no scan: enforced for new writes at once",
        ),
        Step(
            Phase.VERIFY,
            f"every row of {table} passes {name}",
            verify=Verify(
                f"rows of {table} that break {name}",
                f"SELECT {pk_of(table)} FROM {t} WHERE ({expr}) IS FALSE",
            ),
            why="VALIDATE fails on the first such row; this lists them",
        ),
        Step(
            Phase.VERIFY,
            f"validate {name}",
            sql=(f"ALTER TABLE {t} VALIDATE CONSTRAINT {n}",),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction",
        ),
    ]
