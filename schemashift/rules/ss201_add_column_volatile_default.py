"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.dialects.postgres import SERIAL_TYPES, default_is_volatile
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("add_column"):
        col = action.column_def
        if col is None or ctx.is_new(action.table) or not change.rewrites_table:
            continue
        base = col.data_type.split("(")[0]
        if col.generated is not None:
            continue  # SS203
        if col.default is not None and ctx.version[0] < 11 and not default_is_volatile(col.default):
            continue  # SS202
        what = (
            f"serial type {base}"
            if base in SERIAL_TYPES
            else "an identity column"
            if col.identity
            else f"volatile default {col.default}"
        )
        yield (
            (
                f"Adding {action.table}.{col.name} with {what} rewrites the whole table under "
                "ACCESS EXCLUSIVE."
            ),
            "",
        )


RULE = Rule(
    id="SS201",
    name="add-column-volatile-default",
    title="Column added with a volatile default rewrites the table",
    severity=Severity.ERROR,
    summary=(
        "A volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval, "
        "serial, identity) must be computed for every row, so PostgreSQL rewrites the "
        "whole table under ACCESS EXCLUSIVE: no reads or writes until it ends."
    ),
    fix=(
        "Add the column without a default, then SET DEFAULT (metadata only: applies to "
        "new rows), then backfill existing rows in batches."
    ),
    kinds=frozenset({"add_column"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
