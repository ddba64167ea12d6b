"""Rename a column while the old app version writes the old name and the new one the new.

expand    add ``new`` with ``old``'s type (captured when expand starts) and a trigger that
          keeps the two equal in both directions; on PostgreSQL also CHECK (new IS NOT NULL)
          NOT VALID when ``old`` is NOT NULL
backfill  new = old for existing rows
verify    no row where they differ; no index on ``old`` left without one on ``new``;
          VALIDATE the NOT NULL check
contract  drop the trigger, give ``new`` old's NOT NULL / default / sequence, drop ``old``
rollback  drop the trigger and ``new`` - refused while ``old`` is missing, since ``new``
          would then hold the only copy of the values

A MySQL ``CHANGE old new <definition>`` is the same with the definition's type. On MySQL
every step is re-runnable after a kill: ``ADD COLUMN`` only when missing, triggers ``IF NOT
EXISTS``, and the contract gives ``new`` ``old``'s definition as it was captured at expand
(never re-read from ``old``, which the contract itself relaxes to NULL). A NOT NULL
TIMESTAMP / DATETIME ``old`` gets a copy added NOT NULL with a placeholder default (MariaDB
cannot make a NULL copy NOT NULL online): the triggers treat the placeholder as unwritten,
the backfill replaces it, verify checks it is gone (refs ``copydef`` / ``copymark``,
captured at expand). Expand refuses a PRIMARY KEY or AUTO_INCREMENT ``old``.

SQLite (3.35+ for DROP COLUMN): triggers cannot assign NEW, so the sync is three AFTER
triggers (INSERT, UPDATE OF old, UPDATE OF new) that ``UPDATE … WHERE rowid = NEW.rowid``,
guarded by WHEN clauses so their own updates do not fire them again. An AFTER trigger runs
after the NOT NULL checks: inserts naming only ``new`` need ``old`` nullable or with a
default. Contract cannot carry NOT NULL or a default over (that needs a table rebuild).
"""

from __future__ import annotations

import re

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.sqltext import refs, triggers
from schemashift.strategies.common import (
    TableName,
    coldef_of,
    column_of,
    literal,
    mysql_add_column_if_missing,
    mysql_column_exists,
    mysql_dependents_verify,
    mysql_drop_column_if_exists,
    mysql_locked,
    mysql_triggers,
    mysql_when,
    not_null_check_name,
    pg_carry_column,
    pg_carry_steps,
    pg_column_exists,
    pg_not_null_check_if,
    pg_validate_if_present,
    pk_of,
    preconditions,
    quote,
    statement_text,
    table_of,
    type_of,
)

KIND = "rename_column"
DIALECTS = ("postgres", "mysql", "sqlite")


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.column and action.new_name) and (
        change.compatibility is BREAKING
    )


def sync_trigger_sql(t: TableName, old: str, new: str) -> tuple[list[str], list[str]]:
    """PostgreSQL: (create, drop) statements of the two-way sync trigger, from
    ``schemashift.sqltext.triggers`` (which reads SQL names: quote ours first)."""
    return triggers.sync_trigger_sql(t.sql("postgres"), quote(old, "postgres"),
                                     quote(new, "postgres"))  # fmt: skip


def mysql_sync_trigger_sql(t: TableName, old: str, new: str,
                           mark: str = "NULL") -> tuple[list[str], list[str]]:  # fmt: skip
    """MySQL/MariaDB: the same two-way sync as ``BEFORE INSERT`` and ``BEFORE UPDATE``
    triggers (several triggers per timing and event: MySQL 5.7+, MariaDB 10.2+). ``mark``:
    the placeholder default of ``new`` (SQL), which an insert of the old app leaves there
    and which counts as "not written"."""
    o, n = quote(old, "mysql"), quote(new, "mysql")
    unset = f"NEW.{n} IS NULL" if mark == "NULL" else f"(NEW.{n} IS NULL OR NEW.{n} <=> {mark})"
    return mysql_triggers(t, f"schemashift_sync_{t.name}_{old}_{new}", {
        "ins": ("INSERT", f"BEGIN IF {unset} THEN SET NEW.{n} = NEW.{o}; "
                          f"ELSE SET NEW.{o} = NEW.{n}; END IF; END"),
        "upd": ("UPDATE", f"BEGIN IF NOT (NEW.{n} <=> OLD.{n}) THEN SET NEW.{o} = NEW.{n}; "
                          f"ELSE SET NEW.{n} = NEW.{o}; END IF; END"),
    })  # fmt: skip


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    t = table_of(action.table, dialect)
    old = column_of(action.column, dialect)
    new = column_of(action.new_name, dialect, "new column name")
    if dialect == "mysql":
        return _mysql(action, t, old, new, sql)
    if dialect == "sqlite":
        return _sqlite(t, old, new)
    return _postgres(t, old, new)


def sqlite_sync_trigger_sql(t: TableName, old: str, new: str) -> tuple[list[str], list[str]]:
    """SQLite: (create, drop) of the AFTER INSERT / UPDATE OF old / UPDATE OF new triggers
    that keep ``old`` and ``new`` equal. Each updates the row once, only when the two
    differ, so the UPDATE it runs does not fire the others again (their WHEN is false)."""
    base = f"schemashift_sync_{t.name}_{old}_{new}"
    ins, upd_old, upd_new = (t.sibling(f"{base}_{s}", "sqlite")
                             for s in ("ins", "upd_old", "upd_new"))  # fmt: skip
    # A trigger's ON and body name unqualified tables (it lives in the table's schema).
    ts = quote(t.name, "sqlite")
    o, n = quote(old, "sqlite"), quote(new, "sqlite")
    create = [
        # The new column wins unless it is NULL (the old one may hold its DEFAULT).
        f"CREATE TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON {ts} FOR EACH ROW "
        f"WHEN NEW.{n} IS NOT NEW.{o} BEGIN UPDATE {ts} SET "
        f"{n} = COALESCE(NEW.{n}, NEW.{o}), {o} = COALESCE(NEW.{n}, NEW.{o}) "
        f"WHERE rowid = NEW.rowid; END",
        # The old app changed old (and not new): copy it over.
        f"CREATE TRIGGER IF NOT EXISTS {upd_old} AFTER UPDATE OF {o} ON {ts} FOR EACH ROW "
        f"WHEN NEW.{o} IS NOT OLD.{o} AND NEW.{n} IS OLD.{n} AND NEW.{n} IS NOT NEW.{o} "
        f"BEGIN UPDATE {ts} SET {n} = NEW.{o} WHERE rowid = NEW.rowid; END",
        # The new app changed new (or both changed: the new one wins).
        f"CREATE TRIGGER IF NOT EXISTS {upd_new} AFTER UPDATE OF {n} ON {ts} FOR EACH ROW "
        f"WHEN NEW.{n} IS NOT OLD.{n} AND NEW.{n} IS NOT NEW.{o} AND NEW.{n} IS NOT NULL "
        f"BEGIN UPDATE {ts} SET {o} = NEW.{n} WHERE rowid = NEW.rowid; END",
    ]
    drop = [f"DROP TRIGGER IF EXISTS {name}" for name in (ins, upd_old, upd_new)]
    return create, drop


def _rollback_check(t: TableName, old: str, new: str, exists: str) -> Verify:
    """Rollback drops ``new``: refused when ``old`` is gone (``new`` holds the only copy)."""
    return Verify(
        f"{t}.{old} still exists (else {new} holds the only copy of its values: fix forward)",
        f"SELECT 1 AS missing_column WHERE NOT {exists}",
    )


def _sqlite(t: TableName, old: str, new: str) -> list[Step]:
    ts = t.sql("sqlite")
    o, n = quote(old, "sqlite"), quote(new, "sqlite")
    create_trigger, drop_trigger = sqlite_sync_trigger_sql(t, old, new)
    exists = (f"EXISTS (SELECT 1 FROM pragma_table_info({literal(t.name)}) "
              f"WHERE name = {literal(old)})")  # fmt: skip
    return [
        preconditions(t, "sqlite", columns=(old,), absent=((new, "the rename's new name"),)),
        Step(
            Phase.EXPAND,
            f"add {t}.{new} as a copy of {old}, kept equal by triggers",
            sql=(f"ALTER TABLE {ts} ADD COLUMN {n} {type_of(t, old)}", *create_trigger),
            rollback=(*drop_trigger, f"ALTER TABLE {ts} DROP COLUMN {n}"),
            rollback_check=_rollback_check(t, old, new, exists),
            why=f"the old app version writes {old} and the new one {new}: AFTER INSERT/UPDATE "
            "triggers copy each write to the other column (ADD COLUMN changes only the schema)",
        ),
        *_copy_steps(t, ts, old, new, o, n, f"{n} IS NOT {o}", "triggers"),
        Step(
            Phase.CONTRACT,
            f"drop the sync triggers and {t}.{old}",
            sql=(*drop_trigger, f"ALTER TABLE {ts} DROP COLUMN {o}"),
            why=f"no old app version writes {old} any more; one write transaction (DROP "
            "COLUMN rewrites the rows; SQLite 3.35+)",
        ),
    ]


def _postgres(t: TableName, old: str, new: str) -> list[Step]:
    ts = t.sql("postgres")
    o, n = quote(old, "postgres"), quote(new, "postgres")
    check = not_null_check_name(t, new)
    create_trigger, drop_trigger = sync_trigger_sql(t, old, new)
    return [
        preconditions(t, "postgres", columns=(old,), absent=((new, "the rename's new name"),)),
        Step(
            Phase.EXPAND,
            f"add {t}.{new} as a copy of {old}, kept equal by a trigger",
            sql=(
                f"ALTER TABLE {ts} ADD COLUMN IF NOT EXISTS {n} {type_of(t, old)}",
                *create_trigger,
                pg_not_null_check_if(t, old, new, check),
            ),
            rollback=(*drop_trigger, f"ALTER TABLE {ts} DROP COLUMN IF EXISTS {n}"),
            rollback_check=_rollback_check(t, old, new, pg_column_exists(t, old)),
            why=f"the old app version writes {old} and the new one {new}: the trigger copies "
            "each write to the other column, so both versions see every row",
        ),
        *_copy_steps(t, ts, old, new, o, n, f"{n} IS DISTINCT FROM {o}", "trigger"),
        *pg_carry_steps(t, old, new, check),
        Step(
            Phase.VERIFY,
            f"validate {check} (when {old} is NOT NULL)",
            sql=(pg_validate_if_present(t, check),),
            concurrent=True,
            why="a valid CHECK lets contract SET NOT NULL without scanning the table",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the sync trigger and {t}.{old}; {new} takes its NOT NULL and default",
            sql=(
                *drop_trigger,
                pg_carry_column(t, old, new, check),
                f"ALTER TABLE {ts} DROP COLUMN {o}",
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


def _mysql(action: Action, t: TableName, old: str, new: str, sql: str) -> list[Step]:
    ts = t.sql("mysql")
    o, n = quote(old, "mysql"), quote(new, "mysql")
    definition = change_definition(sql) if action.detail == "change" else None
    if definition and action.column_def is not None:
        add_new, mark = f"{action.column_def.data_type} NULL", "NULL"
        settle_new = definition
    else:
        # New takes old's definition as captured at expand (NOT NULL, default, comment).
        # It is added as the catalog said at expand it can be (copydef): nullable, or for a
        # NOT NULL TIMESTAMP / DATETIME, which MariaDB cannot make NOT NULL online later,
        # NOT NULL with a placeholder default (copymark) that the triggers and the
        # backfill replace and that contract's MODIFY removes.
        add_new = refs.ref("copydef", t.canonical, old)
        mark = refs.ref("copymark", t.canonical, old)
        settle_new = coldef_of(t, old)
    create_trigger, drop_trigger = mysql_sync_trigger_sql(t, old, new, mark)
    # Old becomes nullable so that, once the triggers are gone, inserts naming only the new
    # column still work until old is dropped. Re-running it is harmless: the definitions
    # come from the plan and the capture, not from the columns it changes.
    settle = (f"ALTER TABLE {ts} MODIFY COLUMN {n} {settle_new}, "
              f"MODIFY COLUMN {o} {type_of(t, old)} NULL, LOCK=NONE")  # fmt: skip
    drop_old = f"ALTER TABLE {ts} DROP COLUMN {o}"
    return [
        preconditions(t, "mysql", columns=(old,), absent=((new, "the rename's new name"),),
                      mysql_no_key=(old,)),
        Step(
            Phase.EXPAND,
            f"add {t}.{new} as a copy of {old}, kept equal by triggers",
            sql=(*mysql_add_column_if_missing(t, new, add_new), *create_trigger),
            rollback=(*drop_trigger, *mysql_drop_column_if_exists(t, new)),
            rollback_check=_rollback_check(t, old, new, mysql_column_exists(t, old)),
            why=f"the old app version writes {old} and the new one {new}: BEFORE INSERT/UPDATE "
            "triggers copy each write to the other column (adding a column is INSTANT)",
        ),
        *_copy_steps(t, ts, old, new, o, n, f"NOT ({n} <=> {o})", "triggers"),
        Step(
            Phase.VERIFY,
            f"no row of {new} still holds its placeholder default",
            verify=Verify(f"{t}.{new} holds no placeholder value (run backfill again)",
                          f"SELECT {pk_of(t)} FROM {ts} WHERE {n} <=> {mark} "
                          f"AND NOT ({o} <=> {mark})"),
            why="a NOT NULL TIMESTAMP / DATETIME copy starts with a placeholder default: "
            "every row must hold the real value before contract",
        ),
        Step(
            Phase.VERIFY,
            f"views, foreign keys, constraints and indexes on {old} have a counterpart on {new}",
            verify=mysql_dependents_verify(t, old, new),
            why=f"dropping {old} drops or narrows them, or fails half-way on a view or "
            "a foreign key that uses it",
        ),
        Step(
            Phase.CONTRACT,
            f"give {new} the definition of {old}; make {old} nullable",
            sql=(settle,),
            why="LOCK=NONE: the server refuses rather than block writes (NOT NULL rebuilds "
            "the table in place while the triggers keep both columns equal)",
        ),
        Step(
            Phase.CONTRACT,
            f"drop the sync triggers and {t}.{old}",
            sql=mysql_locked(t, (*drop_trigger,
                                 *mysql_when(mysql_column_exists(t, old), drop_old))),
            why="under LOCK TABLES so no write lands between the trigger drop and the column "
            "drop (both metadata only: a brief lock)",
        ),
    ]


def _copy_steps(t: TableName, ts: str, old: str, new: str, o: str, n: str, differs: str,
                trigger: str) -> list[Step]:  # fmt: skip
    """Backfill the new column (``n``, quoted) from the old one (``o``), then verify no row
    differs (``differs``: the dialect's "not the same value", NULLs included)."""
    return [
        Step(
            Phase.BACKFILL,
            f"copy {old} into {new} for existing rows",
            backfill=Backfill(t.canonical, f"{n} = {o}", differs),
            why=f"rows written before the {trigger} existed have no value in the new column",
        ),
        Step(
            Phase.VERIFY,
            f"{new} equals {old} on every row",
            verify=Verify(f"{t}.{new} equals {old}",
                          f"SELECT {pk_of(t)} FROM {ts} WHERE {differs}"),
            why=f"contract drops {old}: any row where they differ would lose its value",
        ),
    ]
