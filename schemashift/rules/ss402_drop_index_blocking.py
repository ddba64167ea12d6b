"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_index"):
        if not action.concurrently:
            yield (
                (
                    f"DROP INDEX {action.name} takes ACCESS EXCLUSIVE on its table; "
                    "use DROP INDEX CONCURRENTLY."
                ),
                "",
            )


RULE = Rule(
    id="SS402",
    name="drop-index-blocking",
    title="DROP INDEX without CONCURRENTLY",
    severity=Severity.WARNING,
    summary=(
        "A plain DROP INDEX takes ACCESS EXCLUSIVE on the table; it is quick once "
        "granted, but waiting for it queues every later query."
    ),
    fix=("DROP INDEX CONCURRENTLY, outside a transaction block."),
    kinds=frozenset({"drop_index"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
