"""The phase runner on real MySQL/MariaDB: order, checksum pin, run lock, lock_wait_timeout
retries, statement groups, rollback, verify, and the batched backfill with checkpoints."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.backends import (
    mysql_run_lock_name,
    mysql_statement_groups,
    run_lock_key,
)
from schemashift.execute.backfill import BackfillError
from schemashift.execute.backfill.mysql import resolve_key_mysql, run_backfill_mysql
from schemashift.execute.database import DatabaseError, connect, parse_url
from schemashift.execute.runner import GateRefused, Runner, RunOptions, VerifyFailed
from schemashift.model import Phase
from schemashift.phases.plan import Backfill, Plan, Step, Verify
from schemashift.sqltext.names import TableName
from schemashift.strategies.common import (
    mysql_drop_column_if_exists,
    mysql_drop_index_if_exists,
    pk_of,
    type_of,
)

pytestmark = pytest.mark.mysql
USERS = TableName(None, "users")


def rename_plan(migration: str = "m1") -> Plan:
    """Hand-written: add a copy column and an index, verify, drop the old column."""
    return Plan(migration, "mysql", (
        Step(Phase.EXPAND, "add users.full_name",
             sql=(f"ALTER TABLE users ADD COLUMN full_name {type_of(USERS, 'name')} NULL",),
             rollback=mysql_drop_column_if_exists(USERS, "full_name")),
        Step(Phase.EXPAND, "index users.full_name", concurrent=True,
             sql=("CREATE INDEX users_full_name_idx ON users (full_name) "
                  "ALGORITHM=INPLACE LOCK=NONE",),
             rollback=mysql_drop_index_if_exists(USERS, "users_full_name_idx")),
        Step(Phase.VERIFY, "full_name filled",
             verify=Verify("full_name is NULL",
                           f"SELECT {pk_of(USERS)} FROM users WHERE full_name IS NULL")),
        Step(Phase.CONTRACT, "drop users.name", sql=("ALTER TABLE users DROP COLUMN name",)),
    ))  # fmt: skip


def runner(url: str, **opts: Any) -> Runner:
    return Runner(url, Config(dialect="mysql"), RunOptions(quiet=True, **opts))


def rows(conn: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        return [tuple(r) for r in cur.fetchall()]


def run(conn: Any, sql: str, *params: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)


def columns(conn: Any, table: str = "users") -> list[tuple[str, str]]:
    return rows(
        conn,
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        table,
    )


def index_exists(conn: Any, name: str) -> bool:
    return bool(rows(conn, "SELECT 1 FROM information_schema.STATISTICS WHERE "
                           "TABLE_SCHEMA = DATABASE() AND INDEX_NAME = %s", name))  # fmt: skip


def numbers(count: int) -> str:
    """A CTE ``s(n)`` of 1..count (MySQL 8 and MariaDB alike)."""
    return (f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
            f"WHERE n < {count})")  # fmt: skip


@pytest.fixture
def users(mysql_conn: Any) -> Any:
    run(mysql_conn, "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(80) NOT NULL) "
                    "ENGINE=InnoDB")  # fmt: skip
    run(mysql_conn, f"INSERT INTO users {numbers(100)} SELECT n, CONCAT('n', n) FROM s")
    return mysql_conn


def test_phases_in_order_with_placeholders_and_state(mysql_url: str, users: Any) -> None:
    plan = rename_plan()
    with pytest.raises(GateRefused, match="run expand first"):
        runner(mysql_url).run(plan, Phase.VERIFY)
    assert runner(mysql_url).run(plan, Phase.EXPAND).steps_run == 2
    assert ("full_name", "varchar(80)") in columns(users)  # type of users.name resolved
    assert index_exists(users, "users_full_name_idx")
    with pytest.raises(GateRefused, match="contract comes after verify; run verify first"):
        runner(mysql_url).run(plan, Phase.CONTRACT)
    with pytest.raises(VerifyFailed, match="first offending keys: 1, 2, 3") as failed:
        runner(mysql_url).run(plan, Phase.VERIFY)  # pk of users resolved to `id`
    assert list(failed.value.keys) == list(range(1, 11))
    run(users, "UPDATE users SET full_name = name")
    assert runner(mysql_url).run(plan, Phase.VERIFY).steps_run == 1
    assert runner(mysql_url).run(plan, Phase.VERIFY).already_done
    runner(mysql_url).run(plan, Phase.CONTRACT)
    assert [c for c, _ in columns(users)] == ["id", "full_name"]
    status = runner(mysql_url).status()
    assert [(r.migration, r.phase, r.status, r.steps_done) for r in status] == [
        ("m1", "contract", "done", (0, 1, 2, 3))
    ]
    assert status[0].finished_at is not None and status[0].started_at.tzinfo is not None
    events = rows(users, "SELECT phase, action FROM schemashift_events WHERE migration = 'm1' "
                         "ORDER BY id")  # fmt: skip
    assert ("verify", "phase_failed") in events and ("contract", "phase_done") in events
    tables = {r[0] for r in rows(users, "SHOW TABLES LIKE 'schemashift\\_%'")}
    assert tables == {f"schemashift_{t}" for t in
                      ("meta", "migrations", "backfill_progress", "deployments", "events")}  # fmt: skip
    with pytest.raises(GateRefused, match="rollback is refused"):
        runner(mysql_url).rollback(plan)


def test_rollback_undoes_the_expand_and_expand_runs_again(mysql_url: str, users: Any) -> None:
    plan = rename_plan()
    runner(mysql_url).run(plan, Phase.EXPAND)
    assert runner(mysql_url).rollback(plan) == 2
    assert [(c, t.replace("(20)", "")) for c, t in columns(users)] == [
        ("id", "bigint"),
        ("name", "varchar(80)"),
    ]  # MariaDB and MySQL < 8.0.19 show bigint(20)
    assert not index_exists(users, "users_full_name_idx")
    assert rows(users, "SELECT COUNT(*) FROM users") == [(100,)]
    assert runner(mysql_url).rollback(plan) == 0  # already rolled back
    assert runner(mysql_url).run(plan, Phase.EXPAND).steps_run == 2  # again, from scratch


def test_checksum_pinned_at_expand(mysql_url: str, users: Any) -> None:
    runner(mysql_url).run(rename_plan(), Phase.EXPAND)
    changed = rename_plan()
    changed = Plan(changed.migration, changed.dialect,
                   (*changed.steps[:3], Step(Phase.CONTRACT, "other", sql=("DO 1",))))  # fmt: skip
    run(users, "UPDATE users SET full_name = name")
    with pytest.raises(GateRefused, match="plan changed since expand"):
        runner(mysql_url).run(changed, Phase.VERIFY)
    with pytest.raises(GateRefused, match="plan changed since it was expanded"):
        runner(mysql_url).run(changed, Phase.EXPAND)


def test_two_runs_cannot_interleave(
    mysql_url: str, users: Any, mysql_connect: Callable[..., Any]
) -> None:
    holder = mysql_connect()
    name = mysql_run_lock_name(parse_url(mysql_url).database or "", run_lock_key("m1"))
    assert rows(holder, "SELECT GET_LOCK(%s, 0)", name) == [(1,)]
    with pytest.raises(GateRefused, match="another schemashift run of m1 holds its lock"):
        runner(mysql_url).run(rename_plan(), Phase.EXPAND)
    # status takes no run lock; another migration is not blocked
    assert runner(mysql_url).status() == []
    run(holder, "DO RELEASE_LOCK(%s)", name)
    assert runner(mysql_url).run(rename_plan(), Phase.EXPAND).steps_run == 2
    assert rows(holder, "SELECT IS_FREE_LOCK(%s)", name) == [(1,)]  # released after the run


def test_run_lock_is_per_database_and_migration() -> None:
    assert mysql_run_lock_name("shop", run_lock_key("m1")) == "schemashift:run:m1@shop"
    assert mysql_run_lock_name("shop", run_lock_key("m1")) != mysql_run_lock_name(
        "shop", run_lock_key("m2"))
    long = mysql_run_lock_name("x" * 64, run_lock_key("m1"))
    assert len(long) <= 64 and long != mysql_run_lock_name("y" * 64, run_lock_key("m1"))


def test_ddl_waits_at_most_lock_wait_timeout_and_retries(
    mysql_url: str, users: Any, mysql_connect: Callable[..., Any]
) -> None:
    """An open transaction that read the table holds a metadata lock; our ALTER waits at
    most lock_wait_timeout (1 s, the minimum), so a reader queued behind it waits at most
    that too; it backs off, retries, and succeeds once the blocker ends. A shorter
    --lock-timeout is refused: the server cannot honour it."""
    from schemashift.execute.runner import OptionError

    with pytest.raises(OptionError, match="cannot be honoured on MySQL/MariaDB"):
        Runner(mysql_url, Config(dialect="mysql"), RunOptions(lock_timeout_ms=300))
    blocker = mysql_connect(autocommit=False)
    run(blocker, "START TRANSACTION")
    run(blocker, "SELECT COUNT(*) FROM users")  # shared metadata lock until commit
    third_waits: list[float] = []
    stop = threading.Event()

    def third_session() -> None:
        conn = mysql_connect()
        while not stop.is_set():
            start = time.perf_counter()
            rows(conn, "SELECT COUNT(*) FROM users")
            third_waits.append(time.perf_counter() - start)
            time.sleep(0.02)

    reader = threading.Thread(target=third_session)
    reader.start()
    release = threading.Timer(2.5, blocker.rollback)
    release.start()
    out = io.StringIO()
    started = time.perf_counter()
    try:
        result = Runner(mysql_url, Config(dialect="mysql"), RunOptions(
            out=out, lock_timeout_ms=1000, backoff_base_s=0.1, retries=20,
        )).run(rename_plan(), Phase.EXPAND)  # fmt: skip
    finally:
        stop.set()
        reader.join()
        release.join()
    assert result.steps_run == 2
    assert time.perf_counter() - started >= 2.0  # it really had to wait for the blocker
    assert "lock not available (MySQL error 1205), retry 1/20" in out.getvalue()
    assert max(third_waits) < 1.0 + 0.5  # never stalled longer than one lock_wait_timeout


def test_statement_groups() -> None:
    drop = mysql_drop_column_if_exists(TableName(None, "t"), "c")
    locked = ["LOCK TABLES t WRITE", "DROP TRIGGER a", "ALTER TABLE t DROP y", "UNLOCK TABLES"]
    assert mysql_statement_groups(["ALTER TABLE t ADD x int", *drop, *locked, "DO 1"]) == [
        ["ALTER TABLE t ADD x int"],
        list(drop),
        locked,
        ["DO 1"],
    ]


def test_a_step_resumes_after_its_last_committed_group_and_rolls_back_half_done(
    mysql_url: str, users: Any, mysql_connect: Callable[..., Any]
) -> None:
    """No transactional DDL: the first ALTER of a step commits even if the second fails.
    The runner records each group, so the next run does not repeat the first (it would
    fail: duplicate column), and a rollback undoes a step that stopped half way."""
    run(users, "CREATE TABLE other (id int PRIMARY KEY)")
    plan = Plan("m3", "mysql", (Step(
        Phase.EXPAND, "two columns",
        sql=("ALTER TABLE other ADD COLUMN x int NULL", "ALTER TABLE users ADD COLUMN y int NULL"),
        rollback=(*mysql_drop_column_if_exists(TableName(None, "users"), "y"),
                  *mysql_drop_column_if_exists(TableName(None, "other"), "x"))),))  # fmt: skip
    blocker = mysql_connect(autocommit=False)
    run(blocker, "START TRANSACTION")
    run(blocker, "SELECT COUNT(*) FROM users")
    with pytest.raises(Exception, match="Lock wait timeout"):
        runner(mysql_url, retries=0).run(plan, Phase.EXPAND)
    assert [c for c, _ in columns(users, "other")] == ["id", "x"]
    row = runner(mysql_url).status()[0]
    assert (row.status, row.steps_done, row.groups_done) == ("failed", (), {0: 1})
    assert runner(mysql_url).rollback(plan) == 1  # the half-done step is undone
    assert [c for c, _ in columns(users, "other")] == ["id"]
    with pytest.raises(Exception, match="Lock wait timeout"):
        runner(mysql_url, retries=0).run(plan, Phase.EXPAND)
    blocker.rollback()
    assert runner(mysql_url).run(plan, Phase.EXPAND).steps_run == 1  # resumes at group 2
    assert [c for c, _ in columns(users, "other")] == ["id", "x"]
    assert [c for c, _ in columns(users)] == ["id", "name", "y"]


# --------------------------------------------------------------------------- backfill


def backfill_plan() -> Plan:
    return Plan("m2", "mysql", (
        Step(Phase.EXPAND, "add users.copy", sql=("ALTER TABLE users ADD COLUMN copy "
                                                  f"{type_of(USERS, 'name')} NULL",),
             rollback=mysql_drop_column_if_exists(TableName(None, "users"), "copy")),
        Step(Phase.BACKFILL, "fill copy",
             backfill=Backfill("users", "copy = CONCAT(name, '%')", "copy IS NULL")),
        Step(Phase.VERIFY, "copy filled",
             verify=Verify("copy filled", f"SELECT {pk_of(USERS)} FROM users WHERE copy IS NULL")),
    ))  # fmt: skip


def checkpoint(conn: Any, migration: str = "m2", step: int = 1) -> tuple[Any, ...] | None:
    found = rows(conn, "SELECT last_key, rows_done, rows_total_estimate FROM "
                       "schemashift_backfill_progress WHERE migration = %s AND step = %s",
                 migration, step)  # fmt: skip
    return found[0] if found else None


def test_runner_backfills_in_batches(mysql_url: str, users: Any) -> None:
    plan = backfill_plan()
    runner(mysql_url).run(plan, Phase.EXPAND)
    with pytest.raises(GateRefused, match="verify comes after backfill"):
        runner(mysql_url).run(plan, Phase.VERIFY)
    runner(mysql_url, batch_size=7).run(plan, Phase.BACKFILL)
    assert rows(users, "SELECT COUNT(*) FROM users WHERE copy = CONCAT(name, '%')") == [(100,)]
    assert checkpoint(users) == ("100", 100, 100)
    assert runner(mysql_url).run(plan, Phase.VERIFY).steps_run == 1
    assert runner(mysql_url).status()[0].phase == "verify"


def test_backfill_resumes_from_its_checkpoint(mysql_url: str, users: Any) -> None:
    run(users, "ALTER TABLE users ADD COLUMN copy varchar(80) NULL")
    target = parse_url(mysql_url)
    backfill = Backfill("users", "copy = name", "copy IS NULL OR copy <> name")

    def fail_at(n: int) -> Callable[[Any, int], None]:
        def hook(conn: Any, number: int) -> None:
            if number == n:
                raise RuntimeError("killed")

        return hook

    with pytest.raises(RuntimeError, match="killed"):
        run_backfill_mysql(lambda: connect(target), backfill, migration="m1", step=1,
                           batch_size=10, _after_update=fail_at(3))  # fmt: skip
    # Batches 1 and 2 committed with their checkpoint; batch 3 rolled back with it.
    assert rows(users, "SELECT COUNT(*) FROM users WHERE copy IS NOT NULL") == [(20,)]
    assert checkpoint(users, "m1") == ("20", 20, 100)
    result = run_backfill_mysql(lambda: connect(target), backfill, migration="m1", step=1,
                                batch_size=10)  # fmt: skip
    assert (result.resumed_from, result.rows_done, result.batches) == ("20", 80, 8)
    assert (result.last_key, result.total_rows_done) == ("100", 100)
    assert rows(users, "SELECT COUNT(*) FROM users WHERE copy = name") == [(100,)]
    again = run_backfill_mysql(lambda: connect(target), backfill, migration="m1", step=1)
    assert (again.rows_done, again.batches, again.resumed_from) == (0, 0, "100")


def test_backfill_retries_a_row_lock_wait_timeout(
    mysql_url: str, users: Any, mysql_connect: Callable[..., Any]
) -> None:
    run(users, "ALTER TABLE users ADD COLUMN copy varchar(80) NULL")
    blocker = mysql_connect(autocommit=False)
    run(blocker, "START TRANSACTION")
    run(blocker, "SELECT * FROM users WHERE id = 55 FOR UPDATE")
    release = threading.Timer(2.0, blocker.rollback)
    release.start()
    target = parse_url(mysql_url)
    try:
        result = run_backfill_mysql(
            lambda: connect(target), Backfill("users", "copy = name", "copy IS NULL"),
            migration="m1", step=1, batch_size=10, lock_timeout_ms=500, backoff_base_s=0.05,
            max_retries=20,
        )  # fmt: skip
    finally:
        release.join()
    assert result.retries >= 1 and result.rows_done == 100
    assert rows(users, "SELECT COUNT(*) FROM users WHERE copy = name") == [(100,)]


def test_backfill_throttle_and_string_keys(mysql_url: str, mysql_conn: Any) -> None:
    run(mysql_conn, "CREATE TABLE tags (code varchar(20) PRIMARY KEY, n int, m int)")
    run(mysql_conn, f"INSERT INTO tags {numbers(60)} SELECT CONCAT('t', LPAD(n, 3, '0')), n, "
                    "NULL FROM s")  # fmt: skip
    target = parse_url(mysql_url)
    started = time.perf_counter()
    result = run_backfill_mysql(lambda: connect(target), Backfill("tags", "m = n * 2", "m IS NULL"),
                                migration="m1", step=1, batch_size=20, rows_per_second=100)  # fmt: skip
    assert time.perf_counter() - started >= 0.35  # 60 rows at 100/s, the last batch unslept
    assert (result.rows_done, result.batches, result.last_key) == (60, 3, "t060")
    assert rows(mysql_conn, "SELECT COUNT(*) FROM tags WHERE m = n * 2") == [(60,)]


def test_backfill_key_must_be_pageable(mysql_conn: Any) -> None:
    run(mysql_conn, "CREATE TABLE nokey (a int NULL, b int NOT NULL)")
    with pytest.raises(BackfillError, match="has no primary key"):
        resolve_key_mysql(mysql_conn, "nokey")
    with pytest.raises(BackfillError, match="is nullable"):
        resolve_key_mysql(mysql_conn, "nokey", "a")
    with pytest.raises(BackfillError, match="no index leads with key column"):
        resolve_key_mysql(mysql_conn, "nokey", "`b`")
    run(mysql_conn, "CREATE UNIQUE INDEX nokey_b ON nokey (b)")
    assert resolve_key_mysql(mysql_conn, "nokey").column == "b"  # unique NOT NULL column


def test_sqlite_has_its_own_backend() -> None:
    # SQLite used to be refused here; it has a backend now (tests/test_demo.py runs it).
    from schemashift.execute.backends import SQLiteBackend

    assert isinstance(Runner("sqlite:///x.db", Config()).backend, SQLiteBackend)


def test_unreachable_mysql_is_a_database_error() -> None:
    with pytest.raises(DatabaseError, match=r"cannot connect to mysql\+pymysql://u:\*\*\*@"):
        Runner("mysql+pymysql://u:secret@127.0.0.1:1/x", Config()).status()


def test_rollback_refused_once_a_contract_step_ran(mysql_url: str, users: Any) -> None:
    """A contract that stopped half way already dropped what the old app needs: rolling
    back the expand now would throw away the only copy left."""
    plan = Plan("m4", "mysql", (
        Step(Phase.EXPAND, "add copy", sql=("ALTER TABLE users ADD COLUMN copy int NULL",),
             rollback=mysql_drop_column_if_exists(TableName(None, "users"), "copy")),
        Step(Phase.CONTRACT, "drop name", sql=("ALTER TABLE users DROP COLUMN name",)),
        Step(Phase.CONTRACT, "broken", sql=("ALTER TABLE missing DROP COLUMN x",)),
    ))  # fmt: skip
    runner(mysql_url).run(plan, Phase.EXPAND)
    with pytest.raises(Exception, match="missing"):
        runner(mysql_url).run(plan, Phase.CONTRACT)
    with pytest.raises(GateRefused, match="rollback is refused"):
        runner(mysql_url).rollback(plan)
    assert [c for c, _ in columns(users)] == ["id", "copy"]


def test_every_command_plans_for_the_dialect_of_database_url(
    mysql_url: str, users: Any, tmp_path: Any
) -> None:
    """`gate contract --database-url mysql://…` used to plan for PostgreSQL (the project
    default) and refuse forever: "plan changed since expand"."""
    import subprocess
    import sys

    (tmp_path / "0001_rename.sql").write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "SCHEMASHIFT_DATABASE_URL"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "schemashift", *args, "0001_rename.sql",
                               "--database-url", mysql_url], capture_output=True, text=True,
                              cwd=tmp_path, env=env)  # fmt: skip

    for phase in ("expand", "backfill", "verify"):
        assert cli(phase).returncode == 0
    gate = cli("gate", "contract")
    assert gate.returncode == 0, gate.stderr
    assert "contract may run" in gate.stdout
    refused = subprocess.run([sys.executable, "-m", "schemashift", "contract", "0001_rename.sql",
                              "--database-url", mysql_url, "--lock-timeout", "200"],
                             capture_output=True, text=True, cwd=tmp_path, env=env)  # fmt: skip
    assert refused.returncode == 2 and "cannot be honoured on MySQL/MariaDB" in refused.stderr
    assert cli("contract").returncode == 0
