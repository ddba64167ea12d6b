"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("reindex"):
        if not action.concurrently:
            target = action.table or action.name
            yield f"REINDEX {target} blocks writes for the whole rebuild; use CONCURRENTLY.", ""


RULE = Rule(
    id="SS213",
    name="reindex-blocking",
    title="REINDEX without CONCURRENTLY",
    severity=Severity.WARNING,
    summary=(
        "A plain REINDEX blocks writes on the table (SHARE) and reads that use the index "
        "(ACCESS EXCLUSIVE on it) for the whole rebuild."
    ),
    fix=("REINDEX … CONCURRENTLY (PostgreSQL 12+), outside a transaction block."),
    kinds=frozenset({"reindex"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
