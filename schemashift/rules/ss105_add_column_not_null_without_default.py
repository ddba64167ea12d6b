"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule

SERIALS = frozenset({"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"})


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_column"):
        col = action.column_def
        if col is None or ctx.is_new(action.table):
            continue
        if (
            col.not_null
            and col.default is None
            and not col.identity
            and not col.generated
            and col.data_type.split("(")[0] not in SERIALS
        ):
            yield (
                (
                    f"Adding {action.table}.{col.name} as NOT NULL without a default fails on a "
                    "table with rows, and the old app version's INSERTs fail."
                ),
                "",
            )


RULE = Rule(
    id="SS105",
    name="add-column-not-null-without-default",
    title="NOT NULL column added without a default",
    severity=Severity.ERROR,
    summary=(
        "On a table with rows the statement fails (PostgreSQL, SQLite) or fills an "
        "implicit zero value (MySQL), and every INSERT of the old app version, which does "
        "not know the column, fails."
    ),
    fix=(
        "Add the column as nullable (or with a default), backfill it in batches, then add "
        "NOT NULL in the contract phase via CHECK (col IS NOT NULL) NOT VALID → VALIDATE "
        "→ SET NOT NULL."
    ),
    fixes={
        "postgres": (
            "Add {table}.{column} as nullable (or with a default), backfill it in batches, "
            "then in the contract phase ADD CONSTRAINT … CHECK ({column} IS NOT NULL) NOT "
            "VALID, VALIDATE CONSTRAINT, SET NOT NULL, and drop the CHECK."
        ),
        "mysql": (
            "Add {table}.{column} as nullable (or with a DEFAULT), backfill it in batches, "
            "then in the contract phase MODIFY {column} … NOT NULL with ALGORITHM=INPLACE, "
            "LOCK=NONE (an online rebuild) once no row is NULL."
        ),
        "sqlite": (
            "Add {table}.{column} with a DEFAULT (SQLite refuses NOT NULL without one), or "
            "add it nullable, backfill it, and add NOT NULL in a batch-mode table rebuild."
        ),
    },
    kinds=frozenset({"add_column"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B), data-dependent (D)",
)
