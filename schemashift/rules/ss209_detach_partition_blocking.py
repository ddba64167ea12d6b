"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("detach_partition"):
        if not action.concurrently and ctx.version[0] >= 14:
            yield (
                (
                    f"DETACH PARTITION {action.name} locks {action.table} with ACCESS EXCLUSIVE; "
                    "use CONCURRENTLY."
                ),
                "",
            )


RULE = Rule(
    id="SS209",
    name="detach-partition-blocking",
    title="DETACH PARTITION without CONCURRENTLY",
    severity=Severity.WARNING,
    summary=(
        "A plain DETACH PARTITION takes ACCESS EXCLUSIVE on the parent table: every query "
        "on the partitioned table waits."
    ),
    fix=("On PostgreSQL 14+, DETACH PARTITION … CONCURRENTLY (outside a transaction block)."),
    kinds=frozenset({"detach_partition"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
