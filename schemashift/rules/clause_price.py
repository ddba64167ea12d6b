"""Which clause of a MySQL/MariaDB ALTER needs what the whole statement gets.

The server runs an ALTER with one algorithm for all its clauses (dialects/mysql.py
``assess_statement``): a cheap clause next to an expensive one is copied or rebuilt too.
SS701 and SS702 name the clause that needs it (its own price), or say it is the
combination (an INSTANT ADD COLUMN next to ADD INDEX makes MariaDB rebuild).
"""

from __future__ import annotations

from collections.abc import Callable

from schemashift.analysis.context import StatementContext
from schemashift.model import Change


def culprits(ctx: StatementContext, needs: Callable[[Change], bool]) -> list[str]:
    """The kinds of the clauses whose own price ``needs`` (empty: no single clause does)."""
    from schemashift.dialects.mysql import MYSQL

    if len(ctx.actions) < 2:
        return []
    out = []
    for action in ctx.actions:
        own = MYSQL.assess(action, ctx.state, ctx.version)
        if needs(own):
            out.append(action.kind.replace("_", " "))
    return out


def because(ctx: StatementContext, needs: Callable[[Change], bool]) -> str:
    """`` (for drop column, add index: the server runs one algorithm for the whole ALTER)``
    when the statement has several clauses; empty for one."""
    if len(ctx.actions) < 2:
        return ""
    names = culprits(ctx, needs)
    if names:
        return (f" because of its {', '.join(dict.fromkeys(names))} (the server runs one "
                "algorithm for the whole ALTER, so its other clauses wait for it too)")  # fmt: skip
    return " because of how its clauses combine (no single one needs it alone)"
