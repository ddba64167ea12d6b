"""Schema shapes from real MySQL/MariaDB dumps: executable comments, backquoted mixed-case
names, table character sets (the corpus entries of roundcube, ZoneMinder and PowerDNS)."""

from __future__ import annotations

from schemashift.analysis.engine import lint_text
from schemashift.sql.split import split_sql

DUMP = """\
CREATE TABLE `Users` (
  `Id` int(10) unsigned NOT NULL auto_increment,
  `Username` varchar(32) character set latin1 collate latin1_bin NOT NULL default '',
  `cache_key` varchar(128) /*!40101 CHARACTER SET ascii COLLATE ascii_general_ci */ NOT NULL,
  PRIMARY KEY (`Id`)
) /*!40000 ENGINE=INNODB */ /*!40101 CHARACTER SET utf8 COLLATE utf8_general_ci */;
"""


def _change(sql: str) -> dict[str, object]:
    report = lint_text(sql, dialect="mysql", server_version="10.11", schema=DUMP)
    c = report.statements[-1].changes[0]
    return {"compat": c.compatibility.value, "lock": c.lock, "rewrites": c.rewrites_table}


def test_executable_comments_are_read_in_place() -> None:
    (item,) = split_sql(DUMP, "dump.sql", "mysql")
    assert "CHARACTER SET ascii" in item.statement.sql
    assert "/*!" not in item.statement.sql
    assert item.statement.line == 1 and len(item.statement.sql) <= len(DUMP)


def test_a_modify_without_a_charset_converts_to_the_table_default() -> None:
    # ascii → the table's utf8: every value converted (COPY), every ascii value fits.
    got = _change("ALTER TABLE `cache_owner` MODIFY x int")  # unknown table: assumed
    assert got["rewrites"] is True
    got = _change("ALTER TABLE Users CHANGE cache_key cache_key varchar(128) BINARY NOT NULL")
    assert got == {"compat": "compatible", "lock": "shared", "rewrites": True}


def test_backquoted_mixed_case_names_match_unquoted_ones() -> None:
    # latin1 varchar(32) → varchar(64): 64 bytes keep the 1-byte length prefix: INSTANT.
    got = _change("ALTER TABLE users MODIFY username varchar(64) character set latin1 "
                  "collate latin1_bin NOT NULL default ''")  # fmt: skip
    assert got == {"compat": "compatible", "lock": "none", "rewrites": False}


def test_utf8mb3_to_utf8mb4_is_instant_only_where_mariadb_does_it() -> None:
    schema = "CREATE TABLE t (id int PRIMARY KEY, v varchar(20)) DEFAULT CHARSET=utf8mb3;"
    sql = "ALTER TABLE t MODIFY v varchar(20) CHARACTER SET utf8mb4"

    def rewrites(version: str) -> bool:
        report = lint_text(sql, dialect="mysql", server_version=version, schema=schema)
        return report.statements[-1].changes[0].rewrites_table

    # MDEV-15564 (MariaDB 10.4; measured INSTANT on 10.11 in tests/db); MySQL 8 copies.
    assert rewrites("10.11") is False and rewrites("10.4") is False
    assert rewrites("10.3") is True and rewrites("8.0.35") is True
