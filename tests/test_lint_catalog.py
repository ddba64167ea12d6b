"""`schemashift lint --database-url URL`: the live catalog, read-only, prices type changes
on the real column types and sizes findings by the table's estimated rows, on real
PostgreSQL and MariaDB (and SQLite)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def lint(tmp_path: Path, url: str, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "m.sql"
    path.write_text(sql)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMASHIFT_")}
    return subprocess.run([sys.executable, "-m", "schemashift", "lint", "--format", "json",
                           "--database-url", url, *args, str(path)], capture_output=True,
                          text=True, cwd=tmp_path, env=env)  # fmt: skip


def findings(proc: subprocess.CompletedProcess[str]) -> list[tuple[int, str, str, str]]:
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    return [(s["line"], f["rule"], f["severity"], f["message"])
            for s in doc["statements"] for f in s["findings"]]  # fmt: skip


MIGRATION = ("SET lock_timeout = '1s';\n"
             "ALTER TABLE small ALTER COLUMN note TYPE varchar(200);\n"
             "ALTER TABLE big ALTER COLUMN n TYPE bigint;\n"
             "ALTER TABLE small ALTER COLUMN n TYPE bigint;\n")  # fmt: skip


@pytest.mark.postgres
def test_postgres_catalog_types_and_sizes(tmp_path: Path, pg_conn: Any, postgres_url: str) -> None:
    pg_conn.execute("CREATE TABLE small (id int PRIMARY KEY, note varchar(50), n int)")
    pg_conn.execute("INSERT INTO small SELECT g, 'x', g FROM generate_series(1, 100) g")
    pg_conn.execute("CREATE TABLE big (id int PRIMARY KEY, n int)")
    pg_conn.execute("INSERT INTO big SELECT g, g FROM generate_series(1, 50000) g")
    pg_conn.execute("ANALYZE")
    before = pg_conn.execute("SELECT count(*) FROM pg_class").fetchone()
    got = findings(lint(tmp_path, postgres_url, MIGRATION))
    # varchar(50) -> varchar(200): a free widening once the old type is known
    assert not [f for f in got if f[0] == 2]
    big = [f for f in got if f[0] == 3 and f[1] == "SS205"]
    small = [f for f in got if f[0] == 4 and f[1] == "SS205"]
    assert big and big[0][2] == "error" and "~50,000 rows" in big[0][3]
    assert small and small[0][2] == "warning" and "~100 rows" in small[0][3]
    assert pg_conn.execute("SELECT count(*) FROM pg_class").fetchone() == before  # read-only


@pytest.mark.mysql
def test_mariadb_catalog_types_and_nullability(tmp_path: Path, mysql_conn: Any,
                                               mysql_url: str) -> None:  # fmt: skip
    with mysql_conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b varchar(20))")
        cur.execute("INSERT INTO t VALUES (1, 1, 'x'), (2, 2, 'y')")
        cur.execute("ANALYZE TABLE t")
    got = findings(lint(tmp_path, mysql_url, "ALTER TABLE t MODIFY a int;\n",
                        "--server-version", "10.11"))  # fmt: skip
    # the catalog says a is NOT NULL: this MODIFY drops it
    assert any(rule == "SS107" for _, rule, _, _ in got), got


def test_sqlite_catalog(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    conn.executemany("INSERT INTO t (a) VALUES (?)", [("x",)] * 30)
    conn.commit()
    conn.close()
    got = findings(lint(tmp_path, f"sqlite:///{db}", "ALTER TABLE t DROP COLUMN a;\n"))
    assert got and all("~30 rows" in message for _, _, _, message in got)


def test_unreachable_database_is_one_line_exit_4(tmp_path: Path) -> None:
    proc = lint(tmp_path, "postgresql://app:s3cret@127.0.0.1:1/nope", "SELECT 1;")
    assert proc.returncode == 4 and proc.stdout == ""
    assert proc.stderr.startswith("schemashift: error: ") and "s3cret" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
