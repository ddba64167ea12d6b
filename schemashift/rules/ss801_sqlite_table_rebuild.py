"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.dialects.sqlite import REBUILD_KINDS as REBUILD
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs():
        if action.kind in REBUILD:
            yield (
                (
                    f"SQLite cannot {action.kind.replace('_', ' ')} with ALTER TABLE; it needs a "
                    f"full rebuild of {action.table} (batch mode)."
                ),
                "",
            )
            return


RULE = Rule(
    id="SS801",
    name="sqlite-table-rebuild",
    title="ALTER TABLE form SQLite can only do by rebuilding the table",
    severity=Severity.WARNING,
    summary=(
        "SQLite's ALTER TABLE cannot change types, nullability, defaults or constraints: "
        "the statement fails as written, and the only way is the 12-step rebuild that "
        "copies the whole table."
    ),
    fix=(
        "Use Alembic batch mode (with op.batch_alter_table(...)), and plan for a full "
        "table copy holding the database write lock."
    ),
    kinds=frozenset(
        {
            "alter_column_type",
            "set_not_null",
            "drop_not_null",
            "set_default",
            "drop_default",
            "add_constraint",
            "drop_constraint",
            "validate_constraint",
            "rename_constraint",
        }
    ),
    check=check,
    dialects=frozenset({"sqlite"}),
    axes="long lock, rewrite or scan (L)",
)
