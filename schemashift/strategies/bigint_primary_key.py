"""int → bigint on a primary key, without rewriting the table under ACCESS EXCLUSIVE.

expand    (guard: the column is the single-column primary key and an integer) a shadow
          bigint column kept current by a trigger, CHECK (shadow IS NOT NULL) NOT VALID, and
          a unique index on it built CONCURRENTLY
backfill  shadow = id for existing rows
verify    shadow equals id everywhere, the index is valid, VALIDATE the check
contract  one short transaction: drop the trigger, SET NOT NULL (no scan), move the
          default/sequence (widened to bigint) or identity, drop the foreign keys that
          reference the key, swap the primary key to the new index (ADD … PRIMARY KEY USING
          INDEX), drop the old column, rename the shadow, re-add the foreign keys NOT VALID;
          then VALIDATE them in their own transaction
rollback  drop the index, the trigger and the shadow

Which column is the key is known only to the live database; the planner picks this
recipe for a column named ``id`` (the convention) and the expand refuses to start when that
column is not the table's single-column integer primary key.
"""

from __future__ import annotations

from schemashift.model import Change, Phase
from schemashift.phases.plan import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.sqltext.plpgsql import Dyn, concat
from schemashift.strategies import change_column_type
from schemashift.strategies.common import (
    TableName,
    attnum,
    column_of,
    do_block,
    literal,
    not_null_check_name,
    pg_column_exists,
    pg_index_carry_verify,
    pg_index_valid_verify,
    pg_not_null_check_if,
    pg_validate_if_present,
    pk_of,
    preconditions,
    quote,
    regclass,
    shadow_name,
    short_name,
    table_of,
)

KIND = "alter_column_type"
DIALECTS = ("postgres",)
BIGINT_TYPES = frozenset({"bigint", "int8", "bigserial", "serial8"})
KEY_COLUMNS = frozenset({"id"})
# Marks the foreign keys the swap re-added NOT VALID, so only those are validated after it.
FK_MARK = "schemashift: validate after the bigint key swap"


def applies(action: Action, change: Change, dialect: str) -> bool:
    return (
        dialect == "postgres"
        and bool(action.table)
        and (action.column or "") in KEY_COLUMNS
        and (action.data_type or "").strip().lower() in BIGINT_TYPES
        and not action.using
    )


def index_name(t: TableName, column: str) -> str:
    return short_name(f"{t.name}_{shadow_name(column)}_key")


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    t = table_of(action.table, dialect)
    column = column_of(action.column, dialect)
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    shadow = shadow_name(column)
    s = quote(shadow, "postgres")
    index = index_name(t, column)
    check = not_null_check_name(t, shadow)
    # int → bigint cannot fail per row: a plain copy trigger, and the NOT NULL check on
    # the shadow from expand on (every write fills it).
    create_trigger, drop_trigger = change_column_type.pg_copy_trigger_sql(t, column, shadow)
    message = (f"schemashift: {t}.{column} is not the single-column integer primary key of "
               f"{t}; the int to bigint key recipe does not apply")  # fmt: skip
    guard = do_block(
        "BEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a\n"
        "                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]\n"
        f"                   WHERE i.indrelid = {regclass(t)} AND i.indisprimary\n"
        f"                     AND i.indnatts = 1 AND a.attname = {literal(column)}\n"
        "                     AND a.atttypid IN ('integer'::regtype, 'smallint'::regtype)) THEN\n"
        f"        RAISE EXCEPTION '%', {literal(message)};\n"
        "    END IF;\n"
        "END"
    )
    return [
        preconditions(t, "postgres", columns=(column,),
                      absent=((shadow, "the key change's shadow column"),)),
        Step(
            Phase.EXPAND,
            f"add {t}.{shadow} bigint, filled from {column} by a trigger",
            sql=(
                guard,
                f"ALTER TABLE {ts} ADD COLUMN IF NOT EXISTS {s} bigint",
                *create_trigger,
                pg_not_null_check_if(t, column, shadow, check),
            ),
            rollback=(*drop_trigger, f"ALTER TABLE {ts} DROP COLUMN IF EXISTS {s}"),
            rollback_check=Verify(
                f"{t}.{column} still exists (else the shadow holds the only copy: fix forward)",
                f"SELECT 1 AS missing_column WHERE NOT {pg_column_exists(t, column)}",
            ),
            why=f"ALTER … TYPE would rewrite {t} and its indexes under ACCESS EXCLUSIVE; the "
            "shadow column is added instantly and kept current by every write",
        ),
        Step(
            Phase.EXPAND,
            f"build the unique index {index} on {shadow} CONCURRENTLY",
            sql=(
                f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {quote(index, 'postgres')} "
                f"ON {ts} ({s})",
            ),
            concurrent=True,
            rollback=(f"DROP INDEX CONCURRENTLY IF EXISTS {t.sibling(index, 'postgres')}",),
            why="the future primary key's index, built while reads and writes go on",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {column} into {shadow} for existing rows",
            backfill=Backfill(t.canonical, f"{s} = {c}", f"{s} IS DISTINCT FROM {c}"),
            why="in short batches instead of one rewrite under ACCESS EXCLUSIVE",
        ),
        Step(
            Phase.VERIFY,
            f"{shadow} equals {column} on every row",
            verify=Verify(f"{t}.{shadow} equals {column} (run backfill again)",
                          f"SELECT {pk_of(t)} FROM {ts} WHERE {s} IS DISTINCT FROM {c}"),
            why=f"contract replaces {column} by {shadow}: a row that differs would change value",
        ),
        Step(
            Phase.VERIFY,
            f"indexes on {column} have a counterpart on {shadow}",
            verify=pg_index_carry_verify(t, column, shadow, skip_primary=True),
            why=f"dropping {column} drops its indexes: build them on {shadow} first "
            "(CREATE INDEX CONCURRENTLY in this migration)",
        ),
        Step(
            Phase.VERIFY,
            f"validate {check}",
            sql=(pg_validate_if_present(t, check),),
            concurrent=True,
            why="a valid CHECK lets contract SET NOT NULL without scanning the table",
        ),
        Step(
            Phase.VERIFY,
            f"index {index} is valid",
            verify=pg_index_valid_verify(t, index),
            why="ADD PRIMARY KEY USING INDEX needs a valid unique index",
        ),
        Step(
            Phase.CONTRACT,
            f"swap {shadow} in as the primary key of {t}",
            sql=(
                *change_column_type.postgres_swap_prefix(t, column, drop_trigger,
                                                        widen_sequence=True),
                _swap_key(t, column, index),
            ),
            why="metadata only, one short ACCESS EXCLUSIVE transaction; referencing foreign "
            "keys come back NOT VALID so no table is scanned under the lock",
        ),
        Step(
            Phase.CONTRACT,
            f"validate the foreign keys that reference {t}",
            sql=(_validate_foreign_keys(t),),
            concurrent=True,
            why="scans the referencing tables under SHARE UPDATE EXCLUSIVE, in its own transaction",
        ),
    ]


def _swap_key(t: TableName, column: str, index: str) -> str:
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    s = quote(shadow_name(column), "postgres")
    drop_pk = concat(f"ALTER TABLE {ts} DROP CONSTRAINT ", Dyn("quote_ident(pk)"))
    add_pk = concat(f"ALTER TABLE {ts} ADD CONSTRAINT ", Dyn("quote_ident(pk)"),
                    f" PRIMARY KEY USING INDEX {quote(index, 'postgres')}")  # fmt: skip
    return do_block(
        "DECLARE\n"
        "    pk text;\n"
        "    children text[];\n"
        "    names text[];\n"
        "    defs text[];\n"
        "    valid boolean[];\n"
        "BEGIN\n"
        f"    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = {regclass(t)} "
        "AND contype = 'p';\n"
        "    SELECT array_agg(conrelid::regclass::text), array_agg(conname::text),\n"
        "           array_agg(pg_get_constraintdef(oid)), array_agg(convalidated)\n"
        "      INTO children, names, defs, valid\n"
        f"      FROM pg_constraint WHERE contype = 'f' AND confrelid = {regclass(t)}\n"
        f"       AND {attnum(t, column)} = ANY (confkey);\n"
        "    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP\n"
        "        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', children[i], names[i]);\n"
        "    END LOOP;\n"
        f"    EXECUTE {drop_pk};\n"
        f"    EXECUTE {add_pk};\n"
        f"    ALTER TABLE {ts} DROP COLUMN {c};\n"
        f"    ALTER TABLE {ts} RENAME COLUMN {s} TO {c};\n"
        "    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP\n"
        "        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s NOT VALID',\n"
        "                       children[i], names[i], defs[i]);\n"
        "        IF valid[i] THEN\n"
        "            EXECUTE format('COMMENT ON CONSTRAINT %I ON %s IS %L',\n"
        f"                           names[i], children[i], {literal(FK_MARK)});\n"
        "        END IF;\n"
        "    END LOOP;\n"
        "END"
    )


def _validate_foreign_keys(t: TableName) -> str:
    return do_block(
        "DECLARE\n"
        "    r record;\n"
        "BEGIN\n"
        "    FOR r IN SELECT conrelid::regclass::text AS child, conname::text AS name\n"
        f"               FROM pg_constraint WHERE contype = 'f' AND confrelid = {regclass(t)}\n"
        f"                AND obj_description(oid, 'pg_constraint') = {literal(FK_MARK)} LOOP\n"
        "        EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', r.child, r.name);\n"
        "        EXECUTE format('COMMENT ON CONSTRAINT %I ON %s IS NULL', r.name, r.child);\n"
        "    END LOOP;\n"
        "END"
    )
