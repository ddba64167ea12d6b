"""SET NOT NULL on an existing column without a long ACCESS EXCLUSIVE scan.

expand    nothing: the new app version must stop writing NULLs (and a backfill - an UPDATE
          in the same migration - fills the old ones)
verify    no NULL left
contract  CHECK (c IS NOT NULL) NOT VALID → VALIDATE (own transaction, SHARE UPDATE
          EXCLUSIVE) → SET NOT NULL (no scan on PostgreSQL 12+) → DROP the CHECK

The constraint is added at contract, not expand: it refuses NULL writes at once, and the old
app version may still write them until it is gone.
"""

from __future__ import annotations

from schemashift.model import BREAKING, Change
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import column_of, pg_not_null_steps, table_of

KIND = "set_not_null"
DIALECTS = ("postgres",)


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.column) and (
        change.compatibility is BREAKING or change.scans_table
    )


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    t, column = table_of(action.table, dialect), column_of(action.column, dialect)
    return pg_not_null_steps(t, column, why="the old app version may still write NULL until contract")
