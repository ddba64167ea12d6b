"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("alter_column_type"):
        if ctx.is_new(action.table) or (action.data_type or "") not in ("bigint", "int8"):
            continue
        if not change.rewrites_table:
            continue  # already bigint: nothing is rewritten
        column = action.column or ""
        if column == "id" or column.endswith("_id"):
            yield (
                (
                    f"Widening key column {action.table}.{column} to bigint rewrites the table, its "
                    "indexes and the referencing foreign keys."
                ),
                "",
            )


RULE = Rule(
    id="SS206",
    name="int-to-bigint-key",
    title="Key column widened from int to bigint in place",
    severity=Severity.WARNING,
    summary=(
        "Widening an int key rewrites the table, every index on it, and the referencing "
        "foreign key columns, all under ACCESS EXCLUSIVE."
    ),
    fix=(
        "Add a shadow bigint column kept in sync by a trigger, backfill it, build a "
        "unique index CONCURRENTLY, then swap the columns and constraints in one short "
        "transaction."
    ),
    kinds=frozenset({"alter_column_type"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
