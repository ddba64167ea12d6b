"""``schemashift demo`` end to end (SQLite and PostgreSQL), and the SQLite backend."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from schemashift.config import Config
from schemashift.execute.backends import SQLiteBackend, backend_for, run_lock_key
from schemashift.execute.database import parse_url
from schemashift.execute.runner import GateRefused, Runner, RunOptions
from schemashift.model import Phase
from schemashift.phases.planner import plan_sql
from schemashift.sqltext import refs
from schemashift.sqltext.names import TableName

TIMELINE = (
    "created users with 2,000 rows",
    "app v1 started (reads/writes users.name)",
    "expand done",
    "app v2 started (reads/writes users.full_name)",
    "backfill done",
    "verify done",
    "app v1 retired after",
    "contract done",
)


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemashift", "demo", "--rows", "2000",
         "--seconds-per-phase", "0.4", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _assert_story(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for event in TIMELINE:
        assert any(event in line for line in lines), (event, proc.stdout)
    positions = [next(i for i, line in enumerate(lines) if e in line) for e in TIMELINE]
    assert positions == sorted(positions)
    assert lines[-1] == "0 failed app requests, 0 lost rows"


def test_demo_on_sqlite_by_default() -> None:
    proc = _demo()
    _assert_story(proc)
    assert "(sqlite)" in proc.stdout


def test_demo_on_postgres(postgres_url: str) -> None:
    proc = _demo("--database-url", postgres_url)
    _assert_story(proc)
    assert "(postgres)" in proc.stdout


def test_demo_refuses_a_database_with_users(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    proc = _demo("--database-url", f"sqlite:///{path}")
    assert proc.returncode != 0
    assert "empty database" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- SQLite backend


def _db(tmp_path: Path) -> tuple[str, sqlite3.Connection]:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, "
        "name VARCHAR(80) NOT NULL DEFAULT '')"
    )
    conn.executemany("INSERT INTO users (id, email, name) VALUES (?, ?, ?)",
                     [(i, f"u{i}@x", f"User {i}") for i in range(1, 51)])  # fmt: skip
    return f"sqlite:///{path}", conn


def test_sqlite_backend_is_registered(tmp_path: Path) -> None:
    url, _ = _db(tmp_path)
    assert isinstance(backend_for(parse_url(url)), SQLiteBackend)


def test_sqlite_run_lock_keeps_two_runs_of_one_migration_apart(tmp_path: Path) -> None:
    url, conn = _db(tmp_path)
    first, second = SQLiteBackend(parse_url(url)), SQLiteBackend(parse_url(url))
    a, b = first.connect(), second.connect()
    m1, m2 = run_lock_key("m1"), run_lock_key("m2")
    assert first.try_lock(a, m1)
    assert first.lock_alive(a, m1)
    assert not second.try_lock(b, m1)
    assert second.try_lock(b, m2)  # another migration: not blocked
    second.unlock(b, m2)
    # status takes no run lock: it answers while a phase runs
    assert Runner(url, Config(dialect="sqlite")).status() == []
    with pytest.raises(GateRefused, match="holds its lock"):
        Runner(url, Config(dialect="sqlite"), RunOptions(quiet=True)).run(
            plan_sql("ALTER TABLE users RENAME COLUMN name TO full_name;", "m1",
                     Config(dialect="sqlite")), Phase.EXPAND)  # fmt: skip
    first.unlock(a, m1)
    assert not first.lock_alive(a, m1)
    assert second.try_lock(b, m1)
    second.unlock(b, m1)
    # A lock left by a process that is gone is stale: taken over.
    conn.execute("INSERT OR REPLACE INTO schemashift_meta VALUES (?, '999999999:x')",
                 (f"run_lock:{m1}",))  # fmt: skip
    assert first.try_lock(a, m1)
    first.unlock(a, m1)


def test_sqlite_catalog_lookups(tmp_path: Path) -> None:
    url, _ = _db(tmp_path)
    backend = SQLiteBackend(parse_url(url))
    conn = backend.connect()
    users = TableName(None, "users")
    assert backend.column_type(conn, users, "name") == "VARCHAR(80)"
    assert backend.column_type(conn, users, "missing") is None
    assert backend.primary_key(conn, users) == '"id"'
    conn.execute("CREATE TABLE plain (a TEXT)")
    assert backend.primary_key(conn, TableName(None, "plain")) == "rowid"


def _plan() -> object:
    return plan_sql("ALTER TABLE users RENAME COLUMN name TO full_name;", "m1",
                    Config(dialect="sqlite"))  # fmt: skip


def test_sqlite_rename_runs_and_rolls_back(tmp_path: Path) -> None:
    url, conn = _db(tmp_path)
    plan = _plan()
    runner = Runner(url, Config(dialect="sqlite"), RunOptions(quiet=True, batch_size=7))
    runner.run(plan, Phase.EXPAND)  # type: ignore[arg-type]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    assert columns == ["id", "email", "name", "full_name"]
    # The triggers keep both columns equal, both ways.
    conn.execute("INSERT INTO users (email, name) VALUES ('old@x', 'Old')")
    conn.execute("INSERT INTO users (email, full_name) VALUES ('new@x', 'New')")
    conn.execute("UPDATE users SET name = 'Renamed' WHERE id = 1")
    conn.execute("UPDATE users SET full_name = 'Renamed 2' WHERE id = 2")
    rows = dict(conn.execute("SELECT email, name || '|' || full_name FROM users "
                             "WHERE email IN ('old@x', 'new@x', 'u1@x', 'u2@x')"))  # fmt: skip
    assert rows == {"old@x": "Old|Old", "new@x": "New|New", "u1@x": "Renamed|Renamed",
                    "u2@x": "Renamed 2|Renamed 2"}  # fmt: skip
    assert Runner(url, Config(dialect="sqlite"), RunOptions(quiet=True)).rollback(plan) == 1  # type: ignore[arg-type]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    assert columns == ["id", "email", "name"]
    assert (
        conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
    )


def test_sqlite_rename_all_phases(tmp_path: Path) -> None:
    url, conn = _db(tmp_path)
    plan = _plan()
    runner = Runner(url, Config(dialect="sqlite"), RunOptions(quiet=True, batch_size=7))
    for phase in (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT):
        runner.run(plan, phase)  # type: ignore[arg-type]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    assert columns == ["id", "email", "full_name"]
    assert conn.execute("SELECT full_name FROM users WHERE id = 42").fetchone() == ("User 42",)
    progress = conn.execute(
        "SELECT last_key, rows_done FROM schemashift_backfill_progress"
    ).fetchall()
    assert progress == [("50", 50)]
    statuses = Runner(url, Config(dialect="sqlite")).status()
    assert [(s.phase, s.status, s.steps_done) for s in statuses] == [
        ("contract", "done", tuple(range(len(plan.steps))))
    ]


def test_sqlite_expand_rolls_back_as_a_whole(tmp_path: Path) -> None:
    """A statement failing after the rename's expand statements leaves nothing behind: the
    step is one transaction."""
    url, conn = _db(tmp_path)
    plan = _plan()
    # the first expand step with statements (the rename's checks come first, and run none)
    expand = next(s for _, s in plan.phase(Phase.EXPAND) if s.sql)  # type: ignore[attr-defined]
    statements = [refs.substitute(s, lambda r: "TEXT", str) for s in expand.sql]
    backend = SQLiteBackend(parse_url(url))
    other = backend.connect()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        backend.run_group(other, [*statements, "UPDATE no_such_table SET x = 1"],
                          lock_timeout_ms=100, concurrent=False, say=print)  # fmt: skip
    columns = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    assert columns == ["id", "email", "name"]
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (
        0,
    )
    # The whole group applies once it can.
    backend.run_group(other, statements, lock_timeout_ms=100, concurrent=False, say=print)
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (
        3,
    )


def test_sqlite_busy_is_retryable(tmp_path: Path) -> None:
    url, conn = _db(tmp_path)
    backend = SQLiteBackend(parse_url(url))
    other = backend.connect()
    conn.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            backend.run_group(other, ["ALTER TABLE users ADD COLUMN x TEXT"],
                              lock_timeout_ms=50, concurrent=False, say=print)  # fmt: skip
        assert backend.retryable(caught.value) == "SQLITE_BUSY"
    finally:
        conn.execute("ROLLBACK")
