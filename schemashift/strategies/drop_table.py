"""Drop a table: contract only.

There is nothing to expand: the new app version simply stops using the table, and the drop
runs once no old version (which still reads or writes it) is live. Nothing to roll back.
"""

from __future__ import annotations

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies.common import StrategyError, table_of

KIND = "drop_table"
DIALECTS = ("postgres", "mysql")


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table) and change.compatibility is BREAKING


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    if not sql:
        raise StrategyError("drop_table needs the statement's text")
    t = table_of(action.table, dialect)
    cascade = " CASCADE" if action.cascade and dialect == "postgres" else ""
    what = "SEQUENCE" if action.detail == "sequence" else "TABLE"
    return [
        Step(
            Phase.CONTRACT,
            f"drop {t}",
            # IF EXISTS: re-runnable after a kill (MySQL commits the DROP on its own).
            sql=(f"DROP {what} IF EXISTS {t.sql(dialect)}{cascade}",),
            why="nothing to expand (the new app version stops using the table); dropped once "
            "no old version reads or writes it - this destroys its data",
        )
    ]
