"""Helpers several rules share."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.sql.actions import ColumnDef


def declared_columns(ctx: StatementContext) -> Iterator[tuple[str | None, ColumnDef]]:
    """(table, column) for every column a CREATE TABLE or ADD COLUMN declares."""
    for action, _ in ctx.pairs("create_table", "add_column"):
        if action.kind == "create_table":
            for col in action.columns:
                yield action.table, col
        elif action.column_def is not None:
            yield action.table, action.column_def
