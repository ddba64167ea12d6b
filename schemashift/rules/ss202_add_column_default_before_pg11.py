"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.dialects.postgres import default_is_volatile
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    if ctx.version[0] >= 11:
        return
    for action, _ in ctx.pairs("add_column"):
        col = action.column_def
        if col is None or col.default is None or ctx.is_new(action.table):
            continue
        if default_is_volatile(col.default):
            continue  # SS201
        yield (
            (
                f"On PostgreSQL {ctx.version[0]}, adding {action.table}.{col.name} with DEFAULT "
                f"{col.default} rewrites the table."
            ),
            "",
        )


RULE = Rule(
    id="SS202",
    name="add-column-default-before-pg11",
    title="Column with a default rewrites the table before PostgreSQL 11",
    severity=Severity.ERROR,
    summary=(
        "Before PostgreSQL 11, ADD COLUMN … DEFAULT rewrites every row under ACCESS "
        "EXCLUSIVE, even for a constant."
    ),
    fix=(
        "Add the column without a default, SET DEFAULT separately, and backfill in "
        "batches; or upgrade to PostgreSQL 11+, where a constant default is metadata "
        "only."
    ),
    kinds=frozenset({"add_column"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
