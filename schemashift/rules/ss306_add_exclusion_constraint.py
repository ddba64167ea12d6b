"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if action.constraint == "exclusion" and not ctx.is_new(action.table):
            yield (
                (
                    f"Adding an exclusion constraint on {action.table} builds its index under "
                    "ACCESS EXCLUSIVE; there is no online path."
                ),
                "",
            )


RULE = Rule(
    id="SS306",
    name="add-exclusion-constraint",
    title="EXCLUDE constraint added to an existing table",
    severity=Severity.ERROR,
    summary=(
        "An exclusion constraint builds its index under ACCESS EXCLUSIVE and has no NOT "
        "VALID or USING INDEX escape hatch."
    ),
    fix=("Create a new table with the constraint, copy the rows in batches, and switch to it."),
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D)",
)
