"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if (
            action.constraint == "primary_key"
            and not action.using_index
            and not ctx.is_new(action.table)
        ):
            yield (
                f"Adding a primary key on {action.table} builds an index under ACCESS EXCLUSIVE.",
                "",
            )


RULE = Rule(
    id="SS305",
    name="add-primary-key",
    title="PRIMARY KEY added by building its index under a strong lock",
    severity=Severity.ERROR,
    summary=(
        "ADD PRIMARY KEY builds a unique index and checks for NULLs while holding ACCESS EXCLUSIVE."
    ),
    fix=(
        "CREATE UNIQUE INDEX CONCURRENTLY on NOT NULL columns, then ADD CONSTRAINT … "
        "PRIMARY KEY USING INDEX."
    ),
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D), breaks old app (B)",
)
