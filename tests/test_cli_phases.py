"""The phase commands as a user runs them, on real PostgreSQL: a .sql migration with a
breaking rename goes expand → backfill → verify → contract, with status in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.postgres


def run(*args: str, url: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SCHEMASHIFT_DEBUG", "SCHEMASHIFT_DATABASE_URL")
    }
    if url:
        env["SCHEMASHIFT_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("schemashift: error:") and needle in lines[-1], (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


@pytest.fixture
def migration(tmp_path: Path, pg_conn: Any) -> Path:
    pg_conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL)")
    pg_conn.execute("INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 2000) g")
    path = tmp_path / "0042_rename_user_name.sql"
    path.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    return path


def test_the_whole_story(migration: Path, postgres_url: str, pg_conn: Any) -> None:
    target = str(migration)
    plan = run("plan", target)
    assert plan.returncode == 0 and "EXPAND" in plan.stdout and "CONTRACT" in plan.stdout
    one_line_error(run("contract", target, url=postgres_url), 3, "run expand first")
    assert run("expand", target, url=postgres_url).returncode == 0
    # Both app versions work now: the old writes name, the new writes full_name.
    pg_conn.execute("INSERT INTO users (id, name) VALUES (5001, 'old app')")
    pg_conn.execute("INSERT INTO users (id, full_name) VALUES (5002, 'new app')")
    assert pg_conn.execute("SELECT full_name FROM users WHERE id = 5001").fetchone()[0] == "old app"
    assert pg_conn.execute("SELECT name FROM users WHERE id = 5002").fetchone()[0] == "new app"
    status = json.loads(run("status", "--format", "json", url=postgres_url).stdout)
    assert status["migrations"][0]["migration"] == "0042_rename_user_name"
    assert status["migrations"][0]["phase"] == "expand"
    one_line_error(run("contract", target, url=postgres_url), 3, "run backfill first")
    assert run("backfill", target, "--batch-size", "300", url=postgres_url).returncode == 0
    assert run("verify", target, url=postgres_url).returncode == 0
    text = run("status", url=postgres_url).stdout
    assert "0042_rename_user_name" in text and "verify" in text
    assert run("contract", target, url=postgres_url).returncode == 0
    cols = [r[0] for r in pg_conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' "
        "ORDER BY ordinal_position").fetchall()]  # fmt: skip
    assert cols == ["id", "full_name"]
    assert pg_conn.execute("SELECT count(*) FROM users WHERE full_name IS NULL").fetchone()[0] == 0
    assert pg_conn.execute("SELECT count(*) FROM users").fetchone()[0] == 2002
    one_line_error(run("rollback", target, url=postgres_url), 3, "fix forward")
    assert run("contract", target, url=postgres_url).stdout.strip().endswith("(already done)")


def test_rollback_before_contract(migration: Path, postgres_url: str, pg_conn: Any) -> None:
    target = str(migration)
    assert run("expand", target, url=postgres_url).returncode == 0
    proc = run("rollback", target, url=postgres_url)
    assert proc.returncode == 0 and "rolled back" in proc.stdout
    cols = {r[0] for r in pg_conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'").fetchall()}  # fmt: skip
    assert cols == {"id", "name"}
    triggers = pg_conn.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal").fetchone()[
        0
    ]
    assert triggers == 0


def test_bad_inputs(migration: Path, postgres_url: str, tmp_path: Path) -> None:
    one_line_error(run("expand", str(tmp_path / "nope.sql"), url=postgres_url), 2, "no such file")
    one_line_error(run("expand", str(migration)), 2, "no database")
    bad = "postgresql://someone:s3cret@127.0.0.1:1/db"
    proc = run("expand", str(migration), "--database-url", bad)
    one_line_error(proc, 4, "cannot connect")
    assert "s3cret" not in proc.stderr + proc.stdout
    (tmp_path / "junk.sql").write_text("ALTER TABLE users FROBNICATE;")
    one_line_error(run("expand", str(tmp_path / "junk.sql"), url=postgres_url), 2, "junk.sql")
    one_line_error(run("contract", str(migration), "--force", url=postgres_url), 2, "--reason")
