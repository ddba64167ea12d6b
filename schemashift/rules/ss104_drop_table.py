"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_table"):
        if ctx.is_new(action.table):
            continue
        what = "sequence" if action.detail == "sequence" else "table"
        yield (
            f"Dropping {what} {action.table} breaks any app version still using it and loses its data.",
            "",
        )


RULE = Rule(
    id="SS104",
    name="drop-table",
    title="Dropping a table breaks the old app version and loses data",
    severity=Severity.ERROR,
    summary=("Queries of the old application version on the table fail, and its rows are gone."),
    fix=(
        "Drop the table only in the contract phase, after no live app version uses it "
        "(and after a backup if the data matters)."
    ),
    kinds=frozenset({"drop_table"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B), destroys data (X)",
)
