"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs():
        if change.lock == "none" and change.rewrites_table and not ctx.is_new(action.table):
            yield (
                (
                    f"{action.kind.replace('_', ' ')} on {action.table} rebuilds the whole table "
                    "(INPLACE): DML continues but it is long and heavy."
                ),
                "",
            )
            return


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
