"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.dialects.postgres import is_stored_generated
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_column"):
        col = action.column_def
        if col is None or ctx.is_new(action.table) or col.generated is None:
            continue
        stored = (
            is_stored_generated(col, ctx.version) if ctx.dialect == "postgres"
            else col.generated == "stored"
        )  # fmt: skip
        if stored:
            yield (
                (
                    f"Adding stored generated column {action.table}.{col.name} rewrites every row "
                    "while writes are blocked."
                ),
                "",
            )


RULE = Rule(
    id="SS203",
    name="add-column-generated-stored",
    title="Stored generated column rewrites the table",
    severity=Severity.ERROR,
    summary=(
        "A STORED generated column is computed and written for every existing row: a full "
        "rewrite under ACCESS EXCLUSIVE (PostgreSQL) or a table COPY that blocks writes "
        "(MySQL)."
    ),
    fix=(
        "Add a plain nullable column, keep it filled with a trigger, backfill existing "
        "rows in batches; or use a VIRTUAL column where the server supports it."
    ),
    kinds=frozenset({"add_column"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="long lock, rewrite or scan (L)",
)
