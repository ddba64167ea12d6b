"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("drop_not_null", "alter_column_type"):
        # MySQL: a MODIFY that leaves out the column's NOT NULL drops it (priced so).
        if change.kind == "drop_not_null" and not ctx.is_new(action.table):
            yield (
                (
                    f"{action.table}.{action.column} may now hold NULLs; old app code that assumes "
                    "it never does can fail."
                ),
                "",
            )


RULE = Rule(
    id="SS107",
    name="drop-not-null",
    title="Dropping NOT NULL lets NULLs reach old readers",
    severity=Severity.WARNING,
    summary=(
        "Old app code that assumes the column is never NULL may fail when the new version "
        "starts writing NULLs."
    ),
    fix=(
        "Fine in the expand phase when a default or sync trigger keeps old readers safe; "
        "otherwise make old readers NULL-safe first."
    ),
    kinds=frozenset({"drop_not_null", "alter_column_type"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
