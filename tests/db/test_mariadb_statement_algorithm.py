"""One algorithm and one lock per ALTER TABLE, and the MODIFY / CHANGE facts the classifier
needs the old column definition for, measured on MariaDB 10.11.

Measured like ``test_mariadb_online_ddl`` (the same ``measure``: the server refuses an
``ALGORITHM=`` / ``LOCK=`` it cannot honour), plus whether the table was rebuilt: InnoDB
gives a rebuilt table a new ``INNODB_SYS_TABLES.TABLE_ID``.

* A multi-clause ALTER runs with one algorithm and one lock for all its clauses, the
  strongest one of them needs: ``MySQLDialect.assess_statement`` gives every change that
  price (``test_statement_price_agrees_with_mariadb``).
* ``MODIFY c <same type> NOT NULL`` is a NOT NULL change (an INPLACE rebuild, writes
  allowed, refused on a NULL row), ``CHANGE a b <same definition>`` a pure rename and an
  ENUM member appended at the end are INSTANT (no rebuild).
"""

from __future__ import annotations

from typing import Any

import pytest
from test_mariadb_online_ddl import BASE, FK, PARENT, SQL_MODE, WITH_INDEX, Case, _fact, measure

from schemashift.analysis.file_state import FileState
from schemashift.dialects.mysql import MYSQL, algorithm_of
from schemashift.sql.parse import parse_statement
from schemashift.sql.split import split_sql

INSTANT, INPLACE, COPY = "INSTANT", "INPLACE", "COPY"
WITH_FK = (*BASE, *PARENT, f"ALTER TABLE t {FK}")
WITH_FK_CHECKS_OFF = (*BASE, *PARENT, "SET foreign_key_checks = 0", f"ALTER TABLE t {FK}")
NOT_NULL_A = (*BASE, "ALTER TABLE t MODIFY COLUMN a int NOT NULL")
FK2 = "ADD CONSTRAINT t_a_fk2 FOREIGN KEY (a) REFERENCES p (id)"

# Measured on MariaDB 10.11.19 (InnoDB, ROW_FORMAT=DYNAMIC, utf8mb4, STRICT_TRANS_TABLES).
STATEMENT_FACTS: dict[str, dict[str, Any]] = {
    # DROP FOREIGN KEY alone is INSTANT, ADD FOREIGN KEY with foreign_key_checks=1 a COPY:
    # together one COPY, writes blocked for the whole statement.
    "fk_drop": _fact(INSTANT, True, "none"),
    "fk_drop_and_readd": _fact(COPY, False, "shared"),
    "fk_drop_and_readd_checks_off": _fact(INSTANT, True, "none"),
    "add_column_and_int_to_bigint": _fact(COPY, False, "shared"),
    "add_column_and_set_not_null": _fact(INPLACE, False, "none"),
    "rename_column_and_add_index": _fact(INPLACE, True, "none"),
    # An instant ADD / DROP COLUMN next to an index build: the table is rebuilt.
    "add_column_and_add_index": _fact(INPLACE, False, "none"),
    "drop_column_and_add_index": _fact(INPLACE, False, "none"),
    "add_column_and_drop_index": _fact(INPLACE, True, "none"),
    "add_two_columns": _fact(INSTANT, True, "none"),
}
COLUMN_FACTS: dict[str, dict[str, Any]] = {
    # NULL -> NOT NULL, same type: in place, a rebuild, DML continues.
    "set_not_null": _fact(INPLACE, False, "none"),
    # NOT NULL -> NULL (MODIFY without NOT NULL): in place, a rebuild, DML continues.
    "modify_drops_not_null": _fact(INPLACE, False, "none"),
    "change_drops_not_null": _fact(INPLACE, False, "none"),
    "modify_default_only": _fact(INSTANT, True, "none"),
    "change_pure_rename": _fact(INSTANT, True, "none"),
    "change_pure_rename_not_null": _fact(INSTANT, True, "none"),
    "change_rename_and_set_not_null": _fact(INPLACE, False, "none"),
    "enum_append": _fact(INSTANT, True, "none"),
    "enum_insert_in_the_middle": _fact(COPY, False, "shared"),
    "enum_remove_last": _fact(COPY, False, "shared"),
}

STATEMENT_CASES: tuple[Case, ...] = (
    Case("fk_drop", WITH_FK, "DROP FOREIGN KEY t_a_fk"),
    Case("fk_drop_and_readd", WITH_FK, f"DROP FOREIGN KEY t_a_fk, {FK2}"),
    Case("fk_drop_and_readd_checks_off", WITH_FK_CHECKS_OFF, f"DROP FOREIGN KEY t_a_fk, {FK2}"),
    Case("add_column_and_int_to_bigint", BASE, "ADD COLUMN c int, MODIFY COLUMN a bigint"),
    Case("add_column_and_set_not_null", BASE, "ADD COLUMN c int, MODIFY COLUMN a int NOT NULL"),
    Case("rename_column_and_add_index", BASE, "RENAME COLUMN a TO a2, ADD INDEX t_k_idx (k)"),
    Case("add_column_and_add_index", BASE, "ADD COLUMN c int, ADD INDEX t_a_idx (a)"),
    Case("drop_column_and_add_index", BASE, "DROP COLUMN body, ADD INDEX t_a_idx (a)"),
    Case("add_column_and_drop_index", WITH_INDEX, "ADD COLUMN c int, DROP INDEX t_a_idx"),
    Case("add_two_columns", BASE, "ADD COLUMN c int, ADD COLUMN d int"),
)
COLUMN_CASES: tuple[Case, ...] = (
    Case("set_not_null", BASE, "MODIFY COLUMN a int NOT NULL"),
    Case("modify_drops_not_null", NOT_NULL_A, "MODIFY COLUMN a int"),
    Case("change_drops_not_null", NOT_NULL_A, "CHANGE COLUMN a a2 int"),
    Case("modify_default_only", BASE, "MODIFY COLUMN a int DEFAULT 5"),
    Case("change_pure_rename", BASE, "CHANGE COLUMN a a2 int"),
    Case("change_pure_rename_not_null", NOT_NULL_A, "CHANGE COLUMN a a2 int NOT NULL"),
    Case("change_rename_and_set_not_null", BASE, "CHANGE COLUMN a a2 int NOT NULL"),
    Case("enum_append", BASE, "MODIFY COLUMN e enum('a','b','c','d')"),
    Case("enum_insert_in_the_middle", BASE, "MODIFY COLUMN e enum('a','x','b','c')"),
    Case("enum_remove_last", BASE, "MODIFY COLUMN e enum('a','b')"),
)
FACTS = {**STATEMENT_FACTS, **COLUMN_FACTS}
CASES = (*STATEMENT_CASES, *COLUMN_CASES)


def test_every_fact_has_a_case() -> None:
    assert {c.id for c in CASES} == set(FACTS)
    assert len(CASES) == len(FACTS)


def _require_mariadb(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    if "mariadb" not in version.lower():
        pytest.skip(f"these are MariaDB facts; the server is MySQL {version}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mariadb_fact(case: Case, mysql_conn: Any) -> None:
    _require_mariadb(mysql_conn)
    assert measure(case, mysql_conn) == FACTS[case.id]


def _table_id(cur: Any) -> int:
    cur.execute(
        "SELECT table_id FROM information_schema.INNODB_SYS_TABLES"
        " WHERE name = CONCAT(DATABASE(), '/t')"
    )
    return int(cur.fetchone()[0])


@pytest.mark.parametrize(
    ("clause", "rebuilt"),
    [
        ("MODIFY COLUMN a int NOT NULL", True),
        ("CHANGE COLUMN a a2 int", False),
        ("MODIFY COLUMN e enum('a','b','c','d')", False),
        ("ADD COLUMN c int, ADD INDEX t_a_idx (a)", True),
    ],
)
def test_table_rebuilt(clause: str, rebuilt: bool, mysql_conn: Any) -> None:
    """Without any ALGORITHM clause: a rebuilt table gets a new InnoDB table id."""
    _require_mariadb(mysql_conn)
    with mysql_conn.cursor() as cur:
        cur.execute(f"SET SESSION sql_mode = '{SQL_MODE}'")
        for sql in BASE:
            cur.execute(sql)
        before = _table_id(cur)
        cur.execute(f"ALTER TABLE t {clause}")
        assert (_table_id(cur) != before) is rebuilt


def test_set_not_null_fails_on_a_null_row(mysql_conn: Any) -> None:
    """Adding NOT NULL is data-dependent: in strict mode one NULL row fails the ALTER,
    whatever the algorithm."""
    import pymysql

    _require_mariadb(mysql_conn)
    with mysql_conn.cursor() as cur:
        cur.execute(f"SET SESSION sql_mode = '{SQL_MODE}'")
        for sql in BASE:
            cur.execute(sql)
        cur.execute("UPDATE t SET a = NULL WHERE id = 7")
        for option in ("ALGORITHM=INPLACE, LOCK=NONE", "ALGORITHM=COPY"):
            with pytest.raises(pymysql.MySQLError) as err:
                cur.execute(f"ALTER TABLE t MODIFY COLUMN a int NOT NULL, {option}")
            assert err.value.args[0] == 1265  # Data truncated for column 'a'


# --------------------------------------------------------------------------- classifier


def _priced(case: Case) -> list[Any]:
    """``MYSQL.assess_statement`` for the case's statement, the file state built from its
    setup (column types, foreign_key_checks) with the table counted as existing."""
    state = FileState()
    for item in split_sql(";\n".join(case.setup), "setup.sql", "mysql"):
        for action in parse_statement(item.statement.sql, "mysql"):
            state.record(item.statement, action)
    state.new_tables.clear()
    actions = parse_statement(case.statement, "mysql")
    return MYSQL.assess_statement(actions, state, (10, 11))


def _measured_algorithm(fact: dict[str, Any]) -> str:
    if fact["algorithm"] == INPLACE and not fact["nocopy"]:
        return "INPLACE-rebuild"
    return str(fact["algorithm"])


# Classifier readings that differ from the measurement on purpose (the classifier cannot
# know what the measurement depends on): INPLACE and INSTANT are both "no rewrite, lock
# none"; an index build scans, so it reads as INPLACE.
_SAME = {("INPLACE", "INSTANT"), ("INSTANT", "INPLACE")}
# What the classifier still prices differently, and why (not yet modelled).
_KNOWN_GAPS: dict[str, str] = {}  # the file state now knows nullability too


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_statement_price_agrees_with_mariadb(case: Case) -> None:
    if case.id in _KNOWN_GAPS:
        pytest.xfail(_KNOWN_GAPS[case.id])
    fact = FACTS[case.id]
    changes = _priced(case)
    expected = _measured_algorithm(fact)
    for change in changes:
        assert change.lock == fact["lock"], change
        got = algorithm_of(change)
        assert got == expected or (got, expected) in _SAME, (change, expected)
    # One price for the whole statement.
    assert len({(c.lock, c.rewrites_table, c.scans_table) for c in changes}) == 1


def test_set_not_null_is_labelled_set_not_null() -> None:
    (change,) = _priced(COLUMN_CASES[0])
    assert change.kind == "set_not_null"
    assert change.rewrites_table and change.lock == "none" and change.data_dependent


def test_clauses_keep_their_own_price_in_assess() -> None:
    """``assess`` still prices each clause alone: the reason the statement needs COPY."""
    case = STATEMENT_CASES[1]  # DROP FOREIGN KEY, ADD FOREIGN KEY
    state = FileState()
    for item in split_sql(";\n".join(case.setup), "setup.sql", "mysql"):
        for action in parse_statement(item.statement.sql, "mysql"):
            state.record(item.statement, action)
    drop, add = parse_statement(case.statement, "mysql")
    assert MYSQL.assess(drop, state, (10, 11)).lock == "none"
    assert MYSQL.assess(add, state, (10, 11)).lock == "shared"
    assert [c.lock for c in _priced(case)] == ["shared", "shared"]
