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
from schemashift.phases.model import Step
from schemashift.sql.actions import Action
from schemashift.strategies import change_column_type
from schemashift.strategies.common import (
    attnum,
    bare,
    do_block,
    in_schema_of,
    literal,
    pg_index_valid_verify,
    quote,
    quote_table,
    regclass,
    shadow_name,
    short_name,
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


def index_name(table: str, column: str) -> str:
    return short_name(f"{bare(table)}_{shadow_name(column)}_key")


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    table, column = action.table or "", action.column or ""
    t = quote_table(table, "postgres")
    shadow = shadow_name(column)
    index = index_name(table, column)
    qindex = in_schema_of(table, index, "postgres")
    base = change_column_type.postgres_steps(table, column, "bigint", None, skip_primary=True)
    expand, rest = base[0], base[1:]
    guard = do_block(
        "BEGIN\n"
        "    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a\n"
        "                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]\n"
        f"                   WHERE i.indrelid = {regclass(table)} AND i.indisprimary\n"
        f"                     AND i.indnatts = 1 AND a.attname = {literal(column)}\n"
        "                     AND a.atttypid IN ('integer'::regtype, 'smallint'::regtype)) THEN\n"
        f"        RAISE EXCEPTION {literal(f'schemashift: {table}.{column} is not the single-column integer primary key of {table}; the int to bigint key recipe does not apply')};\n"
        "    END IF;\n"
        "END"
    )
    steps = [
        Step(
            Phase.EXPAND,
            expand.description,
            sql=(guard, *expand.sql),
            rollback=expand.rollback,
            why=expand.why,
        ),
        Step(
            Phase.EXPAND,
            f"build the unique index {index} on {shadow} CONCURRENTLY",
            sql=(
                f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {quote(index, 'postgres')} "
                f"ON {t} ({quote(shadow, 'postgres')})",
            ),
            concurrent=True,
            rollback=(f"DROP INDEX CONCURRENTLY IF EXISTS {qindex}",),
            why="the future primary key's index, built while reads and writes go on",
        ),
        *rest,
        Step(
            Phase.VERIFY,
            f"index {index} is valid",
            verify=pg_index_valid_verify(table, index),
            why="ADD PRIMARY KEY USING INDEX needs a valid unique index",
        ),
        Step(
            Phase.CONTRACT,
            f"swap {shadow} in as the primary key of {table}",
            sql=(
                *change_column_type.postgres_swap_prefix(table, column, widen_sequence=True),
                _swap_key(table, column, index),
            ),
            why="metadata only, one short ACCESS EXCLUSIVE transaction; referencing foreign "
            "keys come back NOT VALID so no table is scanned under the lock",
        ),
        Step(
            Phase.CONTRACT,
            f"validate the foreign keys that reference {table}",
            sql=(_validate_foreign_keys(table),),
            concurrent=True,
            why="scans the referencing tables under SHARE UPDATE EXCLUSIVE, in its own transaction",
        ),
    ]
    return steps


def _swap_key(table: str, column: str, index: str) -> str:
    t = quote_table(table, "postgres")
    c = quote(column, "postgres")
    s = quote(shadow_name(column), "postgres")
    add_pk = f"ALTER TABLE {t} ADD CONSTRAINT %I PRIMARY KEY USING INDEX {quote(index, 'postgres')}"
    return do_block(
        "DECLARE\n"
        "    pk text;\n"
        "    children text[];\n"
        "    names text[];\n"
        "    defs text[];\n"
        "    valid boolean[];\n"
        "BEGIN\n"
        f"    SELECT conname INTO pk FROM pg_constraint WHERE conrelid = {regclass(table)} "
        "AND contype = 'p';\n"
        "    SELECT array_agg(conrelid::regclass::text), array_agg(conname::text),\n"
        "           array_agg(pg_get_constraintdef(oid)), array_agg(convalidated)\n"
        "      INTO children, names, defs, valid\n"
        f"      FROM pg_constraint WHERE contype = 'f' AND confrelid = {regclass(table)}\n"
        f"       AND {attnum(table, column)} = ANY (confkey);\n"
        "    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP\n"
        "        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', children[i], names[i]);\n"
        "    END LOOP;\n"
        f"    EXECUTE format({literal(f'ALTER TABLE {t} DROP CONSTRAINT %I')}, pk);\n"
        f"    EXECUTE format({literal(add_pk)}, pk);\n"
        f"    ALTER TABLE {t} DROP COLUMN {c};\n"
        f"    ALTER TABLE {t} RENAME COLUMN {s} TO {c};\n"
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


def _validate_foreign_keys(table: str) -> str:
    return do_block(
        "DECLARE\n"
        "    r record;\n"
        "BEGIN\n"
        "    FOR r IN SELECT conrelid::regclass::text AS child, conname::text AS name\n"
        f"               FROM pg_constraint WHERE contype = 'f' AND confrelid = {regclass(table)}\n"
        f"                AND obj_description(oid, 'pg_constraint') = {literal(FK_MARK)} LOOP\n"
        "        EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', r.child, r.name);\n"
        "        EXECUTE format('COMMENT ON CONSTRAINT %I ON %s IS NULL', r.name, r.child);\n"
        "    END LOOP;\n"
        "END"
    )
