"""SQLite facts: a database-wide write lock, and the ALTER TABLE forms it supports.

SQLite's ALTER TABLE does RENAME TABLE, RENAME COLUMN (3.25+), ADD COLUMN and DROP COLUMN
(3.35+). Everything else needs the 12-step table rebuild (Alembic batch mode), which
copies the whole table. Writers serialize on one database lock; in WAL mode readers go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemashift.dialects.base import BREAKING, COMPATIBLE, UNKNOWN_PRICE, Price, to_change
from schemashift.model import Change, Compatibility, LockClass, Phase

if TYPE_CHECKING:
    from schemashift.analysis.file_state import FileState
    from schemashift.sql.actions import Action

WRITE = "EXCLUSIVE"  # the database-wide write lock a schema change commits with
NONE = "none"

# ALTER TABLE forms SQLite cannot do in place: they need a table rebuild.
REBUILD_KINDS = frozenset(
    {"alter_column_type", "set_not_null", "drop_not_null", "set_default", "drop_default",
     "add_constraint", "drop_constraint", "validate_constraint", "rename_constraint"}
)  # fmt: skip


def _add_column(action: Action, state: FileState, version: tuple[int, ...]) -> Price:
    col = action.column_def
    breaking = bool(col and col.not_null and col.default is None)
    # Only a CHECK on the new column is verified against every row; the rest is schema text.
    scans = bool(col and "check" in col.inline)
    return Price(WRITE, compatibility=BREAKING if breaking else COMPATIBLE, scans=scans,
                 data_dependent=breaking or scans)  # fmt: skip


_CONTRACT = Price(WRITE, compatibility=BREAKING, phase=Phase.CONTRACT)
_PRICES = {
    "create_table": Price(WRITE),
    "drop_table": _CONTRACT,
    "rename_table": _CONTRACT,
    "drop_column": Price(
        WRITE, compatibility=BREAKING, rewrites=True, scans=True, phase=Phase.CONTRACT
    ),
    "rename_column": _CONTRACT,
    "create_index": Price(WRITE, scans=True),
    "drop_index": Price(WRITE, phase=Phase.CONTRACT),
    "create_view": Price(WRITE),
    "drop_view": _CONTRACT,
    "create_trigger": Price(WRITE),
    "drop_trigger": Price(WRITE, phase=Phase.CONTRACT),
    "data_update": Price(WRITE, phase=Phase.BACKFILL),
    "data_delete": Price(WRITE, phase=Phase.BACKFILL),
    "data_insert": Price(WRITE, phase=Phase.BACKFILL),
    "truncate": _CONTRACT,
    "reindex": Price(WRITE, scans=True),
    "rewrite_table": Price(WRITE, rewrites=True, scans=True),
    "alter_table_option": Price(NONE),
    "select": Price(NONE),
    "set_option": Price(NONE),
    "transaction": Price(NONE),
    "comment": Price(NONE),
}


class SQLiteDialect:
    name = "sqlite"
    default_version = "3.45"
    kinds = frozenset(_PRICES) | REBUILD_KINDS | {"add_column"}

    def assess(self, action: Action, state: FileState, version: tuple[int, ...]) -> Change:
        kind = action.kind
        if kind == "add_column":
            price = _add_column(action, state, version)
        elif kind in REBUILD_KINDS:
            breaking = kind in ("alter_column_type", "set_not_null", "drop_default")
            price = Price(WRITE, compatibility=BREAKING if breaking else COMPATIBLE,
                          rewrites=True, scans=True, data_dependent=True,
                          phase=Phase.CONTRACT if breaking else Phase.EXPAND)  # fmt: skip
        elif kind in ("data_update", "data_delete"):
            price = Price(WRITE, scans=not action.has_where, phase=Phase.BACKFILL)
        else:
            price = _PRICES.get(kind, UNKNOWN_PRICE)
        if state.is_new(action.table) and price.compatibility is Compatibility.BREAKING:
            price = Price(price.lock, COMPATIBLE, price.rewrites, price.scans,
                          price.data_dependent, Phase.EXPAND)  # fmt: skip
        lock_class = (
            LockClass.NONE if price.lock == NONE
            else LockClass.BLOCKS_READS_AND_WRITES if price.lock == "unknown"
            else LockClass.BLOCKS_WRITES
        )  # fmt: skip
        return to_change(action, price, lock_class)

    def lock_timeout_setting(self) -> frozenset[str]:
        return frozenset({"busy_timeout"})


SQLITE = SQLiteDialect()
