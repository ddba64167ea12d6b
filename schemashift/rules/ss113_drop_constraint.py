"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_constraint"):
        if not ctx.is_new(action.table):
            name = action.name or action.constraint or "constraint"
            yield (
                (
                    f"Dropping {name} on {action.table}: make sure no live app version relies on "
                    "it; this belongs in the contract phase."
                ),
                "",
            )


RULE = Rule(
    id="SS113",
    name="drop-constraint",
    title="Dropping a constraint removes a guarantee old code may rely on",
    severity=Severity.INFO,
    summary=(
        "The old app version may rely on the constraint (uniqueness to deduplicate, a "
        "cascade to clean up); without it, it can write data it never could before."
    ),
    fix=("Drop constraints in the contract phase, after no live app version relies on them."),
    kinds=frozenset({"drop_constraint"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
