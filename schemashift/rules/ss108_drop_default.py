"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_default"):
        if not ctx.is_new(action.table):
            yield (
                (
                    f"Old app INSERTs that omit {action.table}.{action.column} relied on its "
                    "default; they now write NULL or fail."
                ),
                "",
            )


RULE = Rule(
    id="SS108",
    name="drop-default",
    title="Dropping a default breaks inserts that rely on it",
    severity=Severity.WARNING,
    summary=(
        "INSERTs of the old app version that omit the column now write NULL, or fail if "
        "the column is NOT NULL."
    ),
    fix=(
        "Drop the default in the contract phase, once every live app version writes the "
        "column itself."
    ),
    kinds=frozenset({"drop_default"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
