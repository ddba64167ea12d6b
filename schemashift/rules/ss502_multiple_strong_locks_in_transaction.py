"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import LockClass, Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    held = ctx.state.strong_locks_in_transaction
    if not ctx.in_transaction or not held:
        return
    tables = ctx.state.strong_lock_tables
    for action, change in ctx.pairs():
        if (
            change.lock_class is LockClass.BLOCKS_READS_AND_WRITES
            and not ctx.is_new(action.table)
            and action.kind != "create_table"
        ):
            # Locking the same table again adds no wait: it is held already.
            others = [(line, t) for line, t in zip(held, tables, strict=False)
                      if t != action.table]  # fmt: skip
            if not others:
                continue
            line, table = others[0]
            yield (
                (
                    f"ACCESS EXCLUSIVE on {action.table} while this transaction still holds the one "
                    f"taken on {table} at line {line}."
                ),
                "",
            )
            return


RULE = Rule(
    id="SS502",
    name="multiple-strong-locks-in-transaction",
    title="Several ACCESS EXCLUSIVE statements in one transaction",
    severity=Severity.WARNING,
    summary=(
        "Each ACCESS EXCLUSIVE lock is held until COMMIT: the first table stays blocked "
        "while the later statements wait for and run under their own locks."
    ),
    fix=("One DDL statement per transaction; commit between them."),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
