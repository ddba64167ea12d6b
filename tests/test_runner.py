"""The phase runner on real PostgreSQL: order, checksum pin, lock, retries, rollback."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.runner import GateRefused, Runner, RunOptions, VerifyFailed
from schemashift.model import Phase
from schemashift.phases.model import Plan, Step, Verify

pytestmark = pytest.mark.postgres


def rename_plan(migration: str = "m1") -> Plan:
    """A hand-written plan (no strategy involved): add a copy column, verify, drop the old."""
    return Plan(migration, "postgres", (
        Step(Phase.EXPAND, "add users.full_name",
             sql=("ALTER TABLE users ADD COLUMN full_name {type:users.name}",),
             rollback=("ALTER TABLE users DROP COLUMN full_name",)),
        Step(Phase.EXPAND, "index users.full_name", concurrent=True,
             sql=("CREATE INDEX CONCURRENTLY IF NOT EXISTS users_full_name_idx ON users (full_name)",),
             rollback=("DROP INDEX CONCURRENTLY IF EXISTS users_full_name_idx",)),
        Step(Phase.VERIFY, "full_name filled",
             verify=Verify("full_name is NULL", "SELECT {pk:users} FROM users WHERE full_name IS NULL")),
        Step(Phase.CONTRACT, "drop users.name", sql=("ALTER TABLE users DROP COLUMN name",)),
    ))  # fmt: skip


def runner(url: str, **opts: Any) -> Runner:
    return Runner(url, Config(), RunOptions(quiet=True, **opts))


@pytest.fixture
def users(pg_conn: Any) -> Any:
    pg_conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, name varchar(80) NOT NULL)")
    pg_conn.execute("INSERT INTO users SELECT g, 'n' || g FROM generate_series(1, 100) g")
    return pg_conn


def columns(conn: Any) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'users' ORDER BY ordinal_position"
    ).fetchall()


def test_phases_in_order_with_placeholders_and_state(postgres_url: str, users: Any) -> None:
    plan = rename_plan()
    with pytest.raises(GateRefused, match="run expand first"):
        runner(postgres_url).run(plan, Phase.VERIFY)
    result = runner(postgres_url).run(plan, Phase.EXPAND)
    assert result.steps_run == 2
    assert ("full_name", "character varying") in columns(users)  # {type:users.name} resolved
    with pytest.raises(GateRefused, match="contract comes after verify; run verify first"):
        runner(postgres_url).run(plan, Phase.CONTRACT)
    with pytest.raises(VerifyFailed, match="first offending keys: 1, 2, 3"):
        runner(postgres_url).run(plan, Phase.VERIFY)  # {pk:users} resolved to id
    users.execute("UPDATE users SET full_name = name")
    assert runner(postgres_url).run(plan, Phase.VERIFY).steps_run == 1
    assert runner(postgres_url).run(plan, Phase.VERIFY).already_done
    runner(postgres_url).run(plan, Phase.CONTRACT)
    assert [c for c, _ in columns(users)] == ["id", "full_name"]
    rows = runner(postgres_url).status()
    assert [(r.migration, r.phase, r.status) for r in rows] == [("m1", "contract", "done")]
    events = users.execute(
        "SELECT phase, action FROM schemashift.events WHERE migration = 'm1' ORDER BY id"
    ).fetchall()
    assert ("verify", "phase_failed") in events and ("contract", "phase_done") in events
    with pytest.raises(GateRefused, match="fix forward"):
        runner(postgres_url).rollback(plan)


def test_rollback_undoes_the_expand_and_expand_runs_again(postgres_url: str, users: Any) -> None:
    plan = rename_plan()
    runner(postgres_url).run(plan, Phase.EXPAND)
    assert runner(postgres_url).rollback(plan) == 2
    assert [c for c, _ in columns(users)] == ["id", "name"]
    assert users.execute("SELECT to_regclass('users_full_name_idx')").fetchone()[0] is None
    assert users.execute("SELECT count(*) FROM users").fetchone()[0] == 100
    assert runner(postgres_url).run(plan, Phase.EXPAND).steps_run == 2  # again, from scratch


def test_checksum_pinned_at_expand(postgres_url: str, users: Any) -> None:
    runner(postgres_url).run(rename_plan(), Phase.EXPAND)
    changed = rename_plan()
    changed = Plan(changed.migration, changed.dialect,
                   (*changed.steps[:3], Step(Phase.CONTRACT, "other", sql=("SELECT 1",))))  # fmt: skip
    users.execute("UPDATE users SET full_name = name")
    with pytest.raises(GateRefused, match="plan changed since expand"):
        runner(postgres_url).run(changed, Phase.VERIFY)


def test_two_runs_cannot_interleave(postgres_url: str, users: Any, pg_connect: Any) -> None:
    holder = pg_connect()
    holder.execute("SELECT pg_advisory_lock(hashtext('schemashift:run'))")
    with pytest.raises(GateRefused, match="another schemashift run holds the lock"):
        runner(postgres_url).run(rename_plan(), Phase.EXPAND)
    holder.execute("SELECT pg_advisory_unlock(hashtext('schemashift:run'))")
    assert runner(postgres_url).run(rename_plan(), Phase.EXPAND).steps_run == 2


def test_ddl_never_makes_others_wait_longer_than_lock_timeout(
    postgres_url: str, users: Any, pg_connect: Any
) -> None:
    """A long transaction holds a conflicting lock; our ALTER waits at most lock_timeout
    (so a third session queued behind it waits at most that too), backs off, retries, and
    succeeds once the blocker ends."""
    blocker = pg_connect(autocommit=False)
    blocker.execute("SELECT count(*) FROM users")  # ACCESS SHARE until commit
    third_waits: list[float] = []
    stop = threading.Event()

    def third_session() -> None:
        conn = pg_connect()
        while not stop.is_set():
            start = time.perf_counter()
            conn.execute("SELECT count(*) FROM users")
            third_waits.append(time.perf_counter() - start)
            time.sleep(0.02)

    reader = threading.Thread(target=third_session)
    reader.start()
    release = threading.Timer(2.5, blocker.rollback)
    release.start()
    started = time.perf_counter()
    try:
        result = runner(postgres_url, lock_timeout_ms=200, backoff_base_s=0.1, retries=20).run(
            rename_plan(), Phase.EXPAND
        )
    finally:
        stop.set()
        reader.join()
        release.join()
    assert result.steps_run == 2
    assert time.perf_counter() - started >= 2.0  # it really had to wait for the blocker
    # Without lock_timeout the reader would queue behind our ACCESS EXCLUSIVE request until
    # the blocker ends (2.5 s); with it, a wait is bounded by the 0.2 s timeout (plus slack
    # for a loaded CI machine).
    assert max(third_waits) < 1.5


def test_invalid_index_from_a_failed_build_is_rebuilt(postgres_url: str, users: Any) -> None:
    users.execute("INSERT INTO users VALUES (101, 'dup'), (102, 'dup')")
    with pytest.raises(Exception, match="could not create unique index"):
        users.execute("CREATE UNIQUE INDEX CONCURRENTLY users_name_key ON users (name)")
    invalid = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'users_name_key'::regclass"
    assert users.execute(invalid).fetchone()[0] is True
    users.execute("DELETE FROM users WHERE id = 102")
    plan = Plan("m2", "postgres", (Step(Phase.EXPAND, "unique name", concurrent=True, sql=(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_name_key ON users (name)",)),))  # fmt: skip
    runner(postgres_url).run(plan, Phase.EXPAND)
    assert users.execute(invalid).fetchone()[0] is False


def test_unreachable_database_is_a_database_error() -> None:
    from schemashift.execute.database import DatabaseError

    with pytest.raises(
        DatabaseError, match=r"cannot connect to postgresql://u:\*\*\*@127.0.0.1:1/x"
    ):
        Runner("postgresql://u:secret@127.0.0.1:1/x", Config()).status()
