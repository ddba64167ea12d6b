"""Change a column's type when the change rewrites the table or narrows it.

expand    add a shadow column of the new type and a trigger that converts every write of
          the column into it (the way ALTER … TYPE would: assignment cast, or USING)
backfill  shadow = converted column for existing rows, in batches
verify    no row whose value does not convert, no row where the shadow differs; indexes on
          the column have a counterpart on the shadow
contract  PostgreSQL: CHECK (shadow IS NOT NULL) NOT VALID and VALIDATE when the column is
          NOT NULL, then one short transaction: drop the trigger, give the shadow the
          column's NOT NULL / default / sequence, drop the column, rename the shadow
rollback  drop the trigger and the shadow (refused while the column itself is missing)

Expand first checks the catalog (column there, shadow name free; PostgreSQL: the conversion
compiles; MySQL: not a key or AUTO_INCREMENT column). PostgreSQL contract first re-checks,
before it is marked started, that no late write of the old app left a row unconverted.

A conversion can fail row by row (text → integer, a narrower varchar). The old app version
keeps writing the old type until contract, so its writes must never fail because of the
shadow: the conversion runs in a function that returns NULL instead of raising a data error
(PostgreSQL: ``EXCEPTION WHEN data_exception``; MySQL: a ``CONTINUE HANDLER`` in the
trigger), the shadow stays NULL for such a row, and verify names its key. That is also why
the NOT NULL check on the shadow waits for contract (no old version runs then): at expand
it would refuse the old version's unconvertible writes.

Both app versions keep using the column's name: the old version sees the old type until
contract, the new version must cope with it too (it does for a narrowing change).

After contract, a server-side prepared statement that selects the column fails once with
``cached plan must not change result type`` (PostgreSQL): drivers that prepare by default
(psycopg after 5 executions, JDBC, pgx, asyncpg) must re-prepare; see docs/phases.md.
"""

from __future__ import annotations

import re

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Backfill, Step, Verify
from schemashift.sql.actions import Action
from schemashift.sqltext.names import split_name
from schemashift.sqltext.plpgsql import dollar_quote
from schemashift.strategies.common import (
    StrategyError,
    TableName,
    column_of,
    literal,
    mysql_add_column_if_missing,
    mysql_column_exists,
    mysql_dependents_verify,
    mysql_drop_column_if_exists,
    mysql_locked,
    mysql_trigger_names,
    mysql_triggers,
    mysql_triggers_missing,
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
    replace_column,
    shadow_name,
    short_name,
    statement_text,
    table_of,
)

KIND = "alter_column_type"
DIALECTS = ("postgres", "mysql")

PREPARED_WARNING = (
    "after contract the column's type changes under live connections: a server-side "
    "prepared statement selecting it fails once with 'cached plan must not change result "
    "type' (PostgreSQL) - recycle the apps' connection pools after contract (docs/phases.md)"
)


def applies(action: Action, change: Change, dialect: str) -> bool:
    if not (action.table and action.column and action.data_type):
        return False
    if dialect == "mysql":
        # COPY (blocks writes) or breaking; INSTANT/INPLACE changes pass through.
        return change.compatibility is BREAKING or change.lock != "none"
    return change.rewrites_table or change.compatibility is BREAKING


def _names(t: TableName, column: str, dialect: str) -> tuple[str, str]:
    """(trigger base, conversion function base) names."""
    base = f"schemashift_copy_{t.name}_{column}"
    return short_name(base, dialect), short_name(f"schemashift_conv_{t.name}_{column}", dialect)


def pg_copy_trigger_sql(t: TableName, column: str, shadow: str) -> tuple[list[str], list[str]]:
    """(create, drop) of the plain one-way trigger ``shadow := column`` (a conversion that
    cannot fail: int → bigint keys)."""
    name, _ = _names(t, column, "postgres")
    function = t.sibling(name, "postgres")
    ts, trigger = t.sql("postgres"), quote(name, "postgres")
    body = (f"BEGIN\n    NEW.{quote(shadow, 'postgres')} := NEW.{quote(column, 'postgres')};\n"
            "    RETURN NEW;\nEND")  # fmt: skip
    return (
        [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            + dollar_quote(body),
            f"DROP TRIGGER IF EXISTS {trigger} ON {ts}",
            f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {ts} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ],
        [f"DROP TRIGGER IF EXISTS {trigger} ON {ts}", f"DROP FUNCTION IF EXISTS {function}()"],
    )


def pg_converting_sql(
    t: TableName, column: str, shadow: str, new_type: str, using: str | None,
    written: str | None = None,
) -> tuple[list[str], list[str], str, str]:
    """(create, drop, convert(row), fails(row)) for a conversion that may fail per row.

    ``<conv>(r)`` returns the column of row ``r`` converted (the USING expression over the
    row, else an assignment cast to ``new_type``), or NULL when that raises a data
    exception; ``<conv>_fails(r)`` says whether it does. The trigger sets the shadow from
    the first; verify uses the second to name the rows that cannot convert.
    """
    trigger_name, conv_name = _names(t, column, "postgres")
    fails_name = short_name(conv_name + "_fails")
    conv, fails = t.sibling(conv_name, "postgres"), t.sibling(fails_name, "postgres")
    function = t.sibling(trigger_name, "postgres")
    ts, rowtype = t.sql("postgres"), t.sql("postgres")
    s = quote(shadow, "postgres")
    expr = conversion_expr(column, using, written)
    # Assigned to a variable of the new type: the assignment cast ALTER … TYPE applies
    # (too long for varchar(n) raises; an explicit ::varchar(n) would truncate silently).
    conv_body = (
        "DECLARE\n"
        f"    v {new_type};\n"
        "BEGIN\n"
        f"    v := ({expr});\n"
        "    RETURN v;\n"
        "EXCEPTION WHEN data_exception THEN\n"
        "    RETURN NULL;  -- the value does not convert: verify names the row\n"
        "END"
    )
    fails_body = (
        "DECLARE\n"
        f"    v {new_type};\n"
        "BEGIN\n"
        f"    v := ({expr});\n"
        "    RETURN false;\n"
        "EXCEPTION WHEN data_exception THEN\n"
        "    RETURN true;\n"
        "END"
    )
    trigger_body = f"BEGIN\n    NEW.{s} := {conv}(NEW);\n    RETURN NEW;\nEND"
    trigger = quote(trigger_name, "postgres")
    create = [
        f"CREATE OR REPLACE FUNCTION {conv}(r {rowtype}) RETURNS {new_type} LANGUAGE plpgsql "
        f"STABLE AS {dollar_quote(conv_body)}",
        f"CREATE OR REPLACE FUNCTION {fails}(r {rowtype}) RETURNS boolean LANGUAGE plpgsql "
        f"STABLE AS {dollar_quote(fails_body)}",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        + dollar_quote(trigger_body),
        f"DROP TRIGGER IF EXISTS {trigger} ON {ts}",
        f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {ts} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
    ]
    drop = [
        f"DROP TRIGGER IF EXISTS {trigger} ON {ts}",
        f"DROP FUNCTION IF EXISTS {function}()",
        f"DROP FUNCTION IF EXISTS {conv}({rowtype})",
        f"DROP FUNCTION IF EXISTS {fails}({rowtype})",
    ]
    row = quote(t.name, "postgres")  # the table's whole row, in its own UPDATE / SELECT
    return create, drop, f"{conv}({row})", f"{fails}({row})"


def conversion_expr(column: str, using: str | None, written: str | None = None) -> str:
    """The conversion of the column of a row ``r``: the USING expression over it, else the
    column itself (assigned to the new type)."""
    c = quote(column, "postgres")
    if not using:
        return f"r.{c}"
    # The expression names the column as the migration spells it (PostgreSQL folds a name
    # over 63 bytes to ``column``): either spelling is the row's column.
    expr = replace_column(using, column, f"r.{c}")
    if written and written != column:
        expr = replace_column(expr, written, f"r.{c}")
    return expr


def pg_conversion_check(t: TableName, column: str, new_type: str, using: str | None,
                        written: str | None) -> Step:  # fmt: skip
    """Expand check: the conversion compiles for the column types (evaluated on no row: the
    server resolves names and types, nothing is read). A typo in USING would otherwise
    make the trigger fail every write of the old app."""
    expr = conversion_expr(column, using, written)
    shown = f"USING {using}" if using else f"{column}::{new_type}"
    return Step(
        Phase.EXPAND,
        f"check that {shown} converts {t}.{column} to {new_type}",
        verify=Verify(
            f"the conversion of {t}.{column} to {new_type} ({shown}) is not valid; fix the "
            "migration",
            f"SELECT {literal('unreachable')} AS problem FROM (SELECT CAST(({expr}) AS "
            f"{new_type}) AS v FROM {t.sql('postgres')} AS r WHERE false) AS converted",
        ),
        why="the trigger converts every write of the old app: a conversion that does not "
        "compile would fail them all",
    )


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    t = table_of(action.table, dialect)
    column = column_of(action.column, dialect)
    new_type = action.data_type or ""
    if dialect == "mysql":
        return _mysql(t, column, new_type, sql)
    shadow = shadow_name(column)
    written = split_name(action.column or "")[0]
    create, drop, convert, fails = pg_converting_sql(t, column, shadow, new_type, action.using,
                                                     written)  # fmt: skip
    ts, s = t.sql("postgres"), quote(shadow, "postgres")
    check = not_null_check_name(t, shadow)
    checks = [
        preconditions(t, "postgres", columns=(column,),
                      absent=((shadow, "the type change's shadow column"),)),
        pg_conversion_check(t, column, new_type, action.using, written),
    ]
    expand = Step(
        Phase.EXPAND,
        f"add {t}.{shadow} {new_type}, filled from {column} by a trigger",
        sql=(f"ALTER TABLE {ts} ADD COLUMN IF NOT EXISTS {s} {new_type}", *create),
        rollback=(*drop, f"ALTER TABLE {ts} DROP COLUMN IF EXISTS {s}"),
        rollback_check=_rollback_check(t, column, pg_column_exists(t, column)),
        why=f"ALTER … TYPE would rewrite {t} under ACCESS EXCLUSIVE; the shadow column is "
        "added instantly and kept current by every write (a value that does not convert "
        "leaves it NULL: the old app's write still succeeds)",
    )
    backfill = Step(
        Phase.BACKFILL,
        f"convert {column} into {shadow} for existing rows",
        backfill=Backfill(t.canonical, f"{s} = {convert}", f"{s} IS DISTINCT FROM {convert}"),
        why="in short batches; rows whose value does not convert keep a NULL shadow, and "
        "verify names them",
    )
    verify = [
        Step(
            Phase.VERIFY,
            f"every {column} converts to {new_type}",
            verify=Verify(
                f"{t}.{column} converts to {new_type} (fix these rows, then verify again)",
                f"SELECT {pk_of(t)} FROM {ts} WHERE {s} IS NULL AND {fails}",
            ),
            why="a value that does not convert would be lost at contract",
        ),
        Step(
            Phase.VERIFY,
            f"{shadow} holds {column} converted, on every row",
            verify=Verify(
                f"{t}.{shadow} equals {column} as {new_type} (run backfill again)",
                f"SELECT {pk_of(t)} FROM {ts} WHERE {s} IS DISTINCT FROM {convert}",
            ),
            why=f"contract replaces {column} by {shadow}: a row that differs would change value",
        ),
        *pg_carry_steps(t, column, shadow, check),
    ]
    recheck = Step(
        Phase.CONTRACT,
        f"re-check that {shadow} holds {column} converted, on every row",
        verify=Verify(
            f"rows written since verify (by the old app) whose {column} does not convert to "
            f"{new_type} or differs from {shadow}: fix them (the trigger converts them again), "
            "then run contract again",
            f"SELECT {pk_of(t)} FROM {ts} WHERE {s} IS DISTINCT FROM {convert} "
            f"OR ({s} IS NULL AND {fails})",
        ),
        why="the old app wrote until the gate let contract run: a value it wrote since "
        "verify that does not convert would become NULL at the swap; checked before contract "
        "is marked started, so rollback stays open",
    )
    not_null = [
        Step(
            Phase.CONTRACT,
            f"add CHECK ({shadow} IS NOT NULL) NOT VALID (when {column} is NOT NULL)",
            sql=(pg_not_null_check_if(t, column, shadow, check),),
            why="only now: while the old app version ran, its unconvertible writes had to "
            "succeed with a NULL shadow; a brief lock, no scan",
        ),
        Step(
            Phase.CONTRACT,
            f"validate {check}",
            sql=(pg_validate_if_present(t, check),),
            concurrent=True,
            why="scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), in its own "
            "transaction; lets the swap SET NOT NULL without a scan",
        ),
    ]
    swap = Step(
        Phase.CONTRACT,
        f"swap {shadow} in for {t}.{column}",
        sql=postgres_swap(t, column, drop, new_type),
        why="metadata only, one short ACCESS EXCLUSIVE transaction: no rewrite, no scan. "
        + PREPARED_WARNING,
    )
    return [*checks, expand, backfill, *verify, recheck, *not_null, swap]


def _rollback_check(t: TableName, column: str, exists: str) -> Verify:
    return Verify(
        f"{t}.{column} still exists (else the shadow holds the only copy: fix forward)",
        f"SELECT 1 AS missing_column WHERE NOT {exists}",
    )


def postgres_swap_prefix(t: TableName, column: str, drop_trigger: list[str], *,
                         widen_sequence: bool = False,
                         new_type: str | None = None) -> tuple[str, ...]:  # fmt: skip
    """Contract, first statements: drop the trigger (and functions), carry NOT NULL (no
    scan: the CHECK is valid), default (cast to ``new_type``), sequence or identity over to
    the shadow."""
    check = not_null_check_name(t, shadow_name(column))
    carry = pg_carry_column(t, column, shadow_name(column), check, widen_sequence=widen_sequence,
                            new_type=new_type)  # fmt: skip
    return (*drop_trigger, carry)


def postgres_swap(t: TableName, column: str, drop_trigger: list[str],
                  new_type: str) -> tuple[str, ...]:  # fmt: skip
    """Contract statements (one transaction) that put the shadow in the column's place."""
    ts = t.sql("postgres")
    c, s = quote(column, "postgres"), quote(shadow_name(column), "postgres")
    return (
        *postgres_swap_prefix(t, column, drop_trigger, new_type=new_type),
        f"ALTER TABLE {ts} DROP COLUMN {c}",
        f"ALTER TABLE {ts} RENAME COLUMN {s} TO {c}",
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


def mysql_copy_trigger_sql(t: TableName, column: str, shadow: str) -> tuple[list[str], list[str]]:
    """(create, drop) of BEFORE INSERT / UPDATE triggers ``shadow := column``. A value the
    shadow's type refuses (strict mode) leaves it NULL instead of failing the app's write:
    the CONTINUE HANDLER swallows the error after the shadow was reset."""
    c, s = quote(column, "mysql"), quote(shadow, "mysql")
    body = (f"BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET NEW.{s} = NULL; "
            f"SET NEW.{s} = NULL; SET NEW.{s} = NEW.{c}; END")  # fmt: skip
    base, _ = _names(t, column, "mysql")
    return mysql_triggers(t, base, {"ins": ("INSERT", body), "upd": ("UPDATE", body)})


def _mysql(t: TableName, column: str, new_type: str, sql: str) -> list[Step]:
    definition = modify_definition(sql)
    if definition is None:
        raise StrategyError(
            "write the type change as ALTER TABLE … MODIFY COLUMN <name> <definition>"
        )
    ts = t.sql("mysql")
    c = quote(column, "mysql")
    shadow = shadow_name(column, "mysql")
    s = quote(shadow, "mysql")
    create_trigger, drop_trigger = mysql_copy_trigger_sql(t, column, shadow)
    swap = f"ALTER TABLE {ts} DROP COLUMN {c}, RENAME COLUMN {s} TO {c}"
    # A kill between the first DROP TRIGGER and the swap releases the table lock: the app's
    # writes to the column from then on miss the shadow. The rerun finds a trigger gone
    # and the shadow still there, and copies them over first (a scan, only then).
    triggers = mysql_trigger_names(_names(t, column, "mysql")[0], ("ins", "upd"))
    catch_up = mysql_when(
        f"{mysql_column_exists(t, shadow)} AND {mysql_triggers_missing(t, triggers)}",
        f"UPDATE {ts} SET {s} = {c} WHERE NOT ({s} <=> {c})",
    )
    return [
        preconditions(t, "mysql", columns=(column,),
                      absent=((shadow, "the type change's shadow column"),),
                      mysql_no_key=(column,)),
        Step(
            Phase.EXPAND,
            f"add {t}.{shadow} {new_type}, filled from {column} by triggers",
            sql=(*mysql_add_column_if_missing(t, shadow, f"{new_type} NULL"), *create_trigger),
            rollback=(*drop_trigger, *mysql_drop_column_if_exists(t, shadow)),
            rollback_check=_rollback_check(t, column, mysql_column_exists(t, column)),
            why="MODIFY to another type copies the table and blocks writes (ALGORITHM=COPY); "
            "adding the shadow column is INSTANT; a value that does not fit leaves it NULL",
        ),
        Step(
            Phase.BACKFILL,
            f"copy {column} into {shadow} for existing rows",
            # SET shadow = NULL and let the BEFORE UPDATE trigger convert: an assignment of
            # a value that does not fit fails the whole batch in strict mode, the trigger's
            # handler leaves that row's shadow NULL for verify to name.
            backfill=Backfill(t.canonical, f"{s} = NULL", f"NOT ({s} <=> {c})"),
            why="in short batches, converted by the trigger: a row whose value does not fit "
            "keeps a NULL shadow and verify names it",
        ),
        Step(
            Phase.VERIFY,
            f"{shadow} equals {column} on every row",
            verify=Verify(
                f"{t}.{shadow} equals {column} (a row whose value does not fit {new_type} "
                "keeps a NULL shadow: fix it)",
                f"SELECT {pk_of(t)} FROM {ts} WHERE NOT ({s} <=> {c})",
            ),
            why=f"contract replaces {column} by {shadow}: a row that differs would change value",
        ),
        Step(
            Phase.VERIFY,
            f"views, foreign keys, constraints and indexes on {column} have a counterpart "
            f"on {shadow}",
            verify=mysql_dependents_verify(t, column, shadow),
            why=f"the swap drops {column}: it drops or narrows them, or fails half-way on a "
            "view or a foreign key that uses it",
        ),
        Step(
            Phase.CONTRACT,
            f"give {shadow} the full new definition",
            sql=(f"ALTER TABLE {ts} MODIFY COLUMN {s} {definition}, LOCK=NONE",),
            why="LOCK=NONE: writes go on (NOT NULL rebuilds in place) while the triggers still "
            "copy them",
        ),
        Step(
            Phase.CONTRACT,
            f"swap {shadow} in for {t}.{column}",
            sql=mysql_locked(t, (*catch_up, *drop_trigger,
                                 *mysql_when(mysql_column_exists(t, shadow), swap))),
            why="under LOCK TABLES so no write lands between the trigger drop and the swap "
            "(metadata only: a brief lock; after a kill inside it, the rerun first copies "
            "what was written meanwhile)",
        ),
    ]

