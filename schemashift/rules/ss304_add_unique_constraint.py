"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if (
            action.constraint == "unique"
            and not action.using_index
            and not ctx.is_new(action.table)
        ):
            yield (
                (
                    f"Adding UNIQUE {action.name or ''} on {action.table} builds an index under "
                    "ACCESS EXCLUSIVE."
                ).replace("  ", " "),
                "",
            )


RULE = Rule(
    id="SS304",
    name="add-unique-constraint",
    title="UNIQUE constraint added by building its index under a strong lock",
    severity=Severity.ERROR,
    summary=(
        "ADD UNIQUE builds the index while holding ACCESS EXCLUSIVE: reads and writes "
        "wait for the whole build, and duplicates abort it."
    ),
    fix=(
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … UNIQUE USING INDEX "
        "(brief lock, no build)."
    ),
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D), breaks old app (B)",
)
