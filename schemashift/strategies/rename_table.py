"""Rename a table while the old app version still uses the old name.

expand    rename the table and create a view under the old name: a single-table
          ``SELECT *`` view is automatically updatable, so the old version reads and writes
          through it (INSERT … RETURNING, UPDATE, DELETE; column defaults come from the table)
contract  drop the view
rollback  drop the view and rename the table back
"""

from __future__ import annotations

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import quote, table_of

KIND = "rename_table"
DIALECTS = ("postgres",)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.new_name) and change.compatibility is BREAKING


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    t = table_of(action.table, dialect)
    # RENAME TO takes a bare name: the table stays in its schema.
    new = t.with_name(table_of(action.new_name, dialect).name)
    old_q, new_q = t.sql("postgres"), new.sql("postgres")
    return [
        Step(
            Phase.EXPAND,
            f"rename {t} to {new}; a view named {t} stands in for it",
            sql=(
                f"ALTER TABLE {old_q} RENAME TO {quote(new.name, 'postgres')}",
                f"CREATE VIEW {old_q} AS SELECT * FROM {new_q}",
            ),
            rollback=(
                f"DROP VIEW IF EXISTS {old_q}",
                f"ALTER TABLE IF EXISTS {new_q} RENAME TO {quote(t.name, 'postgres')}",
            ),
            why=f"one short transaction: the new app version uses {new}, the old one "
            f"keeps reading and writing {t} through the auto-updatable view",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the view {t}",
            sql=(f"DROP VIEW IF EXISTS {old_q}",),
            why=f"no old app version uses the name {t} any more",
        ),
    ]
