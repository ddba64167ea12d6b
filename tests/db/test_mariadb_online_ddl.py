"""Which ALTER TABLEs MariaDB runs online, measured on a real server.

For every case the statement is sent with an explicit ``ALGORITHM=`` / ``LOCK=`` clause on a
freshly rebuilt 200-row InnoDB table (ROW_FORMAT=DYNAMIC, utf8mb4). The server refuses a
request it cannot honour (ER_ALTER_OPERATION_NOT_SUPPORTED[_REASON]) instead of silently
doing something slower, so the refusals *are* the facts:

* ``algorithm`` - the strongest algorithm accepted: ``INSTANT`` (metadata only) >
  ``INPLACE`` > ``COPY`` (rebuild into a copy, DML blocked);
* ``nocopy`` - MariaDB's ``ALGORITHM=NOCOPY`` accepted, i.e. no table rebuild (an INPLACE
  operation with ``nocopy=False`` rebuilds the table in place: as long as COPY, but online);
* ``lock_none`` - ``LOCK=NONE`` accepted (reads and writes continue);
* ``lock`` - the weakest lock accepted, in the classifier's words: ``none`` / ``shared``
  (reads continue, writes blocked) / ``exclusive``.

``MARIADB_FACTS`` holds what MariaDB 10.11 answered; the classifier is compared against it in
``test_classifier_agrees_with_mariadb_facts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

INSTANT, INPLACE, COPY = "INSTANT", "INPLACE", "COPY"


def _fact(algorithm: str, nocopy: bool, lock: str) -> dict[str, Any]:
    return dict(algorithm=algorithm, nocopy=nocopy, lock_none=lock == "none", lock=lock)


# Measured on MariaDB 10.11.19 (InnoDB, ROW_FORMAT=DYNAMIC, utf8mb4, STRICT_TRANS_TABLES).
MARIADB_FACTS: dict[str, dict[str, Any]] = {
    "add_column_last": _fact(INSTANT, True, "none"),
    "add_column_first": _fact(INSTANT, True, "none"),
    "add_column_after": _fact(INSTANT, True, "none"),
    "add_column_not_null_default": _fact(INSTANT, True, "none"),
    # In place but rebuilds the table and blocks writes, not COPY (docs/hazards.md §14, §16).
    "add_column_auto_increment": _fact(INPLACE, False, "shared"),
    "drop_column": _fact(INSTANT, True, "none"),
    "rename_column": _fact(INSTANT, True, "none"),
    "change_column_same_type": _fact(INSTANT, True, "none"),
    "set_default": _fact(INSTANT, True, "none"),
    "drop_default": _fact(INSTANT, True, "none"),
    "varchar_widen_within_255_bytes": _fact(INSTANT, True, "none"),
    "varchar_widen_from_80_bytes_across_255": _fact(INSTANT, True, "none"),
    "varchar_widen_from_200_bytes_across_255": _fact(COPY, False, "shared"),
    "varchar_widen_from_200_bytes_within_255": _fact(INSTANT, True, "none"),
    "varchar_shrink": _fact(COPY, False, "shared"),
    "int_to_bigint": _fact(COPY, False, "shared"),
    "null_to_not_null": _fact(INPLACE, False, "none"),
    "not_null_to_null": _fact(INPLACE, False, "none"),
    "add_index": _fact(INPLACE, True, "none"),
    "add_unique_index": _fact(INPLACE, True, "none"),
    # The first FULLTEXT index adds FTS_DOC_ID: in place, but a rebuild that blocks writes.
    "add_fulltext_index": _fact(INPLACE, False, "shared"),
    "drop_index": _fact(INPLACE, True, "none"),
    "rename_index": _fact(INSTANT, True, "none"),
    "add_foreign_key": _fact(COPY, False, "shared"),
    "add_foreign_key_checks_off": _fact(INPLACE, True, "none"),
    "enum_append": _fact(INSTANT, True, "none"),
    "enum_reorder": _fact(COPY, False, "shared"),
    "add_stored_generated_column": _fact(COPY, False, "shared"),
    "add_virtual_generated_column": _fact(INSTANT, True, "none"),
    "engine_rebuild_same_engine": _fact(INPLACE, False, "none"),
    # ALGORITHM=INSTANT is *accepted* here and the table is copied anyway (see
    # test_engine_change_ignores_algorithm_instant): measured by rows affected.
    "engine_change_to_aria": _fact(COPY, False, "shared"),
    "convert_charset": _fact(COPY, False, "shared"),
    "default_charset_only": _fact(INSTANT, True, "none"),
    "drop_primary_key": _fact(COPY, False, "shared"),
    "replace_primary_key": _fact(INPLACE, False, "none"),
    # Metadata only, but LOCK=NONE and LOCK=SHARED are refused: a brief exclusive lock.
    "rename_table": _fact(INSTANT, True, "exclusive"),
    # Type families (schemashift/dialects/mysql_types.py): every type change copies.
    "varchar_to_text": _fact(COPY, False, "shared"),
    "tinytext_to_text": _fact(COPY, False, "shared"),
    "text_to_mediumtext": _fact(COPY, False, "shared"),
    "text_to_varchar": _fact(COPY, False, "shared"),
    "blob_to_mediumblob": _fact(COPY, False, "shared"),
    "char_to_varchar": _fact(COPY, False, "shared"),
    "varchar_to_char": _fact(COPY, False, "shared"),
    "varchar_to_varbinary": _fact(COPY, False, "shared"),
    "decimal_widen": _fact(COPY, False, "shared"),
    "decimal_narrow": _fact(COPY, False, "shared"),
    "float_to_double": _fact(COPY, False, "shared"),
    "unsigned_to_signed": _fact(COPY, False, "shared"),
    "unsigned_int_to_bigint": _fact(COPY, False, "shared"),
    # Character set and collation of a column; table options.
    "column_charset_narrow": _fact(COPY, False, "shared"),
    "column_collation": _fact(INSTANT, True, "none"),
    "column_comment": _fact(INSTANT, True, "none"),
    "row_format": _fact(INPLACE, False, "none"),
    "page_compressed": _fact(INPLACE, False, "none"),
    "table_comment": _fact(INSTANT, True, "none"),
    "auto_increment_value": _fact(INSTANT, True, "none"),
    # utf8mb3 → utf8mb4 (MDEV-15564): CHAR/VARCHAR and LONGTEXT keep their bytes, TEXT is
    # promoted to MEDIUMTEXT by CONVERT TO (a copy); a unique column's collation re-sorts
    # its index in place (a primary key column's copies the table: the corpus's openfga
    # entry); a member inserted before others renumbers the ENUM.
    "varchar_utf8mb3_to_utf8mb4": _fact(INSTANT, True, "none"),
    "convert_utf8mb3_to_utf8mb4_varchar_longtext": _fact(INSTANT, True, "none"),
    "convert_utf8mb3_to_utf8mb4_with_text": _fact(COPY, False, "shared"),
    "convert_to_the_same_charset": _fact(INSTANT, True, "none"),
    "key_column_collation": _fact(INPLACE, True, "none"),  # its index rebuilt in place
    "enum_insert_member": _fact(COPY, False, "shared"),
}
# Whether the old app version keeps working (every value it writes still fits): a widening
# is compatible though it copies; a narrowing, or a character set that cannot hold every old
# character, is breaking.
MARIADB_COMPATIBLE: dict[str, bool] = {
    "varchar_to_text": True, "tinytext_to_text": True, "text_to_mediumtext": True,
    "text_to_varchar": False, "blob_to_mediumblob": True, "char_to_varchar": True,
    "varchar_to_char": False, "varchar_to_varbinary": False, "decimal_widen": True,
    "decimal_narrow": False, "float_to_double": True, "unsigned_to_signed": False,
    "unsigned_int_to_bigint": True, "column_charset_narrow": False, "column_collation": True,
    "column_comment": True, "row_format": True,
    "page_compressed": True, "table_comment": True, "auto_increment_value": True,
    # a reorder keeps every member: what the old app writes stays valid (SS704 still warns)
    "enum_append": True, "enum_reorder": True, "enum_insert_member": True,
    "varchar_utf8mb3_to_utf8mb4": True, "convert_utf8mb3_to_utf8mb4_varchar_longtext": True,
    "convert_utf8mb3_to_utf8mb4_with_text": True, "key_column_collation": True, "varchar_shrink": False, "int_to_bigint": True,
}  # fmt: skip

ROWS = 200
BASE = (
    "CREATE TABLE t (id int NOT NULL, k int NOT NULL, a int, v varchar(20),"
    " e enum('a','b','c'), body text, PRIMARY KEY (id))"
    " ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4",
    "INSERT INTO t (id, k, a, v, e, body)"
    f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})"
    " SELECT n, n, n, CONCAT('v', n), 'a', CONCAT('b', n) FROM s",
)
PARENT = (
    "CREATE TABLE p (id int NOT NULL PRIMARY KEY) ENGINE=InnoDB",
    "INSERT INTO p SELECT id FROM t",
)
WITH_INDEX = (*BASE, "ALTER TABLE t ADD INDEX t_a_idx (a)")
FK = "ADD CONSTRAINT t_a_fk FOREIGN KEY (a) REFERENCES p (id)"
MB3 = (
    "CREATE TABLE t (id int NOT NULL, v varchar(20), lt longtext, PRIMARY KEY (id))"
    " ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb3",
    "INSERT INTO t (id, v, lt)"
    f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})"
    " SELECT n, CONCAT('v', n), CONCAT('l', n) FROM s",
)
MB3_TEXT = (
    "CREATE TABLE t (id int NOT NULL, v varchar(20), body text, PRIMARY KEY (id))"
    " ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb3",
    "INSERT INTO t (id, v, body)"
    f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})"
    " SELECT n, CONCAT('v', n), CONCAT('b', n) FROM s",
)
KEYED = (
    "CREATE TABLE t (id int NOT NULL, code varchar(20) NOT NULL, PRIMARY KEY (id),"
    " UNIQUE KEY t_code_key (code)) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4",
    "INSERT INTO t (id, code)"
    f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})"
    " SELECT n, CONCAT('c', n) FROM s",
)
TYPES = (
    "CREATE TABLE t (id int NOT NULL, v varchar(20), c char(10), tt tinytext, body text,"
    " bl blob, f decimal(10,2), g float, u int unsigned, PRIMARY KEY (id))"
    " ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4",
    "INSERT INTO t (id, v, c, tt, body, bl, f, g, u)"
    f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {ROWS})"
    " SELECT n, CONCAT('v', n), CONCAT('c', n), 'tt', CONCAT('b', n), 'bl', n, n, n FROM s",
)


@dataclass(frozen=True)
class Case:
    id: str
    setup: tuple[str, ...]
    clause: str  # what follows ALTER TABLE t

    @property
    def statement(self) -> str:
        return f"ALTER TABLE t {self.clause}"


CASES: tuple[Case, ...] = (
    Case("add_column_last", BASE, "ADD COLUMN c int"),
    Case("add_column_first", BASE, "ADD COLUMN c int FIRST"),
    Case("add_column_after", BASE, "ADD COLUMN c int AFTER id"),
    Case("add_column_not_null_default", BASE, "ADD COLUMN c int NOT NULL DEFAULT 0"),
    Case(
        "add_column_auto_increment",
        BASE,
        "ADD COLUMN c bigint NOT NULL AUTO_INCREMENT, ADD UNIQUE KEY t_c_key (c)",
    ),
    Case("drop_column", BASE, "DROP COLUMN body"),
    Case("rename_column", BASE, "RENAME COLUMN a TO a2"),
    Case("change_column_same_type", BASE, "CHANGE COLUMN a a2 int"),
    Case("set_default", BASE, "ALTER COLUMN a SET DEFAULT 0"),
    Case(
        "drop_default",
        (*BASE, "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0"),
        "ALTER COLUMN a DROP DEFAULT",
    ),
    # utf8mb4: varchar(63) = 252 bytes keeps the 1-byte length prefix, varchar(64) = 256 bytes
    # needs 2 bytes. InnoDB stores lengths < 128 bytes in 1 byte either way, so a column of at
    # most 127 bytes (varchar(20) = 80) can still grow past 255 bytes instantly; one of
    # 128..255 bytes (varchar(50) = 200) cannot.
    Case("varchar_widen_within_255_bytes", BASE, "MODIFY COLUMN v varchar(63)"),
    Case("varchar_widen_from_80_bytes_across_255", BASE, "MODIFY COLUMN v varchar(64)"),
    Case(
        "varchar_widen_from_200_bytes_across_255",
        (*BASE, "ALTER TABLE t MODIFY COLUMN v varchar(50)"),
        "MODIFY COLUMN v varchar(64)",
    ),
    Case(
        "varchar_widen_from_200_bytes_within_255",
        (*BASE, "ALTER TABLE t MODIFY COLUMN v varchar(50)"),
        "MODIFY COLUMN v varchar(63)",
    ),
    Case("varchar_shrink", BASE, "MODIFY COLUMN v varchar(10)"),
    Case("int_to_bigint", BASE, "MODIFY COLUMN a bigint"),
    Case("null_to_not_null", BASE, "MODIFY COLUMN a int NOT NULL"),
    Case(
        "not_null_to_null",
        (*BASE, "ALTER TABLE t MODIFY COLUMN a int NOT NULL"),
        "MODIFY COLUMN a int NULL",
    ),
    Case("add_index", BASE, "ADD INDEX t_a_idx (a)"),
    Case("add_unique_index", BASE, "ADD UNIQUE INDEX t_a_key (a)"),
    Case("add_fulltext_index", BASE, "ADD FULLTEXT INDEX t_body_ft (body)"),
    Case("drop_index", WITH_INDEX, "DROP INDEX t_a_idx"),
    Case("rename_index", WITH_INDEX, "RENAME INDEX t_a_idx TO t_a_idx2"),
    Case("add_foreign_key", BASE + PARENT, FK),
    Case("add_foreign_key_checks_off", (*BASE, *PARENT, "SET foreign_key_checks = 0"), FK),
    Case("enum_append", BASE, "MODIFY COLUMN e enum('a','b','c','d')"),
    Case("enum_reorder", BASE, "MODIFY COLUMN e enum('c','b','a')"),
    Case("add_stored_generated_column", BASE, "ADD COLUMN g int AS (a * 2) STORED"),
    Case("add_virtual_generated_column", BASE, "ADD COLUMN g int AS (a * 2) VIRTUAL"),
    Case("engine_rebuild_same_engine", BASE, "ENGINE=InnoDB"),
    Case("engine_change_to_aria", BASE, "ENGINE=Aria"),
    Case(
        "convert_charset",
        (*BASE, "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb3"),
        "CONVERT TO CHARACTER SET utf8mb4",
    ),
    Case("default_charset_only", BASE, "DEFAULT CHARACTER SET latin1"),
    Case("drop_primary_key", BASE, "DROP PRIMARY KEY"),
    Case("replace_primary_key", BASE, "DROP PRIMARY KEY, ADD PRIMARY KEY (k)"),
    Case("rename_table", BASE, "RENAME TO t2"),
    Case("varchar_to_text", TYPES, "MODIFY COLUMN v text"),
    Case("tinytext_to_text", TYPES, "MODIFY COLUMN tt text"),
    Case("text_to_mediumtext", TYPES, "MODIFY COLUMN body mediumtext"),
    Case("text_to_varchar", TYPES, "MODIFY COLUMN body varchar(100)"),
    Case("blob_to_mediumblob", TYPES, "MODIFY COLUMN bl mediumblob"),
    Case("char_to_varchar", TYPES, "MODIFY COLUMN c varchar(10)"),
    Case("varchar_to_char", TYPES, "MODIFY COLUMN v char(20)"),
    Case("varchar_to_varbinary", TYPES, "MODIFY COLUMN v varbinary(80)"),
    Case("decimal_widen", TYPES, "MODIFY COLUMN f decimal(12,4)"),
    Case("decimal_narrow", TYPES, "MODIFY COLUMN f decimal(9,2)"),
    Case("float_to_double", TYPES, "MODIFY COLUMN g double"),
    Case("unsigned_to_signed", TYPES, "MODIFY COLUMN u int"),
    Case("unsigned_int_to_bigint", TYPES, "MODIFY COLUMN u bigint"),
    Case("column_charset_narrow", TYPES, "MODIFY COLUMN v varchar(20) CHARACTER SET latin1"),
    Case("column_collation", TYPES, "MODIFY COLUMN v varchar(20) COLLATE utf8mb4_bin"),
    Case("column_comment", TYPES, "MODIFY COLUMN v varchar(20) COMMENT 'shown in the UI'"),
    Case("row_format", TYPES, "ROW_FORMAT=COMPACT"),
    Case("page_compressed", TYPES, "PAGE_COMPRESSED=1"),
    Case("table_comment", TYPES, "COMMENT='orders'"),
    Case("auto_increment_value", TYPES, "AUTO_INCREMENT=1000"),
    Case("varchar_utf8mb3_to_utf8mb4", MB3, "MODIFY COLUMN v varchar(20) CHARACTER SET utf8mb4"),
    Case("convert_utf8mb3_to_utf8mb4_varchar_longtext", MB3, "CONVERT TO CHARACTER SET utf8mb4"),
    Case("convert_utf8mb3_to_utf8mb4_with_text", MB3_TEXT, "CONVERT TO CHARACTER SET utf8mb4"),
    Case("convert_to_the_same_charset", TYPES, "CONVERT TO CHARACTER SET utf8mb4"),
    Case("key_column_collation", KEYED, "MODIFY COLUMN code varchar(20) COLLATE utf8mb4_bin NOT NULL"),
    Case("enum_insert_member", BASE, "MODIFY COLUMN e enum('a','x','b','c')"),
)
CASE_BY_ID = {case.id: case for case in CASES}

# The refusals: ER_ALTER_OPERATION_NOT_SUPPORTED, ER_ALTER_OPERATION_NOT_SUPPORTED_REASON.
REFUSED = {1845, 1846}
SQL_MODE = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def test_every_fact_has_a_case() -> None:
    assert set(MARIADB_FACTS) == set(CASE_BY_ID)
    assert len(CASE_BY_ID) == len(CASES)


# --------------------------------------------------------------------------- measuring


def _reset(cur: Any, case: Case) -> None:
    cur.execute(f"SET SESSION sql_mode = '{SQL_MODE}'")
    cur.execute("SET SESSION foreign_key_checks = 0")
    cur.execute("DROP TABLE IF EXISTS t, t2, p")
    cur.execute("SET SESSION foreign_key_checks = 1")
    for sql in case.setup:
        cur.execute(sql)


def _run(cur: Any, case: Case, option: str) -> int | None:
    """Rows the server reports as affected when it runs the statement with ``option`` (a
    copying ALTER reports every row it copied, an in-place one 0); None when it refuses."""
    import pymysql

    _reset(cur, case)
    try:
        return int(cur.execute(f"{case.statement}, {option}"))
    except pymysql.MySQLError as exc:
        if exc.args and exc.args[0] in REFUSED:
            return None
        raise


def _honoured(cur: Any, case: Case, option: str) -> bool:
    """The server accepted ``option`` and did not copy the table behind its back (it accepts
    ALGORITHM=INSTANT for an ENGINE change and then copies anyway)."""
    affected = _run(cur, case, option)
    return affected is not None and (affected == 0 or option == "ALGORITHM=COPY")


def measure(case: Case, conn: Any) -> dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 10")
        algorithm = next(
            (alg for alg in (INSTANT, INPLACE, COPY) if _honoured(cur, case, f"ALGORITHM={alg}")),
            None,
        )
        assert algorithm is not None, f"{case.statement!r} refused even with ALGORITHM=COPY"
        nocopy = _honoured(cur, case, "ALGORITHM=NOCOPY")
        lock = next(
            (
                word
                for word in ("none", "shared", "exclusive")
                if _run(cur, case, f"LOCK={word.upper()}") is not None
            ),
            None,
        )
        assert lock is not None, f"{case.statement!r} refused even with LOCK=EXCLUSIVE"
    return _fact(algorithm, nocopy, lock)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mariadb_online_ddl_fact(case: Case, mysql_conn: Any) -> None:
    with mysql_conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
    if "mariadb" not in version.lower():
        pytest.skip(f"MARIADB_FACTS are MariaDB facts; the server is MySQL {version}")
    assert measure(case, mysql_conn) == MARIADB_FACTS[case.id]


def test_ddl_is_not_transactional(mysql_conn: Any) -> None:
    """Every ALTER commits: a ROLLBACK after it undoes nothing."""
    with mysql_conn.cursor() as cur:
        for sql in BASE:
            cur.execute(sql)
        cur.execute("START TRANSACTION")
        cur.execute("ALTER TABLE t ADD COLUMN c int")
        cur.execute("ROLLBACK")
        cur.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_schema = DATABASE() AND table_name = 't' AND column_name = 'c'"
        )
        assert cur.fetchone()[0] == 1


def test_engine_change_ignores_algorithm_instant(mysql_conn: Any) -> None:
    """MariaDB accepts ``ENGINE=…, ALGORITHM=INSTANT`` and copies every row anyway: an
    ALGORITHM clause is no guard for an engine change."""
    case = CASE_BY_ID["engine_change_to_aria"]
    with mysql_conn.cursor() as cur:
        assert _run(cur, case, "ALGORITHM=INSTANT") == ROWS
        cur.execute(
            "SELECT engine FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name = 't'"
        )
        assert cur.fetchone()[0] == "Aria"


# --------------------------------------------------------------------------- classifier


def _import_lint_text() -> Callable[..., Any]:
    """``lint_text`` from ``schemashift.analyze`` (the documented entry point), else from where
    the engine defines it; ImportError when neither exists yet."""
    try:
        from schemashift.analyze import lint_text
    except ImportError:
        from schemashift.analysis.engine import lint_text
    return lint_text


try:
    _import_lint_text()
except ImportError as exc:
    _LINT_IMPORT_ERROR: ImportError | None = exc
except Exception:  # a broken classifier must fail the comparison, not this module's import
    _LINT_IMPORT_ERROR = None
else:
    _LINT_IMPORT_ERROR = None


@pytest.mark.xfail(
    _LINT_IMPORT_ERROR is not None,
    reason="classifier not wired yet",
    raises=ImportError,
    strict=False,
)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_classifier_agrees_with_mariadb_facts(case: Case) -> None:
    lint_text = _import_lint_text()
    sql = ";\n".join((*case.setup, case.statement))
    report = lint_text(sql, file="t.sql", dialect="mysql", server_version="10.11")
    change = report.statements[-1].changes[0]
    fact = MARIADB_FACTS[case.id]
    assert change.lock == fact["lock"], change
    # The table is rewritten unless the server keeps it (INSTANT, or NOCOPY accepted).
    assert change.rewrites_table == (not fact["nocopy"]), change
    if case.id in MARIADB_COMPATIBLE:
        # On an existing table (the setup as the schema, not as earlier statements of the
        # same file, which would make the table new and every change harmless).
        setup = ";\n".join(sql for sql in case.setup if not sql.startswith("INSERT"))
        existing = lint_text(case.statement, file="t.sql", dialect="mysql",
                             server_version="10.11", schema=setup)  # fmt: skip
        compatible = existing.statements[-1].changes[0].compatibility.value == "compatible"
        assert compatible == MARIADB_COMPATIBLE[case.id], existing.statements[-1].changes[0]
