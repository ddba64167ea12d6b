"""SS107 drop-not-null: Dropping NOT NULL lets NULLs reach old readers.

Old app code that assumes the column is never NULL may fail when the new version starts
writing NULLs.

Safe alternative: Fine in the expand phase when a default or sync trigger keeps old
readers safe; otherwise make old readers NULL-safe first.
See docs/rules/SS107.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_not_null"):
        if not ctx.is_new(action.table):
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
    kinds=frozenset({"drop_not_null"}),
    check=check,
    dialects=ALL_DIALECTS,
)
