"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("create_index"):
        if not action.concurrently and not ctx.is_new(action.table):
            yield (
                (
                    f"Building index {action.name or ''} on {action.table} without CONCURRENTLY "
                    "blocks writes for the whole build."
                ).replace("  ", " "),
                "",
            )


RULE = Rule(
    id="SS401",
    name="create-index-blocking",
    title="CREATE INDEX without CONCURRENTLY blocks writes",
    severity=Severity.ERROR,
    summary=(
        "A plain CREATE INDEX holds a SHARE lock for the whole build: every INSERT, "
        "UPDATE and DELETE on the table waits."
    ),
    fix=(
        "CREATE INDEX CONCURRENTLY, outside a transaction block (Alembic: "
        "postgresql_concurrently=True inside op.get_context().autocommit_block())."
    ),
    kinds=frozenset({"create_index"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
