"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Change, Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.clause_price import because


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs():
        if change.lock == "none" and change.rewrites_table and not ctx.is_new(action.table):
            why = because(ctx, _rebuilds)
            kind = action.kind.replace("_", " ") if not why else "ALTER"
            yield (
                (
                    f"{kind} on {action.table} rebuilds the whole table (INPLACE){why}: DML "
                    "continues but it is long and heavy."
                ),
                "",
            )
            return


def _rebuilds(change: Change) -> bool:
    return change.lock == "none" and change.rewrites_table


RULE = Rule(
    id="SS702",
    name="mysql-inplace-rebuild",
    title="ALTER TABLE rebuilds the table in place",
    severity=Severity.WARNING,
    summary=(
        "An INPLACE rebuild lets DML continue but rewrites the whole table: long, I/O "
        "heavy, and replicas apply it serially afterwards."
    ),
    fix=(
        "Schedule it off-peak, or restructure it as an INSTANT change (add column last, "
        "rename, default changes)."
    ),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql"}),
    axes="long lock, rewrite or scan (L)",
)
