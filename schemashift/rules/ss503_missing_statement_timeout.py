"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import LockClass, Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.kinds import NOT_DDL


def check(ctx: StatementContext) -> Iterator[Hit]:
    if ctx.state.statement_timeout:
        return
    for action, change in ctx.pairs():
        if action.kind in NOT_DDL or ctx.is_new(action.table) or action.kind == "create_table":
            continue
        if change.lock_class is LockClass.NONE or not (change.rewrites_table or change.scans_table):
            continue
        work = "rewrites" if change.rewrites_table else "scans"
        yield (f"{action.kind.replace('_', ' ')} {work} {action.table or 'the table'} while "
               f"holding {change.lock} with no statement_timeout set: on a table larger than "
               "expected nothing bounds how long the lock is held."), ""
        return


RULE = Rule(
    id="SS503",
    name="missing-statement-timeout",
    title="Long-running DDL without a statement timeout",
    severity=Severity.WARNING,
    summary=(
        "A DDL statement that rewrites or scans a table holds its lock for as long as the "
        "work takes. lock_timeout bounds the wait for the lock, not the time it is held; "
        "without statement_timeout a table bigger than the one you tested on blocks the app "
        "for minutes."
    ),
    fix=(
        "SET statement_timeout = '5min' (what the table may be blocked for at most) before "
        "the DDL on {table}; better, use the online form the other findings name, so no long "
        "lock is held at all."
    ),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
