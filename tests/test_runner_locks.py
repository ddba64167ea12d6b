"""Run locks per migration, through the CLI as users run it: two migrations on two tables in
flight at once while ``status`` watches them; a run whose lock session dies stops; the state
row locked by someone else while contract records its step (PostgreSQL)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.runner import Runner, RunOptions
from schemashift.model import Phase
from schemashift.phases.planner import plan_sql

pytestmark = pytest.mark.postgres

RENAME = "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
RETYPE = "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\n"


def cli(*args: str, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemashift", *args, "--database-url", url],
                          capture_output=True, text=True, cwd=cwd, timeout=120)  # fmt: skip


def start(*args: str, url: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "schemashift", *args, "--database-url", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, pg_conn: Any) -> Path:
    pg_conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL)")
    pg_conn.execute("INSERT INTO users SELECT g, 'n' || g FROM generate_series(1, 20000) g")
    pg_conn.execute("CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL)")
    pg_conn.execute("INSERT INTO orders SELECT g, g FROM generate_series(1, 2000) g")
    (tmp_path / "0001_rename.sql").write_text(RENAME)
    (tmp_path / "0002_retype.sql").write_text(RETYPE)
    return tmp_path


def _wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_migrations_in_flight_while_status_runs(postgres_url: str, project: Path,
                                                    pg_conn: Any) -> None:  # fmt: skip
    assert cli("expand", "0001_rename.sql", url=postgres_url, cwd=project).returncode == 0
    # A slow backfill of the first migration holds its run lock for a while …
    slow = start("backfill", "0001_rename.sql", "--batch-size", "500", "--rows-per-second",
                 "4000", url=postgres_url, cwd=project)  # fmt: skip
    try:
        _wait_for(lambda: pg_conn.execute(
            "SELECT coalesce(sum(rows_done), 0) FROM schemashift.backfill_progress "
            "WHERE migration = '0001_rename'").fetchone()[0] > 0)  # fmt: skip
        # … while the second migration, on another table, goes all the way through.
        for phase in ("expand", "backfill", "verify", "contract"):
            done = cli(phase, "0002_retype.sql", url=postgres_url, cwd=project)
            assert done.returncode == 0, done.stderr
        # status needs no run lock: it answers at once, with the backfill's progress.
        started = time.monotonic()
        status = cli("status", "--format", "json", url=postgres_url, cwd=project)
        assert status.returncode == 0, status.stderr
        assert time.monotonic() - started < 10
        doc = {m["migration"]: m for m in json.loads(status.stdout)["migrations"]}
        assert doc["0002_retype"]["phase"] == "contract"
        assert doc["0001_rename"]["phase"] == "expand"
        assert 0 < doc["0001_rename"]["backfill"][0]["rows_done"] < 20000
        # The same migration cannot run twice at once.
        again = cli("backfill", "0001_rename.sql", url=postgres_url, cwd=project)
        assert again.returncode == 3 and "holds its lock" in again.stderr
        assert slow.poll() is None, "the slow backfill should still be running"
    finally:
        _, err = slow.communicate(timeout=60)
    assert slow.returncode == 0, err
    assert pg_conn.execute("SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name"
                           ).fetchone()[0] == 0  # fmt: skip
    assert pg_conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                           "attrelid = 'orders'::regclass AND attname = 'amount'"
                           ).fetchone()[0] == "bigint"  # fmt: skip


def test_a_run_whose_lock_session_dies_stops(postgres_url: str, project: Path,
                                             pg_conn: Any) -> None:  # fmt: skip
    assert cli("expand", "0001_rename.sql", url=postgres_url, cwd=project).returncode == 0
    slow = start("backfill", "0001_rename.sql", "--batch-size", "200", "--rows-per-second",
                 "2000", url=postgres_url, cwd=project)  # fmt: skip
    holder = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
              "(SELECT oid FROM pg_database WHERE datname = current_database())")
    _wait_for(lambda: pg_conn.execute(
        "SELECT coalesce(sum(rows_done), 0) FROM schemashift.backfill_progress").fetchone()[0] > 0)  # fmt: skip
    (pid,) = pg_conn.execute(holder).fetchone()
    pg_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    _, err = slow.communicate(timeout=30)
    # It stops (the lock is gone: a second run could start beside it) instead of going on.
    assert slow.returncode == 4, err
    assert "lost the run lock" in err and "run the phase again" in err
    assert "Traceback" not in err
    done = pg_conn.execute("SELECT rows_done FROM schemashift.backfill_progress").fetchone()[0]
    assert 0 < done < 20000
    resumed = cli("backfill", "0001_rename.sql", url=postgres_url, cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert pg_conn.execute("SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name"
                           ).fetchone()[0] == 0  # fmt: skip


def test_contract_waits_behind_a_locked_state_row_and_survives_a_kill_there(
    postgres_url: str, project: Path, pg_connect: Any
) -> None:
    """The instant that used to lose data: contract's DDL done, its record not yet. The
    record commits with the DDL, so holding the state row makes the whole step wait (and
    retry under lock_timeout); killing the run then leaves nothing half done."""
    plan = plan_sql(RENAME, "0001_rename", Config())
    for phase in (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY):
        Runner(postgres_url, Config(), RunOptions(quiet=True)).run(plan, phase)
    holder = pg_connect(autocommit=False)
    holder.execute("SELECT 1 FROM schemashift.migrations WHERE migration = '0001_rename' "
                   "FOR UPDATE")  # fmt: skip
    contract = start("contract", "0001_rename.sql", "--lock-timeout", "200",
                     url=postgres_url, cwd=project)  # fmt: skip
    time.sleep(2.0)  # it retries the step behind the row lock
    assert contract.poll() is None
    contract.send_signal(signal.SIGKILL)
    contract.wait(timeout=10)
    holder.rollback()
    admin = pg_connect()
    columns = [r[0] for r in admin.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum").fetchall()]  # fmt: skip
    assert columns == ["id", "name", "full_name"]  # nothing of the step committed
    # Contract was marked started: rollback is refused, contract finishes.
    refused = cli("rollback", "0001_rename.sql", url=postgres_url, cwd=project)
    assert refused.returncode == 3 and "rollback is refused" in refused.stderr
    finished = cli("contract", "0001_rename.sql", url=postgres_url, cwd=project)
    assert finished.returncode == 0, finished.stderr
    assert admin.execute("SELECT count(*), count(DISTINCT full_name) FROM users").fetchone() == (
        20000, 20000)
    assert admin.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass "
                         "AND attname = 'full_name'").fetchone()[0] is True  # fmt: skip
