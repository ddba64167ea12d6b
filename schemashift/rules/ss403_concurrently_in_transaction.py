"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    if not ctx.in_transaction:
        return
    for action, _ in ctx.pairs("create_index", "drop_index", "reindex", "detach_partition"):
        if action.concurrently:
            yield (
                "CONCURRENTLY cannot run inside a transaction block: this statement will fail.",
                "",
            )


RULE = Rule(
    id="SS403",
    name="concurrently-in-transaction",
    title="CONCURRENTLY inside a transaction block",
    severity=Severity.ERROR,
    summary=(
        "CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION "
        "CONCURRENTLY cannot run inside a transaction block: the statement fails."
    ),
    fix=(
        "Run it outside the transaction: commit first, or in Alembic use "
        "op.get_context().autocommit_block()."
    ),
    kinds=frozenset({"create_index", "drop_index", "reindex", "detach_partition"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
