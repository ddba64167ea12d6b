"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("create_trigger"):
        if action.table and not ctx.is_new(action.table) and not ctx.state.lock_timeout:
            yield (
                (
                    f"CREATE TRIGGER on {action.table} blocks writes while it waits for its lock; "
                    "set lock_timeout first."
                ),
                "",
            )


RULE = Rule(
    id="SS210",
    name="create-trigger-lock",
    title="CREATE TRIGGER takes SHARE ROW EXCLUSIVE",
    severity=Severity.INFO,
    summary=(
        "CREATE TRIGGER blocks writes on the table while it waits for and holds its lock; "
        "behind a long transaction that stalls all writers."
    ),
    fix=("Keep it in its own short transaction with lock_timeout set, and retry on timeout."),
    kinds=frozenset({"create_trigger"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
