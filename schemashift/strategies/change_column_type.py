"""Change a column's type when the change rewrites the table or narrows it.

expand    add a shadow column of the new type and a trigger that copies every write of the
          column into it (converted the way ALTER … TYPE would: assignment cast, or USING);
          on PostgreSQL also CHECK (shadow IS NOT NULL) NOT VALID when the column is NOT NULL
backfill  shadow = column for existing rows (a value that does not fit fails here, not at
          contract)
verify    no row where the shadow differs; indexes on the column have a counterpart on the
          shadow; VALIDATE the NOT NULL check
contract  one short transaction: drop the trigger, give the shadow the column's NOT NULL /
          default / sequence, drop the column, rename the shadow to its name
rollback  drop the trigger and the shadow

Both app versions keep using the column's name: the old version sees the old type until
contract, the new version must cope with it too (it does for a narrowing change).
"""

from __future__ import annotations

import re

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.model import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    StrategyError,
    in_schema_of,
    mysql_drop_column_if_exists,
    mysql_locked,
    not_null_check_name,
    pg_carry_column,
    pg_index_carry_verify,
    pg_not_null_check_if,
    pg_validate_if_present,
    pk_of,
    quote,
    quote_table,
    replace_column,
    shadow_name,
    short_name,
    split_table,
    statement_text,
)

KIND = "alter_column_type"
DIALECTS = ("postgres", "mysql")


def applies(action: Action, change: Change, dialect: str) -> bool:
    if not (action.table and action.column and action.data_type):
        return False
    if dialect == "mysql":
        # COPY (blocks writes) or breaking; INSTANT/INPLACE changes pass through.
        return change.compatibility is BREAKING or change.lock != "none"
    return change.rewrites_table or change.compatibility is BREAKING


def copy_trigger_sql(
    table: str, column: str, shadow: str, expr: str, dialect: str
) -> tuple[list[str], list[str]]:
    """(create, drop) statements of the one-way trigger ``shadow := expr`` on every insert
    and update. ``expr`` refers to the row as ``NEW.<column>``."""
    base = f"schemashift_copy_{split_table(table)[1]}_{column}"
    if dialect == "mysql":
        t = quote_table(table, "mysql")
        s = quote(shadow, "mysql")
        ins = quote(short_name(base + "_ins", "mysql"), "mysql")
        upd = quote(short_name(base + "_upd", "mysql"), "mysql")
        return (
            [
                f"CREATE TRIGGER {ins} BEFORE INSERT ON {t} FOR EACH ROW SET NEW.{s} = {expr}",
                f"CREATE TRIGGER {upd} BEFORE UPDATE ON {t} FOR EACH ROW SET NEW.{s} = {expr}",
            ],
            [f"DROP TRIGGER IF EXISTS {ins}", f"DROP TRIGGER IF EXISTS {upd}"],
        )
    name = short_name(base)
    t = quote_table(table, "postgres")
    function = in_schema_of(table, name, "postgres")
    trigger = quote(name, "postgres")
    return (
        [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            "$schemashift$\n"
            "BEGIN\n"
            f"    NEW.{quote(shadow, 'postgres')} := {expr};\n"
            "    RETURN NEW;\n"
            "END\n"
            "$schemashift$",
            f"DROP TRIGGER IF EXISTS {trigger} ON {t}",
            f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ],
        [f"DROP TRIGGER IF EXISTS {trigger} ON {t}", f"DROP FUNCTION IF EXISTS {function}()"],
    )


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    table, column, new_type = action.table or "", action.column or "", action.data_type or ""
    if dialect == "mysql":
        return _mysql(table, column, new_type, sql)
    return [
        *postgres_steps(table, column, new_type, action.using),
        _postgres_contract(table, column),
    ]


def postgres_steps(
    table: str,
    column: str,
    new_type: str,
    using: str | None,
    *,
    skip_primary: bool = False,
) -> list[Step]:
    """The PostgreSQL recipe (also the first half of the int → bigint key recipe)."""
    t = quote_table(table, "postgres")
    c = quote(column, "postgres")
    shadow = shadow_name(column)
    s = quote(shadow, "postgres")
    check = not_null_check_name(table, shadow)
    if using:
        on_row = replace_column(using, column, f"NEW.{c}")
        value = f"({using})"
        expected = value
    else:
        # Plain assignment: the same cast ALTER … TYPE uses (an assignment cast), so a value
        # that does not fit fails loudly instead of being truncated.
        on_row, value, expected = f"NEW.{c}", c, f"CAST({c} AS {new_type})"
    create_trigger, drop_trigger = copy_trigger_sql(table, column, shadow, on_row, "postgres")
    return [
        Step(
            Phase.EXPAND,
            f"add {table}.{shadow} {new_type}, filled from {column} by a trigger",
            sql=(
                f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {s} {new_type}",
                *create_trigger,
                pg_not_null_check_if(table, column, shadow, check),
            ),
            rollback=(*drop_trigger, f"ALTER TABLE {t} DROP COLUMN IF EXISTS {s}"),
            why=f"ALTER … TYPE would rewrite {table} under ACCESS EXCLUSIVE; the shadow column "
            "is added instantly and kept current by every write",
        ),
        Step(
            Phase.BACKFILL,
            f"convert {column} into {shadow} for existing rows",
            backfill=Backfill(table, f"{s} = {value}", f"{s} IS DISTINCT FROM {expected}"),
            why="in short batches: a value that does not fit the new type fails here, before "
            "anything is dropped",
        ),
        Step(
            Phase.VERIFY,
            f"{shadow} holds {column} converted, on every row",
            verify=Verify(
                f"{table}.{shadow} equals {column} as {new_type}",
                f"SELECT {pk_of(table)} FROM {t} WHERE {s} IS DISTINCT FROM {expected}",
            ),
            why=f"contract replaces {column} by {shadow}: a row that differs would change value",
        ),
        Step(
            Phase.VERIFY,
            f"indexes on {column} have a counterpart on {shadow}",
            verify=pg_index_carry_verify(table, column, shadow, skip_primary=skip_primary),
            why=f"dropping {column} drops its indexes: build them on {shadow} first "
            "(CREATE INDEX CONCURRENTLY in this migration)",
        ),
        Step(
            Phase.VERIFY,
            f"validate {check} (when {column} is NOT NULL)",
            sql=(pg_validate_if_present(table, check),),
            concurrent=True,
            why="a valid CHECK lets contract SET NOT NULL without scanning the table",
        ),
    ]


def postgres_swap_prefix(
    table: str, column: str, *, widen_sequence: bool = False
) -> tuple[str, ...]:
    """Contract, first statements: drop the trigger and give the shadow the column's NOT
    NULL (no scan: the CHECK is valid), default, sequence or identity."""
    shadow = shadow_name(column)
    _, drop_trigger = copy_trigger_sql(table, column, shadow, "", "postgres")
    check = not_null_check_name(table, shadow)
    carry = pg_carry_column(table, column, shadow, check, widen_sequence=widen_sequence)
    return (*drop_trigger, carry)


def postgres_swap(table: str, column: str) -> tuple[str, ...]:
    """Contract statements (one transaction) that put the shadow in the column's place."""
    t = quote_table(table, "postgres")
    c, s = quote(column, "postgres"), quote(shadow_name(column), "postgres")
    return (
        *postgres_swap_prefix(table, column),
        f"ALTER TABLE {t} DROP COLUMN {c}",
        f"ALTER TABLE {t} RENAME COLUMN {s} TO {c}",
    )


def _postgres_contract(table: str, column: str) -> Step:
    return Step(
        Phase.CONTRACT,
        f"swap {shadow_name(column)} in for {table}.{column}",
        sql=postgres_swap(table, column),
        why="metadata only, one short ACCESS EXCLUSIVE transaction: no rewrite, no scan",
    )


_MODIFY_DEF = re.compile(
    r"\b(?:MODIFY\s+(?:COLUMN\s+)?(?:`(?:[^`]|``)+`|\w+)"
    r"|CHANGE\s+(?:COLUMN\s+)?(?:`(?:[^`]|``)+`|\w+)\s+(?:`(?:[^`]|``)+`|\w+))"
    r"\s+(?P<def>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING_CLAUSES = re.compile(r"\s*,\s*(?:ALGORITHM|LOCK)\s*=.*$", re.IGNORECASE | re.DOTALL)


def modify_definition(sql: str) -> str | None:
    """The column definition of ``ALTER TABLE t MODIFY c <definition>`` (or CHANGE c c …)."""
    m = _MODIFY_DEF.search(statement_text(sql))
    return _TRAILING_CLAUSES.sub("", m.group("def")).strip() if m else None


def _mysql(table: str, column: str, new_type: str, sql: str) -> list[Step]:
    definition = modify_definition(sql)
    if definition is None:
        raise StrategyError(
            "write the type change as ALTER TABLE … MODIFY COLUMN <name> <definition>"
        )
    t = quote_table(table, "mysql")
    c = quote(column, "mysql")
    shadow = shadow_name(column, "mysql")
    s = quote(shadow, "mysql")
    create_trigger, drop_trigger = copy_trigger_sql(table, column, shadow, f"NEW.{c}", "mysql")
    return [
        Step(
            Phase.EXPAND,
            f"add {table}.{shadow} {new_type}, filled from {column} by triggers",
            sql=(f"ALTER TABLE {t} ADD COLUMN {s} {new_type} NULL", *create_trigger),
            rollback=(*drop_trigger, *mysql_drop_column_if_exists(table, shadow)),
            why="MODIFY to another type copies the table and blocks writes (ALGORITHM=COPY); "
            "adding the shadow column is INSTANT",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {column} into {shadow} for existing rows",
            backfill=Backfill(table, f"{s} = {c}", f"NOT ({s} <=> {c})"),
            why="in short batches; in strict mode a value that does not fit fails here",
        ),
        Step(
            Phase.VERIFY,
            f"{shadow} equals {column} on every row",
            verify=Verify(
                f"{table}.{shadow} equals {column}",
                f"SELECT {pk_of(table)} FROM {t} WHERE NOT ({s} <=> {c})",
            ),
            why=f"contract replaces {column} by {shadow}: a row that differs would change value",
        ),
        Step(
            Phase.CONTRACT,
            f"give {shadow} the full new definition",
            sql=(f"ALTER TABLE {t} MODIFY COLUMN {s} {definition}, LOCK=NONE",),
            why="LOCK=NONE: writes go on (NOT NULL rebuilds in place) while the triggers still "
            "copy them",
        ),
        Step(
            Phase.CONTRACT,
            f"swap {shadow} in for {table}.{column}",
            sql=mysql_locked(
                table,
                (*drop_trigger, f"ALTER TABLE {t} DROP COLUMN {c}, RENAME COLUMN {s} TO {c}"),
            ),
            why="under LOCK TABLES so no write lands between the trigger drop and the swap "
            "(metadata only: a brief lock)",
        ),
    ]
