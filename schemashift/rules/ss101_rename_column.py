"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("rename_column"):
        if ctx.is_new(action.table):
            continue
        yield (
            (
                f"Renaming {action.table}.{action.column} to {action.new_name} breaks every query of "
                f"the old app version that still uses {action.column}."
            ),
            "",
        )


RULE = Rule(
    id="SS101",
    name="rename-column",
    title="Renaming a column breaks the old app version",
    severity=Severity.ERROR,
    summary=(
        "The old application version still reads and writes the old column name; every "
        "such query fails the moment the rename commits."
    ),
    fix=(
        "Add the new column with a sync trigger, backfill it, move the app to the new "
        "name, then drop the old column in the contract phase."
    ),
    kinds=frozenset({"rename_column"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
