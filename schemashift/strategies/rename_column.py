"""Rename a column while the old app version writes the old name and the new one the new.

expand    add ``new`` with ``old``'s type ({type:…}, read at run time) and a trigger that
          keeps the two equal in both directions; on PostgreSQL also CHECK (new IS NOT NULL)
          NOT VALID when ``old`` is NOT NULL
backfill  new = old for existing rows
verify    no row where they differ; no index on ``old`` left without one on ``new``;
          VALIDATE the NOT NULL check
contract  drop the trigger, give ``new`` old's NOT NULL / default / sequence, drop ``old``
rollback  drop the trigger and ``new``

A MySQL ``CHANGE old new <definition>`` is the same with the definition's type.

SQLite (3.35+ for DROP COLUMN): triggers cannot assign NEW, so the sync is three AFTER
triggers (INSERT, UPDATE OF old, UPDATE OF new) that ``UPDATE … WHERE rowid = NEW.rowid``,
guarded by WHEN clauses so their own updates do not fire them again. An AFTER trigger runs
after the NOT NULL checks: inserts naming only ``new`` need ``old`` nullable or with a
default. Contract cannot carry NOT NULL or a default over (that needs a table rebuild).
"""

from __future__ import annotations

import re

from schemashift.execute import triggers
from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.model import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    MYSQL_SAME_NULL,
    literal,
    mysql_definition,
    mysql_drop_column_if_exists,
    mysql_dynamic,
    mysql_info_where,
    mysql_locked,
    not_null_check_name,
    pg_carry_column,
    pg_index_carry_verify,
    pg_not_null_check_if,
    pg_validate_if_present,
    pk_of,
    quote,
    quote_table,
    short_name,
    split_table,
    statement_text,
    type_of,
)

KIND = "rename_column"
DIALECTS = ("postgres", "mysql", "sqlite")


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.column and action.new_name) and (
        change.compatibility is BREAKING
    )


def sync_trigger_sql(table: str, old: str, new: str) -> tuple[list[str], list[str]]:
    """PostgreSQL: (create, drop) statements of the two-way sync trigger, from
    ``schemashift.execute.triggers`` (which reads SQL names: quote ours first)."""
    return triggers.sync_trigger_sql(
        quote_table(table, "postgres"), quote(old, "postgres"), quote(new, "postgres")
    )


def mysql_sync_trigger_sql(table: str, old: str, new: str) -> tuple[list[str], list[str]]:
    """MySQL/MariaDB: the same two-way sync as ``BEFORE INSERT`` and ``BEFORE UPDATE``
    triggers (several triggers per timing and event: MySQL 5.7+, MariaDB 10.2+)."""
    base = f"schemashift_sync_{split_table(table)[1]}_{old}_{new}"
    ins = quote(short_name(base + "_ins", "mysql"), "mysql")
    upd = quote(short_name(base + "_upd", "mysql"), "mysql")
    t = quote_table(table, "mysql")
    o, n = quote(old, "mysql"), quote(new, "mysql")
    create = [
        f"CREATE TRIGGER {ins} BEFORE INSERT ON {t} FOR EACH ROW BEGIN "
        f"IF NEW.{n} IS NULL THEN SET NEW.{n} = NEW.{o}; ELSE SET NEW.{o} = NEW.{n}; END IF; END",
        f"CREATE TRIGGER {upd} BEFORE UPDATE ON {t} FOR EACH ROW BEGIN "
        f"IF NOT (NEW.{n} <=> OLD.{n}) THEN SET NEW.{o} = NEW.{n}; "
        f"ELSE SET NEW.{n} = NEW.{o}; END IF; END",
    ]
    drop = [f"DROP TRIGGER IF EXISTS {ins}", f"DROP TRIGGER IF EXISTS {upd}"]
    return create, drop


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    table, old, new = action.table or "", action.column or "", action.new_name or ""
    if dialect == "mysql":
        return _mysql(action, table, old, new, sql)
    if dialect == "sqlite":
        return _sqlite(table, old, new)
    return _postgres(table, old, new)


def sqlite_sync_trigger_sql(table: str, old: str, new: str) -> tuple[list[str], list[str]]:
    """SQLite: (create, drop) of the AFTER INSERT / UPDATE OF old / UPDATE OF new triggers
    that keep ``old`` and ``new`` equal. Each updates the row once, only when the two
    differ, so the UPDATE it runs does not fire the others again (their WHEN is false)."""
    base = f"schemashift_sync_{split_table(table)[1]}_{old}_{new}"
    ins, upd_old, upd_new = (quote(f"{base}_{s}", "sqlite") for s in ("ins", "upd_old", "upd_new"))
    # A trigger's ON and body name unqualified tables (it lives in the table's schema).
    t = quote(split_table(table)[1], "sqlite")
    o, n = quote(old, "sqlite"), quote(new, "sqlite")
    create = [
        # The new column wins unless it is NULL (the old one may hold its DEFAULT).
        f"CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {t} FOR EACH ROW "
        f"WHEN NEW.{n} IS NOT NEW.{o} BEGIN UPDATE {t} SET "
        f"{n} = COALESCE(NEW.{n}, NEW.{o}), {o} = COALESCE(NEW.{n}, NEW.{o}) "
        f"WHERE rowid = NEW.rowid; END",
        # The old app changed old (and not new): copy it over.
        f"CREATE TRIGGER IF NOT EXISTS {upd_old} AFTER UPDATE OF {o} ON {t} FOR EACH ROW "
        f"WHEN NEW.{o} IS NOT OLD.{o} AND NEW.{n} IS OLD.{n} AND NEW.{n} IS NOT NEW.{o} "
        f"BEGIN UPDATE {t} SET {n} = NEW.{o} WHERE rowid = NEW.rowid; END",
        # The new app changed new (or both changed: the new one wins).
        f"CREATE TRIGGER IF NOT EXISTS {upd_new} AFTER UPDATE OF {n} ON {t} FOR EACH ROW "
        f"WHEN NEW.{n} IS NOT OLD.{n} AND NEW.{n} IS NOT NEW.{o} AND NEW.{n} IS NOT NULL "
        f"BEGIN UPDATE {t} SET {o} = NEW.{n} WHERE rowid = NEW.rowid; END",
    ]
    drop = [f"DROP TRIGGER IF EXISTS {name}" for name in (ins, upd_old, upd_new)]
    return create, drop


def _sqlite(table: str, old: str, new: str) -> list[Step]:
    t = quote_table(table, "sqlite")
    o, n = quote(old, "sqlite"), quote(new, "sqlite")
    create_trigger, drop_trigger = sqlite_sync_trigger_sql(table, old, new)
    return [
        Step(
            Phase.EXPAND,
            f"add {table}.{new} as a copy of {old}, kept equal by triggers",
            sql=(f"ALTER TABLE {t} ADD COLUMN {n} {type_of(table, old)}", *create_trigger),
            rollback=(*drop_trigger, f"ALTER TABLE {t} DROP COLUMN {n}"),
            why=f"the old app version writes {old} and the new one {new}: AFTER INSERT/UPDATE "
            "triggers copy each write to the other column (ADD COLUMN changes only the schema)",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {old} into {new} for existing rows",
            backfill=Backfill(table, f"{n} = {o}", f"{n} IS NOT {o}"),
            why="rows written before the triggers existed have no value in the new column",
        ),
        Step(
            Phase.VERIFY,
            f"{new} equals {old} on every row",
            verify=Verify(
                f"{table}.{new} equals {old}",
                f"SELECT {pk_of(table)} FROM {t} WHERE {n} IS NOT {o}",
            ),
            why=f"contract drops {old}: any row where they differ would lose its value",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the sync triggers and {table}.{old}",
            sql=(*drop_trigger, f"ALTER TABLE {t} DROP COLUMN {o}"),
            why=f"no old app version writes {old} any more; one write transaction (DROP "
            "COLUMN rewrites the rows; SQLite 3.35+)",
        ),
    ]


def _postgres(table: str, old: str, new: str) -> list[Step]:
    t = quote_table(table, "postgres")
    o, n = quote(old, "postgres"), quote(new, "postgres")
    check = not_null_check_name(table, new)
    create_trigger, drop_trigger = sync_trigger_sql(table, old, new)
    return [
        Step(
            Phase.EXPAND,
            f"add {table}.{new} as a copy of {old}, kept equal by a trigger",
            sql=(
                f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {n} {type_of(table, old)}",
                *create_trigger,
                pg_not_null_check_if(table, old, new, check),
            ),
            rollback=(*drop_trigger, f"ALTER TABLE {t} DROP COLUMN IF EXISTS {n}"),
            why=f"the old app version writes {old} and the new one {new}: the trigger copies "
            "each write to the other column, so both versions see every row",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {old} into {new} for existing rows",
            backfill=Backfill(table, f"{n} = {o}", f"{n} IS DISTINCT FROM {o}"),
            why="rows written before the trigger existed have no value in the new column",
        ),
        Step(
            Phase.VERIFY,
            f"{new} equals {old} on every row",
            verify=Verify(
                f"{table}.{new} equals {old}",
                f"SELECT {pk_of(table)} FROM {t} WHERE {n} IS DISTINCT FROM {o}",
            ),
            why=f"contract drops {old}: any row where they differ would lose its value",
        ),
        Step(
            Phase.VERIFY,
            f"indexes on {old} have a counterpart on {new}",
            verify=pg_index_carry_verify(table, old, new),
            why=f"dropping {old} drops its indexes and unique constraints with it",
        ),
        Step(
            Phase.VERIFY,
            f"validate {check} (when {old} is NOT NULL)",
            sql=(pg_validate_if_present(table, check),),
            concurrent=True,
            why="a valid CHECK lets contract SET NOT NULL without scanning the table",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the sync trigger and {table}.{old}; {new} takes its NOT NULL and default",
            sql=(
                *drop_trigger,
                pg_carry_column(table, old, new, check),
                f"ALTER TABLE {t} DROP COLUMN {o}",
            ),
            why=f"no old app version writes {old} any more; brief ACCESS EXCLUSIVE, no scan",
        ),
    ]


_CHANGE_DEF = re.compile(
    r"\bCHANGE\s+(?:COLUMN\s+)?(?:`(?:[^`]|``)+`|\w+)\s+(?:`(?:[^`]|``)+`|\w+)\s+(?P<def>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_CLAUSES = re.compile(r"\s*,\s*(?:ALGORITHM|LOCK)\s*=.*$", re.IGNORECASE | re.DOTALL)


def change_definition(sql: str) -> str | None:
    """The column definition of ``ALTER TABLE t CHANGE old new <definition>``."""
    m = _CHANGE_DEF.search(statement_text(sql))
    return _TRAILING_CLAUSES.sub("", m.group("def")).strip() if m else None


def _mysql(action: Action, table: str, old: str, new: str, sql: str) -> list[Step]:
    t = quote_table(table, "mysql")
    o, n = quote(old, "mysql"), quote(new, "mysql")
    create_trigger, drop_trigger = mysql_sync_trigger_sql(table, old, new)
    definition = change_definition(sql) if action.detail == "change" else None
    if definition and action.column_def is not None:
        new_type = action.column_def.data_type
        # Old becomes nullable so that, once the triggers are gone, inserts naming only the
        # new column still work until old is dropped.
        settle: tuple[str, ...] = (
            f"ALTER TABLE {t} MODIFY COLUMN {n} {definition}, "
            f"MODIFY COLUMN {o} {type_of(table, old)} NULL, LOCK=NONE",
        )
    else:
        new_type = type_of(table, old)
        # New takes old's definition as the catalog has it (NOT NULL, default, comment).
        prefix = f"ALTER TABLE {t} MODIFY COLUMN {n} "
        middle = f", MODIFY COLUMN {o} "
        settle = mysql_dynamic(
            f"SELECT CONCAT({literal(prefix, 'mysql')}, {mysql_definition(MYSQL_SAME_NULL)}, "
            f"{literal(middle, 'mysql')}, COLUMN_TYPE, {literal(' NULL, LOCK=NONE')}) "
            f"FROM information_schema.COLUMNS WHERE {mysql_info_where(table, old)}"
        )
    return [
        Step(
            Phase.EXPAND,
            f"add {table}.{new} as a copy of {old}, kept equal by triggers",
            sql=(f"ALTER TABLE {t} ADD COLUMN {n} {new_type} NULL", *create_trigger),
            rollback=(*drop_trigger, *mysql_drop_column_if_exists(table, new)),
            why=f"the old app version writes {old} and the new one {new}: BEFORE INSERT/UPDATE "
            "triggers copy each write to the other column (adding a column is INSTANT)",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {old} into {new} for existing rows",
            backfill=Backfill(table, f"{n} = {o}", f"NOT ({n} <=> {o})"),
            why="rows written before the triggers existed have no value in the new column",
        ),
        Step(
            Phase.VERIFY,
            f"{new} equals {old} on every row",
            verify=Verify(
                f"{table}.{new} equals {old}",
                f"SELECT {pk_of(table)} FROM {t} WHERE NOT ({n} <=> {o})",
            ),
            why=f"contract drops {old}: any row where they differ would lose its value",
        ),
        Step(
            Phase.CONTRACT,
            f"give {new} the definition of {old}; make {old} nullable",
            sql=settle,
            why="LOCK=NONE: the server refuses rather than block writes (NOT NULL rebuilds "
            "the table in place while the triggers keep both columns equal)",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the sync triggers and {table}.{old}",
            sql=mysql_locked(table, (*drop_trigger, f"ALTER TABLE {t} DROP COLUMN {o}")),
            why="under LOCK TABLES so no write lands between the trigger drop and the column "
            "drop (both metadata only: a brief lock)",
        ),
    ]
