"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("data_update", "data_delete"):
        if not action.has_where and not ctx.is_new(action.table):
            verb = "UPDATE" if action.kind == "data_update" else "DELETE"
            yield f"{verb} of every row of {action.table} in one transaction.", ""


RULE = Rule(
    id="SS212",
    name="unbatched-data-change",
    title="UPDATE or DELETE of a whole table in one statement",
    severity=Severity.WARNING,
    summary=(
        "Without a WHERE clause every row is locked and rewritten in one long "
        "transaction: concurrent writers wait on row locks, replication lags, and the "
        "table bloats."
    ),
    fix=("Backfill in batches by primary-key ranges, one short transaction per batch."),
    kinds=frozenset({"data_update", "data_delete"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="long lock, rewrite or scan (L)",
)
