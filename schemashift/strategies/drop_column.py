"""Drop a column once no old app version reads or writes it.

expand    when the column is NOT NULL without a default, DROP NOT NULL so the new app
          version can stop writing it (a default, identity or key column is left alone: the
          new version can already omit it). The column's comment remembers it was NOT NULL,
          for rollback - a static plan has no other place to keep what the catalog said.
contract  DROP COLUMN (destroys the data; re-runnable: IF EXISTS, or a catalog guard on
          MySQL)
rollback  restore NOT NULL (and the comment) when the expand removed it; refused while the
          new app version left NULLs there meanwhile (the old version would read rows
          without the value it relies on): the refusal names the UPDATE that fills them
"""

from __future__ import annotations

from schemashift.model import BREAKING, Change, Phase
from schemashift.phases.plan import Step, Verify
from schemashift.sql.actions import Action
from schemashift.strategies.common import (
    WAS_NOT_NULL,
    StrategyError,
    TableName,
    attnum,
    column_of,
    do_block,
    literal,
    mysql_definition,
    mysql_drop_column_if_exists,
    mysql_dynamic,
    mysql_info_where,
    preconditions,
    quote,
    regclass,
    table_of,
)

KIND = "drop_column"
DIALECTS = ("postgres", "mysql")


def applies(action: Action, change: Change, dialect: str) -> bool:
    return bool(action.table and action.column) and change.compatibility is BREAKING


def steps(action: Action, dialect: str, sql: str = "") -> list[Step]:
    if not sql:
        raise StrategyError("drop_column needs the statement's text")
    t, column = table_of(action.table, dialect), column_of(action.column, dialect)
    expand, rollback = _mysql_relax(t, column) if dialect == "mysql" else _postgres_relax(t, column)
    drop: tuple[str, ...] = (
        mysql_drop_column_if_exists(t, column) if dialect == "mysql" else
        (f"ALTER TABLE {t.sql(dialect)} DROP COLUMN IF EXISTS {quote(column, dialect)}"
         + (" CASCADE" if action.cascade else ""),)
    )  # fmt: skip
    return [
        preconditions(t, dialect, columns=(column,)),
        Step(
            Phase.EXPAND,
            f"let the new app version stop writing {t}.{column}",
            sql=expand,
            rollback=rollback,
            rollback_check=_nulls_check(t, column, dialect),
            why=f"DROP NOT NULL when {column} has no default: otherwise inserts that omit it "
            "fail; old app versions still read and write it",
        ),
        Step(
            Phase.CONTRACT,
            f"drop {t}.{column}",
            sql=drop,
            why="only once no old app version reads or writes it - this destroys its data",
        ),
    ]


def _nulls_check(t: TableName, column: str, dialect: str) -> Verify:
    """Rollback makes the column NOT NULL again for the old app version: refused while rows
    written since expand (by the new version, which no longer writes it) hold NULL there,
    naming the UPDATE that gives them a value."""
    ts, c = t.sql(dialect), quote(column, dialect)
    if dialect == "mysql":
        relaxed = (f"EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE "
                   f"{mysql_info_where(t, column)} AND LEFT(COLUMN_COMMENT, {len(WAS_NOT_NULL)}) "
                   f"= {literal(WAS_NOT_NULL, 'mysql')})")  # fmt: skip
        dual = " FROM DUAL"
    else:
        relaxed = (f"starts_with(col_description({regclass(t)}, {attnum(t, column)}), "
                   f"{literal(WAS_NOT_NULL)})")  # fmt: skip
        dual = ""
    return Verify(
        f"no NULL in {t}.{column}, which was NOT NULL before expand: rows the new app version "
        f"wrote since hold NULL there; give them a value first (UPDATE {ts} SET {c} = <value> "
        f"WHERE {c} IS NULL), then roll back",
        f"SELECT 1 AS nulls{dual} WHERE {relaxed} AND EXISTS (SELECT 1 FROM {ts} WHERE {c} IS NULL)",
    )


def _postgres_relax(t: TableName, column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ts = t.sql("postgres")
    c = quote(column, "postgres")
    comment_on = f"COMMENT ON COLUMN {ts}.{c} IS "
    relax = do_block(
        "DECLARE\n"
        "    note text;\n"
        "BEGIN\n"
        "    IF EXISTS (SELECT 1 FROM pg_attribute a\n"
        f"               WHERE a.attrelid = {regclass(t)} AND a.attname = {literal(column)}\n"
        "                 AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = ''\n"
        "                 AND a.attgenerated = ''\n"
        "                 AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid\n"
        "                                 AND i.indisprimary AND a.attnum = ANY (i.indkey))) THEN\n"
        f"        note := col_description({regclass(t)}, {attnum(t, column)});\n"
        f"        ALTER TABLE {ts} ALTER COLUMN {c} DROP NOT NULL;\n"
        f"        EXECUTE {literal(comment_on)} || quote_literal({literal(WAS_NOT_NULL)} || coalesce(note, ''));\n"
        "    END IF;\n"
        "END"
    )
    restore = do_block(
        "DECLARE\n"
        "    note text;\n"
        "BEGIN\n"
        f"    note := col_description({regclass(t)}, {attnum(t, column)});\n"
        f"    IF starts_with(note, {literal(WAS_NOT_NULL)})\n"
        f"       AND NOT EXISTS (SELECT FROM {ts} WHERE {c} IS NULL) THEN\n"
        f"        ALTER TABLE {ts} ALTER COLUMN {c} SET NOT NULL;\n"
        f"        EXECUTE {literal(comment_on)} || "
        f"quote_nullable(nullif(substr(note, {len(WAS_NOT_NULL) + 1}), ''));\n"
        "    END IF;\n"
        "END"
    )
    return (relax,), (restore,)


def _mysql_relax(t: TableName, column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    ts = t.sql("mysql")
    c = quote(column, "mysql")
    modify = literal(f"ALTER TABLE {ts} MODIFY COLUMN {c} ", "mysql")
    tail = literal(", LOCK=NONE", "mysql")
    marker = literal(WAS_NOT_NULL, "mysql")
    where = f"FROM information_schema.COLUMNS WHERE {mysql_info_where(t, column)}"
    relax = mysql_dynamic(
        "SELECT IF(IS_NULLABLE = 'NO' AND COLUMN_DEFAULT IS NULL AND COLUMN_KEY <> 'PRI' "
        "AND EXTRA NOT LIKE '%auto_increment%', "
        f"CONCAT({modify}, {mysql_definition(literal(' NULL'), f'CONCAT({marker}, COLUMN_COMMENT)')}, "
        f"{tail}), NULL) {where}"
    )
    restore = mysql_dynamic(
        f"SELECT IF(LEFT(COLUMN_COMMENT, {len(WAS_NOT_NULL)}) = {marker} "
        f"AND NOT EXISTS (SELECT 1 FROM {ts} WHERE {c} IS NULL), "
        f"CONCAT({modify}, {mysql_definition(literal(' NOT NULL'), f'SUBSTRING(COLUMN_COMMENT, {len(WAS_NOT_NULL) + 1})')}, "
        f"{tail}), NULL) {where}"
    )
    return relax, restore
