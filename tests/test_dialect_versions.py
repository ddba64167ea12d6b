"""Version gates of the dialect modules, statement by statement (no server needed).

The facts for the server versions we run in CI are proven on real servers in tests/db/;
these pin the version-dependent branches around them.
"""

from __future__ import annotations

import pytest

from schemashift.analysis.engine import lint_text


def last_change(sql: str, dialect: str, version: str, schema: str | None = None):  # type: ignore[no-untyped-def]
    return (
        lint_text(sql, dialect=dialect, server_version=version, schema=schema)
        .statements[-1]
        .changes[0]
    )


@pytest.mark.parametrize(
    ("sql", "version", "rewrites", "scans"),
    [
        ("ALTER TABLE t ADD COLUMN a int DEFAULT 0", "10", True, True),
        ("ALTER TABLE t ADD COLUMN a int DEFAULT 0", "11", False, False),
        ("ALTER TABLE t ADD COLUMN a timestamptz DEFAULT now()", "16", False, False),
        ("ALTER TABLE t ADD COLUMN a uuid DEFAULT gen_random_uuid()", "16", True, True),
        ("ALTER TABLE t ADD COLUMN a int DEFAULT my_func()", "16", True, True),  # unknown: volatile
        ("ALTER TABLE t ADD COLUMN a bigserial", "16", True, True),
        ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b * 2) STORED", "18", True, True),
        ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b * 2)", "17", True, True),
        ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b * 2)", "18", False, False),
        ("ALTER TABLE t ADD COLUMN a int GENERATED ALWAYS AS (b * 2) VIRTUAL", "18", False, False),
    ],
)
def test_postgres_add_column(sql: str, version: str, rewrites: bool, scans: bool) -> None:
    change = last_change(sql, "postgres", version)
    assert (change.rewrites_table, change.scans_table) == (rewrites, scans)


@pytest.mark.parametrize(
    ("old", "new", "rewrites", "compatibility"),
    [
        ("varchar(10)", "varchar(20)", False, "compatible"),
        ("varchar(20)", "varchar(10)", True, "breaking"),
        ("varchar(20)", "text", False, "compatible"),
        ("text", "varchar(10)", True, "breaking"),
        ("numeric(10,2)", "numeric(12,2)", False, "compatible"),
        ("numeric(10,2)", "numeric(12,4)", True, "breaking"),
        ("integer", "bigint", True, "compatible"),
        ("bigint", "integer", True, "breaking"),
        ("char(36)", "varchar(40)", True, "compatible"),
        ("text", "jsonb", True, "breaking"),
    ],
)
def test_postgres_type_changes_with_known_old_type(
    old: str, new: str, rewrites: bool, compatibility: str
) -> None:
    change = last_change(f"ALTER TABLE t ALTER COLUMN c TYPE {new}", "postgres", "15",
                         schema=f"CREATE TABLE t (c {old});")  # fmt: skip
    assert (change.rewrites_table, change.compatibility.value) == (rewrites, compatibility)


def test_unknown_old_type_is_assumed_to_rewrite() -> None:
    change = last_change("ALTER TABLE t ALTER COLUMN c TYPE varchar(50)", "postgres", "15")
    assert change.rewrites_table and change.compatibility.value == "breaking"


@pytest.mark.parametrize(("version", "zone", "rewrites"), [("11", "UTC", True), ("12", "UTC", False),
                                                           ("15", "Europe/Berlin", True)])  # fmt: skip
def test_timestamptz_needs_a_utc_session_on_12_plus(
    version: str, zone: str, rewrites: bool
) -> None:
    sql = f"SET TimeZone = '{zone}';\nALTER TABLE t ALTER COLUMN c TYPE timestamptz;"
    change = last_change(sql, "postgres", version, schema="CREATE TABLE t (c timestamp);")
    assert change.rewrites_table is rewrites


@pytest.mark.parametrize(("version", "scans"), [("11", True), ("12", False), ("16", False)])
def test_set_not_null_after_a_validated_check(version: str, scans: bool) -> None:
    sql = (
        "ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT c_nn;\n"
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;"
    )
    assert last_change(sql, "postgres", version).scans_table is scans


def test_set_not_null_with_an_unvalidated_check_still_scans() -> None:
    sql = (
        "ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;"
    )
    assert last_change(sql, "postgres", "16").scans_table


@pytest.mark.parametrize(
    ("sql", "version", "lock", "rewrites"),
    [
        ("ALTER TABLE t ADD COLUMN a int AFTER b", "8.0.28", "none", True),
        ("ALTER TABLE t ADD COLUMN a int AFTER b", "8.0.29", "none", False),
        ("ALTER TABLE t ADD COLUMN a int AFTER b", "10.11", "none", False),
        ("ALTER TABLE t DROP COLUMN a", "8.0.28", "none", True),
        ("ALTER TABLE t DROP COLUMN a", "8.0.29", "none", False),
        ("ALTER TABLE t MODIFY a bigint", "8.0.30", "shared", True),
        ("ALTER TABLE t MODIFY a bigint, ALGORITHM=INPLACE, LOCK=NONE", "8.0.30", "none", True),
        (
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id)",
            "8.0.30",
            "shared",
            True,
        ),
        (
            "SET foreign_key_checks = 0;\nALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p (id)",
            "8.0.30",
            "none",
            False,
        ),
        ("ALTER TABLE t ENGINE=InnoDB", "10.11", "none", True),
        ("ALTER TABLE t ENGINE=MyISAM", "10.11", "shared", True),
    ],
)
def test_mysql_online_ddl(sql: str, version: str, lock: str, rewrites: bool) -> None:
    change = last_change(sql, "mysql", version)
    assert (change.lock, change.rewrites_table) == (lock, rewrites)


@pytest.mark.parametrize(
    ("old", "new", "version", "lock"),
    [
        ("varchar(20)", "varchar(63)", "10.11", "none"),  # 80 → 252 bytes: same length prefix
        ("varchar(20)", "varchar(64)", "10.11", "none"),  # MariaDB: from ≤ 127 bytes
        ("varchar(20)", "varchar(64)", "8.0.30", "shared"),  # MySQL: prefix grows → COPY
        ("varchar(50)", "varchar(70)", "10.11", "shared"),
        ("enum('a','b')", "enum('a','b','c')", "10.11", "none"),
        ("enum('a','b')", "enum('b','a')", "10.11", "shared"),
    ],
)
def test_mysql_modify_with_known_old_type(old: str, new: str, version: str, lock: str) -> None:
    change = last_change(f"ALTER TABLE t MODIFY COLUMN v {new}", "mysql", version,
                         schema=f"CREATE TABLE t (v {old});")  # fmt: skip
    assert change.lock == lock


@pytest.mark.parametrize(
    ("sql", "version", "rule"),
    [
        ("ALTER TABLE t DROP COLUMN a", "3.34", "SS802"),
        ("ALTER TABLE t RENAME COLUMN a TO b", "3.24", "SS802"),
        ("ALTER TABLE t ALTER COLUMN a TYPE bigint", "3.45", "SS801"),
    ],
)
def test_sqlite_gates(sql: str, version: str, rule: str) -> None:
    report = lint_text(sql, dialect="sqlite", server_version=version)
    assert rule in {f.rule for f in report.statements[0].findings}
