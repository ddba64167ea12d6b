"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("alter_column_type"):
        if ctx.is_new(action.table) or not change.rewrites_table:
            continue
        if ctx.dialect == "mysql" and change.lock == "none":
            continue  # an INPLACE rebuild: SS702
        old = ctx.state.column_type(action.table, action.column)
        why = f"from {old} " if old else "(old type unknown, assumed not binary-coercible) "
        yield (
            (
                f"Changing the type of {action.table}.{action.column} {why}to {action.data_type} "
                f"rewrites the table and its indexes under {change.lock} lock."
            ),
            "",
        )


RULE = Rule(
    id="SS205",
    name="alter-column-type-rewrite",
    title="Column type change rewrites the table",
    severity=Severity.ERROR,
    summary=(
        "Unless the change is binary-coercible (varchar widening, varchar → text, numeric "
        "precision up), the table and all its indexes are rewritten under ACCESS "
        "EXCLUSIVE (PostgreSQL) or copied with writes blocked (MySQL)."
    ),
    fix=(
        "Add a new column of the new type with a sync trigger, backfill it in batches, "
        "switch readers, then drop the old column."
    ),
    fixes={"mysql": (
        "Add a new column of the new type to {table} and backfill it (schemashift plans it), "
        "or run the change with gh-ost / pt-online-schema-change; ask for ALGORITHM=INPLACE, "
        "LOCK=NONE so the server refuses instead of copying while writes wait."
    )},
    kinds=frozenset({"alter_column_type"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D)",
)
