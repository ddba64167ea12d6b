"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("rename_table"):
        if ctx.is_new(action.table):
            continue
        what = "Moving" if action.detail == "schema" else "Renaming"
        yield (
            (
                f"{what} {action.table} to {action.new_name} breaks the old app version, which "
                f"still queries {action.table}."
            ),
            "",
        )


RULE = Rule(
    id="SS102",
    name="rename-table",
    title="Renaming a table breaks the old app version",
    severity=Severity.ERROR,
    summary=(
        "The old application version still queries the old table name; it fails as soon "
        "as the rename commits."
    ),
    fix=(
        "Rename the table and create an updatable view under the old name in the expand "
        "phase; drop the view in the contract phase."
    ),
    kinds=frozenset({"rename_table"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
