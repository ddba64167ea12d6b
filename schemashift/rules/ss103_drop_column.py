"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_column"):
        if ctx.is_new(action.table):
            continue
        yield (
            (
                f"Dropping {action.table}.{action.column} breaks the old app version if it still "
                "reads or writes it, and destroys its data."
            ),
            "",
        )


RULE = Rule(
    id="SS103",
    name="drop-column",
    title="Dropping a column breaks the old app version and loses data",
    severity=Severity.ERROR,
    summary=(
        "The old application version still selects or inserts the column; its queries "
        "fail, and the data is gone for good."
    ),
    fix=(
        "Drop the column only in the contract phase, once no live app version uses it. In "
        "expand, drop its NOT NULL or give it a default so the new version can stop "
        "writing it."
    ),
    kinds=frozenset({"drop_column"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B), destroys data (X)",
)
