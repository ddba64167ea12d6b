"""The phase runner on real PostgreSQL: order, checksum pin, lock, retries, rollback."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.runner import GateRefused, Runner, RunOptions, VerifyFailed
from schemashift.model import Phase
from schemashift.phases.plan import Plan, Step, Verify
from schemashift.sqltext.names import TableName
from schemashift.strategies.common import pk_of, type_of

pytestmark = pytest.mark.postgres
USERS = TableName(None, "users")


def rename_plan(migration: str = "m1") -> Plan:
    """A hand-written plan (no strategy involved): add a copy column, verify, drop the old."""
    return Plan(migration, "postgres", (
        Step(Phase.EXPAND, "add users.full_name",
             sql=(f"ALTER TABLE users ADD COLUMN full_name {type_of(USERS, 'name')}",),
             rollback=("ALTER TABLE users DROP COLUMN full_name",)),
        Step(Phase.EXPAND, "index users.full_name", concurrent=True,
             sql=("CREATE INDEX CONCURRENTLY IF NOT EXISTS users_full_name_idx ON users (full_name)",),
             rollback=("DROP INDEX CONCURRENTLY IF EXISTS users_full_name_idx",)),
        Step(Phase.VERIFY, "full_name filled",
             verify=Verify("full_name is NULL",
                           f"SELECT {pk_of(USERS)} FROM users WHERE full_name IS NULL")),
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
    assert ("full_name", "character varying") in columns(users)  # type of users.name resolved
    with pytest.raises(GateRefused, match="contract comes after verify; run verify first"):
        runner(postgres_url).run(plan, Phase.CONTRACT)
    with pytest.raises(VerifyFailed, match="first offending keys: 1, 2, 3"):
        runner(postgres_url).run(plan, Phase.VERIFY)  # pk of users resolved to id
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
    with pytest.raises(GateRefused, match=r"contract is done, so rollback is refused: .* fix forward"):
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
    from schemashift.execute.backends import PostgresBackend, run_lock_key
    from schemashift.execute.database import parse_url

    backend = PostgresBackend(parse_url(postgres_url))
    holder = backend.connect()
    assert backend.try_lock(holder, run_lock_key("m1"))
    with pytest.raises(GateRefused, match="another schemashift run of m1 holds its lock"):
        runner(postgres_url).run(rename_plan(), Phase.EXPAND)
    # Another migration is not blocked, and status never waits for a running phase.
    assert runner(postgres_url).run(rename_plan("m2"), Phase.EXPAND).steps_run == 2
    assert [r.migration for r in runner(postgres_url).status()] == ["m2"]
    backend.unlock(holder, run_lock_key("m1"))
    holder.close()
    runner(postgres_url).rollback(rename_plan("m2"))
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


# --------------------------------------------------------------------------- hazards


HAZARD_SQL = (
    "ALTER TABLE users ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED;\n"
    "VACUUM FULL users;\n"
)


def test_plan_marks_statements_no_strategy_makes_safe() -> None:
    from schemashift.phases.planner import plan_sql
    from schemashift.report.plan import render_plan

    plan = plan_sql(HAZARD_SQL, "m9", Config())
    generated, vacuum = plan.steps
    assert "SS203" in generated.hazard and not generated.concurrent
    assert "SS208" in vacuum.hazard and vacuum.concurrent  # VACUUM refuses a transaction block
    text = render_plan(plan)
    assert "REFUSED without --force --reason: SS203" in text
    assert "2 step(s) have no safe strategy" in text
    # On a table the migration creates itself nothing is hazardous.
    fresh = plan_sql("CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN g int GENERATED "
                     "ALWAYS AS (id * 2) STORED;\n", "m10", Config())  # fmt: skip
    assert not any(s.hazard for s in fresh.steps)


def test_expand_refuses_hazards_unless_forced_with_a_reason(
    postgres_url: str, users: Any, tmp_path: Any
) -> None:
    import subprocess
    import sys

    (tmp_path / "0009_hazards.sql").write_text(HAZARD_SQL)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "schemashift", *args, "--database-url",
                               postgres_url], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip

    refused = cli("expand", "0009_hazards.sql")
    assert refused.returncode == 3
    assert "2 step(s) would rewrite or long-lock a live table" in refused.stderr
    assert [c for c, _ in columns(users)] == ["id", "name"]  # nothing ran
    assert cli("expand", "0009_hazards.sql", "--force").returncode == 2  # needs a reason
    forced = cli("expand", "0009_hazards.sql", "--force", "--reason", "maintenance window")
    assert forced.returncode == 0, forced.stderr
    assert [c for c, _ in columns(users)] == ["id", "name", "g"]
    event = users.execute("SELECT forced, reason FROM schemashift.events "
                          "WHERE action = 'hazard_forced'").fetchone()  # fmt: skip
    assert event == (True, "maintenance window")


def test_type_change_warns_about_prepared_statements(tmp_path: Any) -> None:
    import subprocess
    import sys

    (tmp_path / "0010_amount.sql").write_text("ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\n")
    out = subprocess.run([sys.executable, "-m", "schemashift", "plan", "0010_amount.sql"],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0
    assert "warning: after contract the column's type changes under live connections" in out.stdout
    assert "cached plan must not change result type" in out.stdout


def _cli(cwd: Any, url: str, *args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "schemashift", *args, "--database-url", url],
                          capture_output=True, text=True, cwd=cwd)  # fmt: skip


def test_failed_unique_build_names_the_duplicate_and_rollback_removes_it(
    postgres_url: str, users: Any, tmp_path: Any
) -> None:
    users.execute("UPDATE users SET name = 'dup' WHERE id IN (7, 8)")
    (tmp_path / "0011_unique.sql").write_text("ALTER TABLE users ADD UNIQUE (name);\n")
    failed = _cli(tmp_path, postgres_url, "expand", "0011_unique.sql")
    assert failed.returncode == 4
    lines = [line for line in failed.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Key (name)=(dup) is duplicated" in lines[0], failed.stderr
    invalid = "SELECT count(*) FROM pg_index WHERE NOT indisvalid AND indrelid = 'users'::regclass"
    assert users.execute(invalid).fetchone()[0] == 1  # what a failed CONCURRENTLY build leaves
    undone = _cli(tmp_path, postgres_url, "rollback", "0011_unique.sql")
    assert undone.returncode == 0 and "(1 step(s) undone)" in undone.stdout, undone.stderr
    assert users.execute(invalid).fetchone()[0] == 0


def test_rollback_runs_the_plan_pinned_at_expand(
    postgres_url: str, users: Any, tmp_path: Any
) -> None:
    migration = tmp_path / "0012_rename.sql"
    migration.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    assert _cli(tmp_path, postgres_url, "expand", "0012_rename.sql").returncode == 0
    triggers = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
    assert users.execute(triggers).fetchone()[0] == 4  # insert, update, and the SET-list flag pair
    # Edited after expand: later phases refuse it, rollback undoes what really ran.
    migration.write_text("ALTER TABLE users RENAME COLUMN name TO display_name;\n")
    assert _cli(tmp_path, postgres_url, "backfill", "0012_rename.sql").returncode == 3
    undone = _cli(tmp_path, postgres_url, "rollback", "0012_rename.sql")
    assert undone.returncode == 0, undone.stderr
    assert "rolling back the plan pinned at expand" in undone.stderr
    assert users.execute(triggers).fetchone()[0] == 0
    assert [c for c, _ in columns(users)] == ["id", "name"]
    users.execute("INSERT INTO users (id, name) VALUES (1000, 'after')")  # inserts work


def test_rollback_refused_while_the_renamed_column_holds_the_only_copy(
    postgres_url: str, users: Any, tmp_path: Any
) -> None:
    (tmp_path / "0013_rename.sql").write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    for phase in ("expand", "backfill"):
        assert _cli(tmp_path, postgres_url, phase, "0013_rename.sql").returncode == 0
    # Someone drops the old column by hand: the new one now holds the only copy.
    users.execute("DROP TRIGGER schemashift_sync_users_name_full_name_ins ON users")
    users.execute("DROP TRIGGER schemashift_sync_users_name_full_name_upd ON users")
    users.execute("ALTER TABLE users DROP COLUMN name")
    refused = _cli(tmp_path, postgres_url, "rollback", "0013_rename.sql")
    assert refused.returncode == 3
    assert "users.name still exists" in refused.stderr
    assert users.execute("SELECT count(full_name) FROM users").fetchone()[0] == 100


def test_backfill_runs_again_after_verify_found_rows_and_says_so(postgres_url: str,
                                                                 users: Any) -> None:  # fmt: skip
    """Rows written past the sync trigger (a logical-replication apply worker runs with
    session_replication_role = replica, and triggers do not fire) fail verify; the error
    says to run backfill again, and backfill (answered "already done" before) fixes them."""
    from schemashift.phases.planner import plan_sql

    plan = plan_sql("ALTER TABLE users RENAME COLUMN name TO full_name", "m_again",
                    Config(dialect="postgres"))  # fmt: skip
    r = runner(postgres_url)
    for phase in (Phase.EXPAND, Phase.BACKFILL):
        r.run(plan, phase)
    users.execute("SET session_replication_role = replica")
    users.execute("UPDATE users SET name = 'late ' || id WHERE id <= 3")
    users.execute("SET session_replication_role = origin")
    with pytest.raises(VerifyFailed, match="run backfill again") as failed:
        r.run(plan, Phase.VERIFY)
    assert sorted(failed.value.keys)[:3] == [1, 2, 3]
    again = r.run(plan, Phase.BACKFILL)
    assert not again.already_done and again.steps_run >= 1
    r.run(plan, Phase.VERIFY)
    r.run(plan, Phase.CONTRACT)
    names = [row[0] for row in users.execute("SELECT full_name FROM users WHERE id <= 3 "
                                             "ORDER BY id").fetchall()]  # fmt: skip
    assert names == ["late 1", "late 2", "late 3"]
