"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_column"):
        col = action.column_def
        if col is None or not col.inline or ctx.is_new(action.table):
            continue
        heavy = [c for c in col.inline if c in ("unique", "primary_key", "foreign_key")]
        if heavy:
            names = ", ".join(c.replace("_", " ").upper() for c in heavy)
            yield (
                (
                    f"Adding {action.table}.{col.name} with inline {names} builds an index or "
                    "locks the referenced table while holding a strong lock."
                ),
                "",
            )
        elif "check" in col.inline and ctx.dialect == "postgres":
            # Measured: the CHECK is validated against every row under ACCESS EXCLUSIVE,
            # even when the new column is NULL everywhere (docs/hazards.md §3).
            yield (
                (
                    f"Adding {action.table}.{col.name} with an inline CHECK checks every row of "
                    f"{action.table} while holding ACCESS EXCLUSIVE on it."
                ),
                f"Add {col.name} without the CHECK; then ALTER TABLE {action.table} ADD "
                "CONSTRAINT … CHECK (…) NOT VALID, and VALIDATE CONSTRAINT in a later "
                "transaction (it takes SHARE UPDATE EXCLUSIVE only).",
            )


RULE = Rule(
    id="SS204",
    name="add-column-inline-constraint",
    title="Column added with an inline UNIQUE, PRIMARY KEY, REFERENCES or CHECK",
    severity=Severity.WARNING,
    summary=(
        "An inline UNIQUE or PRIMARY KEY builds an index while the table is locked; an "
        "inline REFERENCES also locks the referenced table; an inline CHECK (PostgreSQL) "
        "checks every row under ACCESS EXCLUSIVE."
    ),
    fix=(
        "Add the bare column; then CREATE UNIQUE INDEX CONCURRENTLY and ADD CONSTRAINT … "
        "USING INDEX, or ADD FOREIGN KEY … NOT VALID and VALIDATE separately."
    ),
    kinds=frozenset({"add_column"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D)",
)
