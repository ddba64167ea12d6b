"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("truncate"):
        if not ctx.is_new(action.table):
            yield f"TRUNCATE {action.table} destroys every row under an exclusive lock.", ""


RULE = Rule(
    id="SS112",
    name="truncate",
    title="TRUNCATE destroys every row",
    severity=Severity.ERROR,
    summary=(
        "TRUNCATE takes the strongest lock and removes all rows; both app versions lose their data."
    ),
    fix=(
        "Do not truncate in a migration; if rows must go, delete them in batches in a "
        "backfill step."
    ),
    kinds=frozenset({"truncate"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B), destroys data (X)",
)
