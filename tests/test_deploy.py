"""The deployment registry and the contract gate (docs/design.md §4) on real PostgreSQL and
MariaDB: record/retire/list, heartbeat TTL, PEP 440 ordering, contract refused while an
older instance is live, --force recorded, `gate contract`, the runtime API, and a
blue-green rollout with two real app processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from schemashift import deploy, runtime
from schemashift.config import Config
from schemashift.execute.runner import GateRefused, Runner, RunOptions
from schemashift.model import Phase

ROOT = Path(__file__).parent.parent


def cli(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCHEMASHIFT_DEBUG", "SCHEMASHIFT_DATABASE_URL")}  # fmt: skip
    if url:
        env["SCHEMASHIFT_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


# -- versions (no database) -------------------------------------------------------------


@pytest.mark.parametrize(("older", "newer"), [
    ("2.9.1", "2.10.0"), ("2.4.0rc1", "2.4.0"), ("1.0", "1.0.1"), ("2.4.0.dev1", "2.4.0a1"),
    ("1.2.3-beta.2", "1.2.3"), ("1.2.3-alpha", "1.2.3-beta"), ("v1.9.0", "v1.10.0"),
])  # fmt: skip
def test_version_ordering(older: str, newer: str) -> None:
    assert deploy.compare_versions(older, newer) == -1
    assert deploy.compare_versions(newer, older) == 1
    assert deploy.is_older(older, newer) and not deploy.is_older(newer, older)


def test_version_equality_and_app_spec() -> None:
    assert deploy.compare_versions("2.4", "2.4.0") == 0
    assert deploy.parse_app_version("api@2.4.0") == ("api", "2.4.0")
    with pytest.raises(deploy.VersionError):
        deploy.parse_app_version("api")
    with pytest.raises(deploy.VersionError):
        deploy.parse_app_version("api@not a version")
    assert deploy.is_older("garbage!", "1.0")  # unknown counts as older: it blocks


# -- the registry on both databases -----------------------------------------------------


@pytest.fixture(params=["postgres", "mysql"])
def db_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(request.getfixturevalue("mysql_url"))


def test_record_retire_list_and_ttl(db_url: str) -> None:
    with deploy.open_state(db_url) as state:
        name = deploy.record(state, "api", "1.0.0", slot="blue", traffic=90)
        assert name.endswith(f"-{os.getpid()}")
        deploy.record(state, "api", "2.0.0", "green-1", slot="green", traffic=10)
        deploy.record(state, "worker", "3.1", "w-1", environment="staging")
        live = deploy.live(state)
        assert {(r.app, r.version, r.instance) for r in live} == {
            ("api", "1.0.0", name),
            ("api", "2.0.0", "green-1"),
            ("worker", "3.1", "w-1"),
        }
        green = next(r for r in live if r.instance == "green-1")
        assert green.slot == "green" and green.traffic == 10 and green.environment == "production"
        first = green.first_seen
        time.sleep(0.05)
        deploy.record(state, "api", "2.0.0", "green-1", slot="green", traffic=10)
        again = next(r for r in deploy.live(state, "api") if r.instance == "green-1")
        assert again.last_seen > green.last_seen and again.first_seen == first
        assert deploy.retire(state, "api", version="1.0.0") == 1
        assert [r.instance for r in deploy.live(state, "api")] == ["green-1"]
        assert deploy.retire(state, "api", instance="green-1") == 1
        assert deploy.live(state, "api") == []
        # A retired instance that reports again is live again.
        deploy.record(state, "api", "2.0.1", "green-1")
        assert [r.version for r in deploy.live(state, "api")] == ["2.0.1"]
        # TTL: silent instances are not live.
        time.sleep(1.2)
        assert deploy.live(state, ttl_seconds=1) == []
        assert len(deploy.live(state, ttl_seconds=60)) == 2  # the 1.0.0 one is retired
    listed = cli("deploy", "list", "--format", "json", url=db_url)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["deployments"]
    assert {r["instance"] for r in rows} == {"green-1", "w-1"}
    recorded = cli("deploy", "record", "--app", "api", "--version", "3.0.0", "--instance",
                   "canary-1", "--slot", "canary", "--traffic", "5", url=db_url)  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    text = cli("deploy", "list", url=db_url).stdout
    assert "canary-1" in text and "3.0.0" in text and "5%" in text
    assert cli("deploy", "retire", "--app", "api", "--instance", "canary-1",
               url=db_url).stdout.startswith("retired 1")  # fmt: skip
    assert "canary-1" not in cli("deploy", "list", url=db_url).stdout
    assert "canary-1" in cli("deploy", "list", "--all", url=db_url).stdout
    assert cli("deploy", "retire", "--app", "api", url=db_url).returncode == 2
    assert cli("deploy", "record", "--app", "api", "--version", "x y", url=db_url).returncode == 2


# -- the contract gate ------------------------------------------------------------------


@pytest.fixture
def migration(tmp_path: Path, pg_conn: Any) -> Path:
    pg_conn.execute("CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY "
                    "PRIMARY KEY, name text NOT NULL)")  # fmt: skip
    pg_conn.execute("INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 200) g")
    path = tmp_path / "0042_rename_user_name.sql"
    path.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    return path


def events(pg_conn: Any, action: str) -> list[tuple[Any, ...]]:
    return list(pg_conn.execute(
        "SELECT detail, forced, reason FROM schemashift.events WHERE action = %s ORDER BY id",
        (action,)).fetchall())  # fmt: skip


def test_contract_gate_via_cli(migration: Path, postgres_url: str, pg_conn: Any) -> None:
    target = str(migration)
    bad = cli("expand", target, "--for-app", "api", url=postgres_url)
    assert bad.returncode == 2 and "APP@VERSION" in bad.stderr
    assert cli("expand", target, "--for-app", "api@2.4.0", url=postgres_url).returncode == 0
    row = pg_conn.execute("SELECT for_app, for_version FROM schemashift.migrations").fetchone()
    assert row == ("api", "2.4.0")
    for instance, version, slot in [("blue-1", "2.4.0rc1", "blue"), ("green-1", "2.4.0", "green"),
                                    ("other-1", "1.0", None)]:  # fmt: skip
        args = ["deploy", "record", "--app", "api" if instance != "other-1" else "billing",
                "--version", version, "--instance", instance]  # fmt: skip
        assert cli(*args, *(["--slot", slot] if slot else []), url=postgres_url).returncode == 0
    assert cli("backfill", target, url=postgres_url).returncode == 0
    # Before verify, the gate says which phase comes next.
    early = cli("gate", "contract", target, url=postgres_url)
    assert early.returncode == 3 and "run verify first" in early.stderr
    assert cli("verify", target, url=postgres_url).returncode == 0
    gate = cli("gate", "contract", target, url=postgres_url)
    assert gate.returncode == 3 and "blue-1" in gate.stderr and "green-1" not in gate.stderr
    refused = cli("contract", target, url=postgres_url)
    assert refused.returncode == 3, refused.stderr
    assert "contract refused" in refused.stderr and "2.4.0rc1" in refused.stderr
    assert "blue-1" in refused.stderr and "slot blue" in refused.stderr
    assert "last seen" in refused.stderr and "other-1" not in refused.stderr
    assert (
        pg_conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE "
            "table_name = 'users' AND column_name = 'name'"
        ).fetchone()[0]
        == 1
    )
    ((detail, forced, _),) = events(pg_conn, "gate_refused")[-1:]
    assert [b["instance"] for b in detail["blockers"]] == ["blue-1"] and not forced
    assert cli("deploy", "retire", "--app", "api", "--version", "2.4.0rc1",
               url=postgres_url).returncode == 0  # fmt: skip
    ok = cli("gate", "contract", target, url=postgres_url)
    assert ok.returncode == 0 and "may run" in ok.stdout
    done = cli("contract", target, url=postgres_url)
    assert done.returncode == 0, done.stderr
    assert events(pg_conn, "gate_allowed")
    assert cli("gate", "contract", target, url=postgres_url).returncode == 0


def test_contract_force_is_recorded(migration: Path, postgres_url: str, pg_conn: Any) -> None:
    target = str(migration)
    for phase in ("expand", "backfill", "verify"):
        extra = ["--for-app", "api@2.0.0"] if phase == "expand" else []
        assert cli(phase, target, *extra, url=postgres_url).returncode == 0
    with deploy.open_state(postgres_url) as state:
        deploy.record(state, "api", "1.9.9", "old-1", slot="blue")
    assert cli("contract", target, "--force", url=postgres_url).returncode == 2
    forced = cli("contract", target, "--force", "--reason", "old-1 is a zombie",
                 url=postgres_url)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    ((detail, was_forced, reason),) = events(pg_conn, "gate_forced")
    assert was_forced and reason == "old-1 is a zombie"
    assert detail["blockers"][0]["instance"] == "old-1" and detail["for_version"] == "2.0.0"


def test_gate_on_mysql_through_the_runner(mysql_url: str, mysql_conn: Any) -> None:
    from tests.test_runner_mysql import rename_plan, run

    run(mysql_conn, "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(80) NOT NULL)")
    run(mysql_conn, "INSERT INTO users VALUES (1, 'a'), (2, 'b')")
    plan = rename_plan()

    def runner(**opts: Any) -> Runner:
        return Runner(mysql_url, Config(dialect="mysql", heartbeat_ttl=60),
                      RunOptions(quiet=True, **opts))  # fmt: skip

    runner(for_app="api", for_version="2.10.0").run(plan, Phase.EXPAND)
    run(mysql_conn, "UPDATE users SET full_name = name")
    runner().run(plan, Phase.VERIFY)
    with deploy.open_state(mysql_url) as state:
        deploy.record(state, "api", "2.9.1", "blue-1")
        deploy.record(state, "api", "2.10.0", "green-1")
    with pytest.raises(GateRefused, match="blue-1"):
        runner().run(plan, Phase.CONTRACT)
    assert [b.instance for b in runner().gate_contract(plan)] == ["blue-1"]
    with deploy.open_state(mysql_url) as state:
        deploy.retire(state, "api", instance="blue-1")
    assert runner().gate_contract(plan) == []
    assert runner().run(plan, Phase.CONTRACT).steps_run == 1
    with pytest.raises(runtime.SchemaTooNew, match=r"2\.10\.0"):
        runtime.check(mysql_url, "api", "2.9.1")
    assert runtime.check(mysql_url, "api", "2.10.0")["contracted"] == ["m1"]


# -- the runtime API ----------------------------------------------------------------------


def test_runtime_check_after_contract(migration: Path, postgres_url: str) -> None:
    from sqlalchemy import create_engine

    target = str(migration)
    # The runtime never creates the state tables: it says what does.
    with pytest.raises(runtime.StateMissing, match=r"schemashift deploy record"):
        runtime.check(postgres_url, "api", "1.0.0")
    with deploy.open_state(postgres_url):  # what the command line does first
        pass
    assert runtime.check(postgres_url, "api", "1.0.0")["ok"]
    assert cli("expand", target, "--for-app", "api@2.0.0", url=postgres_url).returncode == 0
    summary = runtime.check(postgres_url, "api", "1.0.0")
    assert summary["pending"] == ["0042_rename_user_name"]  # still fine before contract
    for phase in ("backfill", "verify", "contract"):
        assert cli(phase, target, url=postgres_url).returncode == 0
    engine = create_engine(postgres_url)
    try:
        with pytest.raises(runtime.SchemaTooNew, match=r"api 1\.9\.0 cannot run.*2\.0\.0"):
            runtime.check(engine, "api", "1.9.0")
        assert runtime.check(engine, "api", "2.0.0")["contracted"] == ["0042_rename_user_name"]
        assert runtime.check(engine, "api", "2.1.0")["ok"]
        assert runtime.check(engine, "billing", "0.1")["contracted"] == []
    finally:
        engine.dispose()


def test_runtime_report_heartbeat(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    with deploy.open_state(postgres_url):  # created by the command line, not the app
        pass
    engine = create_engine(postgres_url)
    handle = runtime.report(engine, "api", "2.0.0", "hb-1", interval=0.2, slot="green")
    try:
        with deploy.open_state(postgres_url) as state:
            (first,) = deploy.live(state, "api")
            assert first.instance == "hb-1" and first.slot == "green"
            deadline = time.monotonic() + 10
            while handle.beats < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            (later,) = deploy.live(state, "api")
            assert later.last_seen > first.last_seen and handle.running
    finally:
        handle.stop()
        engine.dispose()
    assert not handle.running and handle.errors == 0
    beats = handle.beats
    time.sleep(0.5)
    assert handle.beats == beats
    handle.stop(retire=True)  # idempotent; retires too
    with deploy.open_state(postgres_url) as state:
        assert deploy.live(state, "api") == []


def test_runtime_gives_up_behind_a_lock(postgres_url: str, pg_connect: Any) -> None:
    """A lock held on the state tables (a DBA, a stuck run) makes the runtime fail within
    its timeouts, with a clear error, instead of blocking the app's start-up."""
    with deploy.open_state(postgres_url):
        pass
    holder = pg_connect(autocommit=False)
    holder.execute("LOCK TABLE schemashift.migrations IN ACCESS EXCLUSIVE MODE")
    try:
        for call in (lambda: runtime.check(postgres_url, "api", "1.0.0"),  # 2 s by default
                     lambda: runtime.ready(postgres_url, "0042", lock_timeout=0.3)):  # fmt: skip
            began = time.monotonic()
            with pytest.raises(runtime.StateError, match=r"state tables .* are locked"):
                call()
            assert time.monotonic() - began < 4
    finally:
        holder.rollback()
    assert runtime.check(postgres_url, "api", "1.0.0")["ok"]


def test_runtime_gives_up_behind_a_lock_on_mariadb(mysql_url: str, mysql_connect: Any) -> None:
    with deploy.open_state(mysql_url):
        pass
    holder = mysql_connect()
    with holder.cursor() as cur:
        cur.execute("LOCK TABLES schemashift_migrations WRITE")
    try:
        began = time.monotonic()
        with pytest.raises(runtime.StateError, match=r"state tables .* are locked"):
            runtime.check(mysql_url, "api", "1.0.0", lock_timeout=1)
        assert time.monotonic() - began < 4
    finally:
        with holder.cursor() as cur:
            cur.execute("UNLOCK TABLES")
    assert runtime.check(mysql_url, "api", "1.0.0")["ok"]


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_runtime_session_timeouts(dialect: str, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("postgres_url" if dialect == "postgres" else "mysql_url"))
    with deploy.open_state(url):
        pass
    with deploy.open_state(url, create=False, lock_timeout=1.5, statement_timeout=4) as state:
        if dialect == "postgres":
            got = [state.conn.execute(f"SHOW {n}").fetchone()[0]
                   for n in ("lock_timeout", "statement_timeout")]  # fmt: skip
            assert got == ["1500ms", "4s"]
        else:
            with state.conn.cursor() as cur:
                cur.execute("SELECT @@session.lock_wait_timeout, "
                            "@@session.innodb_lock_wait_timeout, @@session.max_statement_time")  # fmt: skip
                assert [float(v) for v in cur.fetchone()] == [2, 2, 4]  # whole seconds, up


_EXITING_APP = """
import sys, time
from schemashift import runtime
url, blocked = sys.argv[1], sys.argv[2] == "blocked"
# Blocked: a beat every 0.2 s that would wait up to 30 s for its lock.
runtime.report(url, "api", "1.0.0", "exit-1", interval=0.2 if blocked else 30,
               lock_timeout=30, statement_timeout=60)
print("reported", flush=True)
sys.stdin.readline()  # the parent holds its lock now
time.sleep(0.6 if blocked else 0)  # a beat is in flight, stuck behind the lock
print("exiting", time.time(), flush=True)
"""


@pytest.mark.parametrize("blocked", [False, True])
def test_exit_never_waits_for_the_heartbeat(postgres_url: str, pg_connect: Any,
                                            blocked: bool) -> None:  # fmt: skip
    """report(interval=30) then exit: the process ends at once, even with a beat stuck
    behind a lock (a Kubernetes grace period is not spent waiting for the heartbeat)."""
    with deploy.open_state(postgres_url):
        pass
    proc = subprocess.Popen([sys.executable, "-c", _EXITING_APP, postgres_url,
                             "blocked" if blocked else "free"], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    holder = pg_connect(autocommit=False)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "reported", proc.stderr and proc.stderr.read()
        holder.execute("LOCK TABLE schemashift.deployments IN ACCESS EXCLUSIVE MODE")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline().split()
        assert line[:1] == ["exiting"], line
        proc.wait(timeout=30)
        assert time.time() - float(line[1]) < 2
        assert proc.returncode == 0, proc.stderr and proc.stderr.read()
    finally:
        holder.rollback()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# -- blue-green, end to end -------------------------------------------------------------


def spawn_app(url: str, version: str, slot: str | None, seconds: float,
              instance: str | None = None, traffic: float | None = None,
              interval: float = 0.5) -> subprocess.Popen[str]:  # fmt: skip
    """Start examples/app/app.py without waiting for it (see ``started``). The state
    tables are created first, as a pipeline's first schemashift command would: the app's
    runtime calls never create them."""
    with deploy.open_state(url):
        pass
    args = [sys.executable, str(ROOT / "examples" / "app" / "app.py"), "--database-url", url,
            "--version", version, "--instance", instance or f"{slot}-1",
            "--seconds", str(seconds), "--interval", str(interval)]  # fmt: skip
    if slot:
        args += ["--slot", slot]
    if traffic is not None:
        args += ["--traffic", str(traffic)]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def started(proc: subprocess.Popen[str], version: str) -> subprocess.Popen[str]:
    """Wait for the app's first line (it has checked the schema and reported itself)."""
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert json.loads(first) == {"started": version}, (first, proc.stderr and proc.stderr.read())
    return proc


def start_app(url: str, version: str, slot: str | None, seconds: float,
              instance: str | None = None, traffic: float | None = None,
              interval: float = 0.5) -> subprocess.Popen[str]:  # fmt: skip
    return started(spawn_app(url, version, slot, seconds, instance, traffic, interval), version)


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def run_blue_green(url: str, target: str, run_cli: Any, columns: Any, stored: Any,
                   seeded: int) -> None:  # fmt: skip
    """Blue (1.4.0) and green (2.0.0) both run and write through the whole window; traffic
    goes blue -> green -> blue -> green; contract is refused while blue is live (even with
    green at 100%), then runs once blue is drained and retired."""

    def ok(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, url=url)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def switch(to: str) -> None:
        for instance, version, slot in (("blue-1", "1.4.0", "blue"),
                                        ("green-1", "2.0.0", "green")):  # fmt: skip
            ok("deploy", "record", "--app", "api", "--version", version, "--instance",
               instance, "--slot", slot, "--traffic", "100" if slot == to else "0")  # fmt: skip
        rows = json.loads(ok("deploy", "list", "--format", "json").stdout)["deployments"]
        traffic = {r["instance"]: (r["slot"], r["traffic"]) for r in rows}
        assert traffic == {"blue-1": ("blue", 100 if to == "blue" else 0),
                           "green-1": ("green", 100 if to == "green" else 0)}, rows  # fmt: skip

    def refused() -> None:
        contract = run_cli("contract", target, url=url)
        assert contract.returncode == 3 and "blue-1" in contract.stderr, contract.stderr
        assert "green-1" not in contract.stderr
        assert run_cli("gate", "contract", target, url=url).returncode == 3
        assert columns() == ["id", "name", "full_name"]  # nothing was dropped

    # The apps' heartbeats re-record their own slot/traffic (None) every --interval; a long
    # interval keeps them from overwriting the traffic the pipeline records below (within
    # the 120 s TTL, so both stay live).
    blue = start_app(url, "1.4.0", "blue", 60, interval=60)
    green: subprocess.Popen[str] | None = None
    try:
        ok("expand", target, "--for-app", "api@2.0.0")
        green = start_app(url, "2.0.0", "green", 60, interval=60)
        switch("blue")
        time.sleep(1.0)  # both versions serve traffic on the expanded schema
        ok("backfill", target)
        ok("verify", target)
        refused()
        switch("green")
        refused()  # green has all the traffic, but blue is still live (warm)
        time.sleep(0.5)
        switch("blue")  # back to blue
        time.sleep(0.5)
        switch("green")  # forth to green again
        refused()
        assert blue.poll() is None and green.poll() is None  # both kept running
        # Blue drains: the process stops, the pipeline retires it.
        blue.terminate()
        blue_counts = finish(blue)
        ok("deploy", "retire", "--app", "api", "--instance", "blue-1")
        ok("gate", "contract", target)
        ok("contract", target)
        time.sleep(1.0)  # green goes on after the contract
        green.terminate()
        green_counts = finish(green)
    finally:
        for proc in (blue, green):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    for counts in (blue_counts, green_counts):
        assert counts["failed"] == 0, counts["errors"]
        assert counts["ok"] > 10
    assert columns() == ["id", "full_name"]
    rows = stored()
    expected = {int(k): v for c in (blue_counts, green_counts) for k, v in c["written"].items()}
    assert len(rows) == seeded + len(expected)  # no row lost
    assert all(rows[i] == v for i, v in expected.items())
    assert all(v is not None for v in rows.values())
    with pytest.raises(runtime.SchemaTooNew):
        runtime.check(url, "api", "1.4.0")
    runtime.check(url, "api", "2.0.0")


def pg_columns(pg_conn: Any) -> list[str]:
    return [r[0] for r in pg_conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' "
        "ORDER BY ordinal_position").fetchall()]  # fmt: skip


@pytest.mark.slow
def test_blue_green_rollout(migration: Path, postgres_url: str, pg_conn: Any) -> None:
    run_blue_green(postgres_url, str(migration), cli, lambda: pg_columns(pg_conn),
                   lambda: dict(pg_conn.execute("SELECT id, full_name FROM users").fetchall()),
                   200)  # fmt: skip


# -- runtime.ready -----------------------------------------------------------------------


def test_runtime_ready_follows_the_phases(migration: Path, postgres_url: str) -> None:
    from sqlalchemy import create_engine

    target = str(migration)
    name = "0042_rename_user_name"
    with pytest.raises(runtime.StateMissing):  # no schemashift command ran yet
        runtime.ready(postgres_url, name)
    assert cli("expand", target, "--for-app", "api@2.0.0", url=postgres_url).returncode == 0
    assert not runtime.ready(postgres_url, name)
    assert cli("backfill", target, url=postgres_url).returncode == 0
    assert not runtime.ready(postgres_url, name)  # backfilled, not verified
    assert cli("verify", target, url=postgres_url).returncode == 0
    engine = create_engine(postgres_url)
    try:
        assert runtime.ready(engine, name)
        assert runtime.ready(engine, target)  # the file's path works too
        assert not runtime.ready(engine, "0043_something_else")
    finally:
        engine.dispose()
    assert cli("contract", target, url=postgres_url).returncode == 0
    assert runtime.ready(postgres_url, name)


def test_runtime_ready_false_after_rollback(migration: Path, postgres_url: str) -> None:
    target = str(migration)
    for phase in ("expand", "backfill", "verify"):
        assert cli(phase, target, url=postgres_url).returncode == 0
    assert runtime.ready(postgres_url, "0042_rename_user_name")
    rolled = cli("rollback", target, url=postgres_url)
    assert rolled.returncode == 0, rolled.stderr
    assert not runtime.ready(postgres_url, "0042_rename_user_name")


def test_runtime_ready_on_mysql(mysql_url: str, mysql_conn: Any) -> None:
    from tests.test_runner_mysql import rename_plan, run

    run(mysql_conn, "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(80) NOT NULL)")
    run(mysql_conn, "INSERT INTO users VALUES (1, 'a')")
    plan = rename_plan()
    runner = Runner(mysql_url, Config(dialect="mysql"), RunOptions(quiet=True))
    runner.run(plan, Phase.EXPAND)
    assert not runtime.ready(mysql_url, plan.migration)
    run(mysql_conn, "UPDATE users SET full_name = name")
    Runner(mysql_url, Config(dialect="mysql"), RunOptions(quiet=True)).run(plan, Phase.VERIFY)
    assert runtime.ready(mysql_url, plan.migration)


# -- status: the compatibility matrix -----------------------------------------------------


def test_status_compatibility_matrix(migration: Path, postgres_url: str) -> None:
    from schemashift.deploy import compatible

    assert compatible("verify", "api", "1.4.0", "api", "2.0.0") is True
    assert compatible("contract", "api", "1.4.0", "api", "2.0.0") is False
    assert compatible("contract", "api", "2.0.0", "api", "2.0.0") is True
    assert compatible("contract", "api", "1.4.0", None, None) is None
    target = str(migration)
    empty = json.loads(cli("status", "--format", "json", url=postgres_url).stdout)
    assert empty == {"version": 1, "migrations": [], "live": []}
    assert cli("expand", target, "--for-app", "api@2.0.0", url=postgres_url).returncode == 0
    for instance, version in [("blue-1", "1.4.0"), ("green-1", "2.0.0")]:
        recorded = cli("deploy", "record", "--app", "api", "--version", version, "--instance",
                       instance, url=postgres_url)  # fmt: skip
        assert recorded.returncode == 0, recorded.stderr
    status = json.loads(cli("status", "--format", "json", url=postgres_url).stdout)
    assert {r["instance"] for r in status["live"]} == {"blue-1", "green-1"}
    (m,) = status["migrations"]
    assert m["phase"] == "expand" and m["next_phase"] == "backfill"
    matrix = {c["instance"]: (c["app"], c["version"], c["current"], c["next"])
              for c in m["compatibility"]}  # fmt: skip
    assert matrix == {"blue-1": ("api", "1.4.0", True, True),
                      "green-1": ("api", "2.0.0", True, True)}  # fmt: skip
    for phase in ("backfill", "verify"):
        assert cli(phase, target, url=postgres_url).returncode == 0
    status = json.loads(cli("status", "--format", "json", url=postgres_url).stdout)
    (m,) = status["migrations"]
    assert m["next_phase"] == "contract"
    matrix = {c["instance"]: (c["current"], c["next"]) for c in m["compatibility"]}
    assert matrix == {"blue-1": (True, False), "green-1": (True, True)}
    text = cli("status", url=postgres_url).stdout
    assert "live versions:" in text and "api 1.4.0 instance blue-1" in text
    assert "compatibility of 0042_rename_user_name (for api >= 2.0.0)" in text
    assert "current (verify)" in text and "next (contract)" in text
    blue_line = next(line for line in text.splitlines() if "blue-1" in line and "yes" in line)
    assert blue_line.split()[-2:] == ["yes", "NO"]
    # Contracted: no longer in flight, no matrix; the live versions are still listed.
    assert cli("deploy", "retire", "--app", "api", "--instance", "blue-1",
               url=postgres_url).returncode == 0  # fmt: skip
    assert cli("contract", target, url=postgres_url).returncode == 0
    status = json.loads(cli("status", "--format", "json", url=postgres_url).stdout)
    assert "compatibility" not in status["migrations"][0]
    assert [r["instance"] for r in status["live"]] == ["green-1"]


def test_status_compatibility_unknown_without_for_app(migration: Path, postgres_url: str) -> None:
    target = str(migration)
    assert cli("expand", target, url=postgres_url).returncode == 0
    assert cli("deploy", "record", "--app", "api", "--version", "1.0", "--instance", "a-1",
               url=postgres_url).returncode == 0  # fmt: skip
    status = json.loads(cli("status", "--format", "json", url=postgres_url).stdout)
    ((entry,),) = [m["compatibility"] for m in status["migrations"]]
    assert entry["instance"] == "a-1" and entry["current"] is None and entry["next"] is None
    text = cli("status", url=postgres_url).stdout
    assert "no --for-app: compatibility unknown" in text and "unknown" in text.splitlines()[-1]


def test_heartbeat_keeps_the_recorded_traffic(postgres_url: str) -> None:
    """The pipeline records slot and traffic; the app's heartbeat (which knows neither)
    only refreshes last_seen."""
    from schemashift.deploy import open_state
    from schemashift.deploy import record as record_instance

    with open_state(postgres_url) as state:
        record_instance(state, "api", "2.0.0", instance="green-1", slot="green", traffic=100)
        record_instance(state, "api", "2.0.0", instance="green-1")  # a heartbeat
        row = next(r for r in state.deployments("api") if r.instance == "green-1")
    assert (row.slot, float(row.traffic or 0)) == ("green", 100.0)
