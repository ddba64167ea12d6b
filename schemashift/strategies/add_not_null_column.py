"""Add a NOT NULL column (or one whose default would rewrite the table) to an existing table.

expand    add it nullable; its default (one that would rewrite the table: volatile like
          ``gen_random_uuid()``, or any before PostgreSQL 11 - a constant one on 11+ passes
          through as written) is set after the column exists, so it applies to new rows only
backfill  existing rows get the default, in batches
verify    no NULL left
contract  PostgreSQL: CHECK NOT VALID → VALIDATE → SET NOT NULL → DROP CHECK;
          MySQL: MODIFY … NOT NULL with LOCK=NONE (rebuilds in place, writes go on)
rollback  drop the column

Without a DEFAULT nothing can fill existing rows for you: the new app version (or an UPDATE
in this migration, which runs as a backfill step) must, before verify.
"""

from __future__ import annotations

from dataclasses import replace

from schemashift.dialects.postgres import SERIAL_TYPES
from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    TableName,
    column_of,
    mysql_add_column_if_missing,
    mysql_drop_column_if_exists,
    pg_not_null_steps,
    pk_of,
    preconditions,
    quote,
    table_of,
)

KIND = "add_column"
DIALECTS = ("postgres", "mysql")


def applies(action: Action, change: Change, dialect: str) -> bool:
    col = action.column_def
    if col is None or not action.table:
        return False
    simple = (
        not col.inline
        and col.generated is None
        and not col.identity
        and col.data_type.split("(")[0].strip() not in SERIAL_TYPES
    )
    return simple and (change.compatibility is BREAKING or change.rewrites_table)


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    assert action.column_def is not None and action.table
    col = action.column_def
    t = table_of(action.table, dialect)
    column, dtype, default = column_of(col.name, dialect), col.data_type, col.default
    if dialect == "mysql":
        out = _mysql(t, column, dtype, default)
    else:
        out = _postgres(t, column, dtype, default)
    if default is None and col.not_null:
        why = (
            f"no DEFAULT, so nothing fills {column} for existing rows: the new app version "
            "(or an UPDATE in this migration) must, before verify"
        )
        out = [replace(s, why=why) if s.verify is not None else s for s in out]
    if not col.not_null:
        out = [s for s in out if s.phase in (Phase.EXPAND, Phase.BACKFILL)]
    # Rollback drops the column: it must be the migration's own.
    return [preconditions(t, dialect, absent=((column, "the column this migration adds"),)),
            *out]  # fmt: skip


def _backfill(t: TableName, c: str, default: str | None) -> list[Step]:
    if default is None:
        return []
    return [
        Step(
            Phase.BACKFILL,
            f"give existing rows of {t} the default {default}",
            backfill=Backfill(t.canonical, f"{c} = {default}", f"{c} IS NULL"),
            why="in short batches instead of one table rewrite under ACCESS EXCLUSIVE",
        )
    ]


def _postgres(t: TableName, column: str, dtype: str, default: str | None) -> list[Step]:
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    add: tuple[str, ...] = (f"ALTER TABLE {ts} ADD COLUMN IF NOT EXISTS {c} {dtype}",)
    how = "old app versions do not know it, so it must accept their inserts"
    if default is not None:
        # Only a default that would rewrite gets here (volatile, or any before PostgreSQL
        # 11): set after the column exists, it applies to new rows only - no rewrite.
        add = (*add, f"ALTER TABLE {ts} ALTER COLUMN {c} SET DEFAULT {default}")
        how = "then its default for new rows: no table rewrite"
    return [
        Step(
            Phase.EXPAND,
            f"add {t}.{column} {dtype}, nullable",
            sql=add,
            rollback=(f"ALTER TABLE {ts} DROP COLUMN IF EXISTS {c}",),
            why=f"nullable first ({how})",
        ),
        *_backfill(t, c, default),
        *pg_not_null_steps(t, column, why="NOT NULL comes last, when every row has a value"),
    ]


def _mysql(t: TableName, column: str, dtype: str, default: str | None) -> list[Step]:
    ts = t.sql("mysql")
    c = quote(column, "mysql")
    with_default = f" DEFAULT {default}" if default is not None else ""
    return [
        Step(
            Phase.EXPAND,
            f"add {t}.{column} {dtype}, nullable",
            sql=mysql_add_column_if_missing(t, column, f"{dtype} NULL{with_default}"),
            rollback=mysql_drop_column_if_exists(t, column),
            why="nullable first (INSTANT): old app versions do not know it, so it must accept "
            "their inserts",
        ),
        *_backfill(t, c, default),
        Step(
            Phase.VERIFY,
            f"no NULL left in {t}.{column}",
            verify=Verify(
                f"{t}.{column} has no NULL",
                f"SELECT {pk_of(t)} FROM {ts} WHERE {c} IS NULL",
            ),
            why="MODIFY … NOT NULL at contract fails on any NULL row",
        ),
        Step(
            Phase.CONTRACT,
            f"make {t}.{column} NOT NULL",
            sql=(
                f"ALTER TABLE {ts} MODIFY COLUMN {c} {dtype} NOT NULL{with_default}, "
                "ALGORITHM=INPLACE, LOCK=NONE",
            ),
            why="rebuilds the table in place while writes go on; LOCK=NONE makes the server "
            "refuse rather than block them",
        ),
    ]
