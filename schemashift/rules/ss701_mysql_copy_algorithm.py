"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Change, Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.clause_price import because


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs():
        if action.kind in (
            "data_update",
            "data_delete",
            "data_insert",
            "create_table",
            "truncate",
            "raw",
            "drop_table",
            "rename_table",
            "drop_schema",
        ):
            continue
        if (
            change.lock in ("shared", "exclusive")
            and change.rewrites_table
            and not ctx.is_new(action.table)
        ):
            why = because(ctx, _needs_copy)
            kind = action.kind.replace("_", " ") if not why else "ALTER"
            yield (
                (
                    f"{kind} on {action.table} needs ALGORITHM=COPY{why}: the table is copied "
                    "while writes are blocked."
                ),
                "",
            )
            return


def _needs_copy(change: Change) -> bool:
    return change.lock in ("shared", "exclusive") and change.rewrites_table


RULE = Rule(
    id="SS701",
    name="mysql-copy-algorithm",
    title="ALTER TABLE that MySQL can only do by copying the table",
    severity=Severity.ERROR,
    summary=(
        "With ALGORITHM=COPY the server rebuilds the table row by row and blocks writes "
        "(LOCK=SHARED) for the whole copy: column type changes, STORED generated or "
        "AUTO_INCREMENT columns, charset or engine changes, dropping the primary key "
        "alone, foreign keys with foreign_key_checks=1."
    ),
    fix=(
        "Add a new column and backfill it, or use an online schema change tool (gh-ost, "
        "pt-online-schema-change); ask for ALGORITHM=INPLACE, LOCK=NONE so the server "
        "refuses instead of blocking."
    ),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql"}),
    axes="long lock, rewrite or scan (L)",
)
