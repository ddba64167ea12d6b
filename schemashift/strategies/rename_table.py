"""Rename a table while the old app version still uses the old name.

expand    rename the table and create a view under the old name: a single-table
          ``SELECT *`` view is automatically updatable, so the old version reads and writes
          through it (INSERT … RETURNING, UPDATE, DELETE; column defaults come from the table)
contract  drop the view
rollback  drop the view and rename the table back
"""

from __future__ import annotations

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.model import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import quote, quote_table, split_table

KIND = "rename_table"
DIALECTS = ("postgres",)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.new_name) and change.compatibility is BREAKING


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    table, new_name = action.table or "", action.new_name or ""
    schema, _ = split_table(table)
    new_table = (
        split_table(new_name)[1] if schema is None else f"{schema}.{split_table(new_name)[1]}"
    )
    old_q, new_q = quote_table(table, "postgres"), quote_table(new_table, "postgres")
    return [
        Step(
            Phase.EXPAND,
            f"rename {table} to {new_table}; a view named {table} stands in for it",
            sql=(
                f"ALTER TABLE {old_q} RENAME TO {quote(split_table(new_name)[1], 'postgres')}",
                f"CREATE VIEW {old_q} AS SELECT * FROM {new_q}",
            ),
            rollback=(
                f"DROP VIEW IF EXISTS {old_q}",
                f"ALTER TABLE IF EXISTS {new_q} RENAME TO {quote(split_table(table)[1], 'postgres')}",
            ),
            why=f"one short transaction: the new app version uses {new_table}, the old one "
            f"keeps reading and writing {table} through the auto-updatable view",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the view {table}",
            sql=(f"DROP VIEW IF EXISTS {old_q}",),
            why=f"no old app version uses the name {table} any more",
        ),
    ]
