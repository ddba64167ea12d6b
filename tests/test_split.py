"""The splitter: statements, 1-based lines, original text, comments, transactions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemashift.sql.split import split_sql


def sqls(text: str, dialect: str = "postgres") -> list[tuple[int, str]]:
    return [(s.statement.line, s.statement.sql) for s in split_sql(text, "t.sql", dialect)]


def test_lines_are_one_based_and_text_is_kept() -> None:
    text = "-- head\nSELECT 1;\n\n  ALTER TABLE t\n    ADD COLUMN a int;\n"
    assert sqls(text) == [(2, "SELECT 1"), (4, "ALTER TABLE t\n    ADD COLUMN a int")]


def test_dollar_quoted_bodies_keep_their_semicolons() -> None:
    text = (
        "CREATE FUNCTION f() RETURNS trigger AS $body$\nBEGIN NEW.a := 1; RETURN NEW; END\n"
        "$body$ LANGUAGE plpgsql;\nDO $$ BEGIN PERFORM 1; END $$;\nSELECT 2;"
    )
    got = sqls(text)
    assert [line for line, _ in got] == [1, 4, 5]
    assert got[0][1].endswith("LANGUAGE plpgsql")
    assert got[1][1] == "DO $$ BEGIN PERFORM 1; END $$"


def test_doubled_semicolons_and_trailing_comments() -> None:
    assert sqls("SELECT 1;;\n;SELECT 2; -- trailing\n-- only a comment\n") == [
        (1, "SELECT 1"),
        (2, "SELECT 2"),
    ]


def test_strings_identifiers_and_comments_hide_semicolons() -> None:
    text = "SELECT 'a;b', E'x\\';y', \"we;ird\" /* c; */ FROM t -- no; split\n;SELECT 3;"
    got = sqls(text)
    assert len(got) == 2 and got[1] == (2, "SELECT 3")


def test_nested_block_comments() -> None:
    got = sqls("/* a /* nested; */ still; */ SELECT 1; SELECT 2;")
    assert [sql for _, sql in got] == ["SELECT 1", "SELECT 2"]


def test_pyformat_percent_escapes_survive() -> None:
    assert sqls("UPDATE t SET a = 'x%%' WHERE b LIKE 'y%%';") == [
        (1, "UPDATE t SET a = 'x%%' WHERE b LIKE 'y%%'")
    ]


def test_leading_comments_are_attached_for_suppressions() -> None:
    text = (
        "SELECT 1;\n-- schemashift: ignore SS101 renamed on purpose\nALTER TABLE t RENAME a TO b;"
    )
    second = split_sql(text)[1].statement
    assert "ignore SS101" in second.leading_comments and second.line == 3


def test_transaction_boundaries() -> None:
    text = "SELECT 0;\nBEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\nSELECT 1;\n"
    flags = [(s.statement.sql, s.statement.in_transaction) for s in split_sql(text)]
    assert flags == [
        ("SELECT 0", False),
        ("BEGIN", True),
        ("CREATE INDEX CONCURRENTLY i ON t (a)", True),
        ("COMMIT", True),
        ("SELECT 1", False),
    ]


@pytest.mark.parametrize(
    "opener", ["BEGIN", "BEGIN TRANSACTION", "START TRANSACTION", "begin work"]
)
def test_transaction_openers(opener: str) -> None:
    parts = split_sql(f"{opener};\nSELECT 1;\nROLLBACK TO SAVEPOINT s;\nSELECT 2;\nEND;\nSELECT 3;")
    assert [s.statement.in_transaction for s in parts] == [True, True, True, True, True, False]


def test_mysql_delimiter_and_backslash_strings() -> None:
    text = (
        "ALTER TABLE t ADD COLUMN a int;\nDELIMITER //\n"
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 'a\\'b;'; END //\nDELIMITER ;\n"
        "ALTER TABLE t DROP COLUMN a; # comment\n"
    )
    got = sqls(text, "mysql")
    assert [line for line, _ in got] == [1, 3, 5]
    assert got[1][1].startswith("CREATE PROCEDURE") and got[1][1].endswith("END")


def test_sqlite_trigger_body() -> None:
    text = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE x SET a = 1; END;\nDELETE FROM t;"
    got = sqls(text, "sqlite")
    assert len(got) == 2 and got[0][1].endswith("END")


def test_unterminated_string_is_one_statement_not_a_crash() -> None:
    got = sqls("SELECT 1;\nSELECT 'oops;\nSELECT 2;")
    assert got[0] == (1, "SELECT 1") and got[1][0] == 2 and len(got) == 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_splits_without_crashing_and_keeps_order(text: str) -> None:
    for dialect in ("postgres", "mysql", "sqlite"):
        parts = split_sql(text, "x.sql", dialect)
        lines = [p.statement.line for p in parts]
        assert lines == sorted(lines)
        for p in parts:
            assert p.statement.sql.strip() and p.statement.sql in text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "SELECT 1",
                "ALTER TABLE t ADD COLUMN a int",
                "CREATE INDEX i ON t (a)",
                "SELECT 'x;y'",
                "SELECT $$a;b$$",
                "UPDATE t SET a = 'q''r' WHERE b = 1",
            ]
        ),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([";\n", ";", " ;\n\n", ";\n-- c\n"]),
)
def test_joined_statements_come_back_one_for_one(statements: list[str], sep: str) -> None:
    text = sep.join(statements) + ";"
    assert [p.statement.sql for p in split_sql(text)] == statements
