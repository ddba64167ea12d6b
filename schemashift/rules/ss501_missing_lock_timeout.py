"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import LockClass, Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.kinds import NOT_DDL


def check(ctx: StatementContext) -> Iterator[Hit]:
    state = ctx.state
    if state.lock_timeout:
        return
    for action, change in ctx.pairs():
        if action.kind == "create_table" and ctx.dialect == "postgres":
            # A new table still locks existing ones: the parent of PARTITION OF (ACCESS
            # EXCLUSIVE) and the tables its foreign keys reference (SHARE ROW EXCLUSIVE).
            locked = [t for t in action.locks_tables if not ctx.is_new(t)]
            if locked:
                lock = "ACCESS EXCLUSIVE" if action.detail == "partition_of" else "SHARE ROW EXCLUSIVE"
                blocked = ("every later query" if action.detail == "partition_of"
                           else "every later write")  # fmt: skip
                yield (f"{lock} lock on {', '.join(locked)} (taken by CREATE TABLE "
                       f"{action.table}) with no lock_timeout set: waiting for it blocks "
                       f"{blocked} on it."), ""
                return
            continue
        if action.kind in NOT_DDL or ctx.is_new(action.table) or action.kind == "create_table":
            continue
        strong = change.lock_class is not LockClass.NONE if ctx.dialect == "postgres" else True
        # DROP INDEX names only the index: its table is locked all the same.
        table = action.table or (f"the table of index {action.name}" if action.name else None)
        if not (strong and table):
            continue
        if ctx.dialect == "postgres":
            # A SHARE lock (CREATE INDEX, VALIDATE …) queues writers only: readers pass.
            blocked = ("every later query" if change.lock_class is LockClass.BLOCKS_READS_AND_WRITES
                       else "every later write")  # fmt: skip
            yield (f"{change.lock} lock on {table} with no lock_timeout set: waiting "
                   f"for it blocks {blocked} on the table."), ""
        else:
            # Every ALTER, INSTANT ones too, takes the table's exclusive metadata lock at
            # its start and end: queued behind a long transaction it blocks the table.
            yield (f"metadata lock (MDL) on {table} with no lock_wait_timeout set: "
                   "even an INSTANT or INPLACE ALTER waits for it behind any open "
                   "transaction on the table, and every later query waits behind the "
                   "ALTER."), ""
        return


RULE = Rule(
    id="SS501",
    name="missing-lock-timeout",
    title="DDL without a lock timeout",
    severity=Severity.WARNING,
    summary=(
        "A DDL statement waiting for its lock behind a long transaction blocks every "
        "later query on the table until it gets it. Without a lock timeout that wait is "
        "unbounded."
    ),
    fix=(
        "SET lock_timeout = '1s' before the DDL on {table}, and retry with backoff on "
        "timeout."
    ),
    fixes={"mysql": (
        "SET SESSION lock_wait_timeout = 5 before the ALTER of {table} (the metadata lock "
        "wait), and retry with backoff on timeout."
    )},
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="long lock, rewrite or scan (L)",
)
