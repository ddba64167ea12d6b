"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("create_index"):
        if action.concurrently and not action.if_not_exists and not ctx.is_new(action.table):
            yield (
                (
                    f"If the concurrent build of {action.name or 'this index'} fails it leaves an "
                    "INVALID index and a retry fails."
                ),
                "",
            )


RULE = Rule(
    id="SS404",
    name="concurrent-index-not-idempotent",
    title="CREATE INDEX CONCURRENTLY that cannot be retried",
    severity=Severity.INFO,
    summary=(
        "When a concurrent build fails (deadlock, duplicate, timeout) it leaves an "
        "INVALID index behind, and re-running the same statement then fails because the "
        "name exists."
    ),
    fix=("Use IF NOT EXISTS and drop an INVALID index of that name before retrying."),
    kinds=frozenset({"create_index"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
