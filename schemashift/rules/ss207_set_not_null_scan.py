"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("set_not_null"):
        if ctx.is_new(action.table) or not change.scans_table:
            continue
        yield (
            (
                f"SET NOT NULL on {action.table}.{action.column} scans every row under "
                "ACCESS EXCLUSIVE."
            ),
            "",
        )


RULE = Rule(
    id="SS207",
    name="set-not-null-scan",
    title="SET NOT NULL scans the whole table under ACCESS EXCLUSIVE",
    severity=Severity.WARNING,
    summary=(
        "PostgreSQL checks every row while holding ACCESS EXCLUSIVE, unless (PG12+) a "
        "validated CHECK (col IS NOT NULL) already proves it. The old app version's "
        "INSERTs that omit the column also start failing."
    ),
    fix=(
        "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT (no "
        "write block); then SET NOT NULL (no scan on PG12+) and drop the CHECK."
    ),
    kinds=frozenset({"set_not_null"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D), breaks old app (B)",
)
