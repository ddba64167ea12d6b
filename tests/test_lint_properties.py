"""Fail safe: random and mutated SQL never crashes lint and never passes silently."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemashift.analysis.engine import lint_text
from schemashift.model import Compatibility
from schemashift.sql.recognize import recognize

VALID = [
    "ALTER TABLE users RENAME COLUMN name TO full_name",
    "ALTER TABLE public.users ADD COLUMN age int NOT NULL DEFAULT 0",
    "ALTER TABLE users ADD COLUMN id2 uuid DEFAULT gen_random_uuid()",
    "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint",
    "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org_id) REFERENCES orgs (id) NOT VALID",
    "ALTER TABLE users VALIDATE CONSTRAINT fk",
    "ALTER TABLE users ADD CHECK (age > 0)",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON users (lower(email)) WHERE x > 0",
    "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(20) NOT NULL DEFAULT 'x', c jsonb)",
    "UPDATE users SET a = (SELECT 1 FROM b WHERE b.id = users.id)",
    "DO $$ BEGIN EXECUTE 'x'; END $$",
    "ALTER TABLE t MODIFY COLUMN a BIGINT NOT NULL, ALGORITHM=INPLACE, LOCK=NONE",
    "DROP INDEX CONCURRENTLY IF EXISTS i",
    "SET lock_timeout = '1s'",
]
TOKENS = ["ALTER", "TABLE", "ADD", "DROP", "COLUMN", "(", ")", ",", "'", '"', "$$", ";", "--",
          "/*", "*/", "NOT", "NULL", "DEFAULT", "CONSTRAINT", "INDEX", "ON", "t", "a", "int",
          "CHECK", "VALID", "USING", "TYPE", "RENAME", "TO", "%%", "\\", "`", "BEGIN", "END"]  # fmt: skip


def _assert_fail_safe(sql: str, dialect: str) -> None:
    report = lint_text(sql, file="fuzz.sql", dialect=dialect)
    for s in report.statements:
        assert s.changes, f"statement without any change: {s.statement.sql!r}"
        for c in s.changes:
            if c.kind == "raw" and c.compatibility is not Compatibility.UNKNOWN:
                raise AssertionError("raw change not reported as unknown")
            if c.compatibility is Compatibility.UNKNOWN and c.kind != "raw":
                raise AssertionError("unknown outside raw")
        raws = [c for c in s.changes if c.kind == "raw"]
        if raws:
            assert any(f.rule in ("SS001", "SS002") for f in s.findings), "unknown passed silently"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.sampled_from(["postgres", "mysql", "sqlite"]))
def test_random_text_never_crashes(text: str, dialect: str) -> None:
    _assert_fail_safe(text, dialect)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    words = draw(st.sampled_from(VALID)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert"]))
        i = draw(st.integers(0, len(words) - 1))
        if op == "drop" and len(words) > 1:
            del words[i]
        elif op == "dup":
            words.insert(i, words[i])
        elif op == "swap":
            j = draw(st.integers(0, len(words) - 1))
            words[i], words[j] = words[j], words[i]
        else:
            words.insert(i, draw(st.sampled_from(TOKENS)))
    return " ".join(words)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from(["postgres", "mysql", "sqlite"]))
def test_mutated_statements_never_crash(sql: str, dialect: str) -> None:
    _assert_fail_safe(sql, dialect)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["users", "Orders", '"Mixed Case"', "s.t", "public.accounts"]),
    st.sampled_from(["a", "col_1", '"Weird Col"']),
    st.sampled_from(
        [
            "int",
            "bigint",
            "varchar(20)",
            "text",
            "timestamp with time zone",
            "numeric(10,2)",
            "int[]",
            "double precision",
        ]
    ),
    st.sampled_from(["", " NOT NULL", " DEFAULT 0", " NOT NULL DEFAULT now()", " NULL"]),
)
def test_fast_path_agrees_with_sqlglot_on_add_column(
    table: str, col: str, typ: str, tail: str
) -> None:
    """Both parser paths must read the same table, column and nullability."""
    from schemashift.sql.sqlglot_adapter import actions_from_sqlglot

    sql = f"ALTER TABLE {table} ADD COLUMN {col} {typ}{tail}"
    fast = recognize(sql, "postgres")
    slow = actions_from_sqlglot(sql, "postgres")
    assert fast is not None and len(fast) == 1
    if slow[0].kind == "raw":
        return  # sqlglot cannot read it; the fast path is the only reader
    a, b = fast[0], slow[0]
    assert (a.kind, a.table, a.column) == (b.kind, b.table, b.column)
    assert a.column_def is not None and b.column_def is not None
    assert a.column_def.not_null == b.column_def.not_null
    assert (a.column_def.default is None) == (b.column_def.default is None)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(
        [
            "RENAME COLUMN a TO b",
            "DROP COLUMN a",
            "ALTER COLUMN a SET NOT NULL",
            "ALTER COLUMN a DROP NOT NULL",
            "ALTER COLUMN a SET DEFAULT 1",
            "ALTER COLUMN a DROP DEFAULT",
            "ALTER COLUMN a TYPE bigint",
            "RENAME TO u2",
            "ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES o (id)",
            "ADD CONSTRAINT c UNIQUE (a)",
            "DROP CONSTRAINT c",
        ]
    ),
    st.sampled_from(["t", "s.t", '"T"']),
)
def test_fast_path_agrees_with_sqlglot_on_alter_actions(clause: str, table: str) -> None:
    from schemashift.sql.sqlglot_adapter import actions_from_sqlglot

    sql = f"ALTER TABLE {table} {clause}"
    fast = recognize(sql, "postgres")
    slow = actions_from_sqlglot(sql, "postgres")
    assert fast is not None
    assert [(a.kind, a.table, a.column) for a in fast] == [
        (b.kind, b.table, b.column) for b in slow
    ]
