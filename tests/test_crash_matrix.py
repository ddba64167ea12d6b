"""The crash matrix: SIGKILL in every phase of every strategy, on PostgreSQL and MariaDB,
while an old and a new app version write; then the documented recovery; then nothing lost.

For each (server, strategy, phase):

- a reference trial runs the whole migration uninterrupted (in child processes, as the CLI
  does), records every instant the runner calls its fault hook (after a step's or a
  statement group's statements, before and after its record) and how long the phase took,
  and snapshots the final catalog;
- one trial per hook instant kills the child exactly there (the window between a step's DDL
  and its record, among others);
- ``SCHEMASHIFT_CRASH_KILLS`` trials (default 20) kill it at a random time within the phase
  (``SCHEMASHIFT_CRASH_REPORT=file`` appends each case's counts to ``file``);
- after each kill: the documented recovery. In contract, run contract again (rollback must
  be refused once contract started). Elsewhere, alternately run the phase again, or roll
  back (the catalog must be exactly as before the migration, every value intact) and start
  over from expand. Then the remaining phases;
- the final catalog must equal the reference's (no definition drift: NOT NULL, defaults,
  types, indexes, no leftover triggers or functions) and every value must be what the app
  writers committed (0 values lost).

The writers (a thread, autocommit connections) play the app versions the phase allows: the
old version until contract, the new one from backfill on (expand has not made its columns
yet), only the new one during contract. Each write is recorded only once committed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute import runner as runner_module
from schemashift.execute.runner import GateRefused, Runner, RunOptions
from schemashift.model import Phase
from schemashift.phases.plan import PHASE_ORDER, Plan
from schemashift.phases.planner import plan_sql

KILLS = int(os.environ.get("SCHEMASHIFT_CRASH_KILLS", "20"))
ROWS = 300
BATCH = 20  # many small backfill batches: many windows to die in
FIRST_NEW_ID = 1_000_000

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    dialect: str
    setup: list[str]
    migration: str
    # The payload column as the old and the new app version name it.
    old_col: str
    new_col: str
    # Which app versions may write in which phase.
    old_phases: frozenset[Phase]
    new_phases: frozenset[Phase]
    # The old app inserts rows (False where its inserts would break verify by design).
    old_inserts: bool = True
    # SQL the new app adds to its inserts (a column only it knows, with its value).
    new_insert_extra: tuple[str, str] | None = None
    value: Callable[[int], str] = str  # the payload written for write number n
    final_value: Callable[[Any], Any] = str  # a payload as read after contract
    # A check of the final table beyond the payload (e.g. no NULL in a new NOT NULL column).
    final_check: str | None = None


E, B, V, C = Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT
BEFORE_CONTRACT = frozenset({E, B, V})
AFTER_EXPAND = frozenset({B, V, C})


def _seed(dialect: str, columns: str, values: str) -> list[str]:
    numbers = (
        f"SELECT g, {values} FROM generate_series(1, {ROWS}) g" if dialect == "postgres" else
        f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {ROWS}) "
        f"SELECT g, {values} FROM s"
    )  # fmt: skip
    return [f"INSERT INTO users ({columns}) {numbers}"]


def _pg(cols: str) -> str:
    return f"CREATE TABLE users ({cols})"


def _my(cols: str) -> str:
    return f"CREATE TABLE users ({cols}) ENGINE=InnoDB"


def _concat(dialect: str, a: str, b: str) -> str:
    return f"{a} || {b}" if dialect == "postgres" else f"CONCAT({a}, {b})"


def scenarios() -> list[Scenario]:
    out = []
    for dialect in ("postgres", "mysql"):
        create = _pg if dialect == "postgres" else _my
        text = "text" if dialect == "postgres" else "varchar(40)"
        s = _concat(dialect, "'n'", "g")
        out.append(Scenario(
            "rename_column", dialect,
            [create(f"id int PRIMARY KEY, name {text} NOT NULL DEFAULT 'anon', other int"),
             *_seed(dialect, "id, name", s)],
            "ALTER TABLE users RENAME COLUMN name TO full_name;",
            "name", "full_name", BEFORE_CONTRACT, AFTER_EXPAND,
            value=lambda n: f"w{n}",
        ))  # fmt: skip
        cast = "g::text" if dialect == "postgres" else "CAST(g AS CHAR)"
        change = ("ALTER TABLE users ALTER COLUMN v TYPE integer USING v::integer;"
                  if dialect == "postgres" else
                  "ALTER TABLE users MODIFY COLUMN v int NOT NULL DEFAULT 0;")  # fmt: skip
        out.append(Scenario(
            "change_column_type", dialect,
            [create(f"id int PRIMARY KEY, v {text} NOT NULL DEFAULT '0', other int"),
             *_seed(dialect, "id, v", cast)],
            change, "v", "v", BEFORE_CONTRACT | {C}, AFTER_EXPAND,
            value=lambda n: str(n), final_value=int,
        ))  # fmt: skip
        if dialect == "postgres":
            add = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();"
            extra = ("token", "gen_random_uuid()")
            check = "SELECT count(*) FROM users WHERE token IS NULL"
            old_inserts = True
        else:
            add = ("ALTER TABLE users ADD COLUMN status varchar(20) NOT NULL;\n"
                   "UPDATE users SET status = 'active' WHERE status IS NULL;")  # fmt: skip
            extra = ("status", "'active'")
            check = "SELECT count(*) FROM users WHERE status IS NULL"
            # Its inserts after the UPDATE would leave NULLs: by design only the new
            # version (which writes the column) inserts once it ships.
            old_inserts = False
        out.append(Scenario(
            "add_not_null_column", dialect,
            [create(f"id int PRIMARY KEY, name {text}, other int"),
             *_seed(dialect, "id, name", s)],
            add, "name", "name", BEFORE_CONTRACT, AFTER_EXPAND, old_inserts=old_inserts,
            new_insert_extra=extra, value=lambda n: f"w{n}", final_check=check,
        ))  # fmt: skip
        out.append(Scenario(
            "drop_column", dialect,
            [create(f"id int PRIMARY KEY, name {text}, legacy int NOT NULL, other int"),
             *_seed(dialect, "id, name, legacy", f"{s}, g")],
            "ALTER TABLE users DROP COLUMN legacy;",
            "name", "name", BEFORE_CONTRACT, frozenset({C}),
            value=lambda n: f"w{n}",
        ))  # fmt: skip
    return out


SCENARIOS = scenarios()


# --------------------------------------------------------------------------- database access


class Db:
    """Autocommit connections of the test (admin and app writers)."""

    def __init__(self, dialect: str, connect: Callable[..., Any]) -> None:
        self.dialect = dialect
        self._connect = connect

    def conn(self) -> Any:
        if self.dialect == "postgres":
            return self._connect(prepare_threshold=None)
        return self._connect()

    def execute(self, conn: Any, sql: str) -> None:
        if self.dialect == "postgres":
            conn.execute(sql)
        else:
            with conn.cursor() as cur:
                cur.execute(sql)

    def rows(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        if self.dialect == "postgres":
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def catalog(self, conn: Any) -> dict[str, Any]:
        """The user table's definition and everything schemashift could leave behind."""
        if self.dialect == "postgres":
            return {
                "columns": self.rows(conn,
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                    "pg_get_expr(d.adbin, d.adrelid), a.attidentity FROM pg_attribute a "
                    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                    "WHERE a.attrelid = 'public.users'::regclass AND a.attnum > 0 "
                    "AND NOT a.attisdropped ORDER BY a.attname"),
                "constraints": self.rows(conn,
                    "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                    "WHERE conrelid = 'public.users'::regclass ORDER BY 1"),
                "indexes": self.rows(conn,
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users' "
                    "ORDER BY 1"),
                "triggers": self.rows(conn,
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
                "functions": self.rows(conn,
                    "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                    "ORDER BY 1"),
            }  # fmt: skip
        where = "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'"
        return {
            "columns": self.rows(conn,
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
                f"COLUMN_COMMENT FROM information_schema.COLUMNS WHERE {where} ORDER BY 1"),
            "indexes": self.rows(conn,
                "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE FROM "
                f"information_schema.STATISTICS WHERE {where} ORDER BY 1, 2"),
            "triggers": self.rows(conn,
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                "WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"),
        }  # fmt: skip


def _quote(dialect: str, name: str) -> str:
    return f'"{name}"' if dialect == "postgres" else f"`{name}`"


# --------------------------------------------------------------------------- the app writers


@dataclass
class Writers:
    """One thread writing as the app versions the current phase allows; every committed
    write goes into ``expected`` (id → payload)."""

    scenario: Scenario
    db: Db
    expected: dict[int, str]
    phase: Phase = Phase.EXPAND
    errors: list[str] = field(default_factory=list)
    writes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _paused: bool = False
    _idle: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_id: int = FIRST_NEW_ID

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No write in flight while the caller compares the table with ``expected``."""
        self._idle.clear()
        self._paused = True
        self._idle.wait(timeout=30)
        try:
            yield
        finally:
            self._paused = False

    def start(self) -> Writers:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = self.db.conn()
        try:
            self._write(conn)
        finally:
            conn.close()  # one per trial: dozens of trials must not exhaust max_connections

    def _write(self, conn: Any) -> None:
        s = self.scenario
        rng = random.Random(1)
        n = 0
        while not self._stop.is_set():
            if self._paused:
                self._idle.set()
                time.sleep(0.002)
                continue
            versions = [v for v, phases in (("old", s.old_phases), ("new", s.new_phases))
                        if self.phase in phases]  # fmt: skip
            if not versions:
                time.sleep(0.005)
                continue
            version = rng.choice(versions)
            column = _quote(self.db.dialect, s.old_col if version == "old" else s.new_col)
            n += 1
            value = s.value(n)
            insert = rng.random() < 0.3 and (version == "new" or s.old_inserts)
            if insert:
                key = self._next_id
                extra_cols, extra_vals = "", ""
                if version == "new" and s.new_insert_extra:
                    extra_cols, extra_vals = f", {s.new_insert_extra[0]}", f", {s.new_insert_extra[1]}"
                legacy = ", legacy" if s.name == "drop_column" and version == "old" else ""
                legacy_v = ", 0" if legacy else ""
                sql = (f"INSERT INTO users (id, {column}{extra_cols}{legacy}) "
                       f"VALUES ({key}, '{value}'{extra_vals}{legacy_v})")  # fmt: skip
            else:
                key = rng.randint(1, ROWS)
                sql = f"UPDATE users SET {column} = '{value}' WHERE id = {key}"
            try:
                self.db.execute(conn, sql)
            except Exception as exc:
                self.errors.append(f"{self.phase.value} {version}: {sql}: {exc}".splitlines()[0])
                continue
            if insert:
                self._next_id += 1
            self.expected[key] = value
            self.writes += 1
            time.sleep(0.002)


# --------------------------------------------------------------------------- child runs


@dataclass(frozen=True)
class Outcome:
    status: str  # "done", "killed", "failed"
    seconds: float
    points: tuple[tuple[str, int, int], ...] = ()


def _child(url: str, dialect: str, plan: Plan, phase: Phase, fault: tuple[str, int, int] | None,
           log: str | None) -> None:  # fmt: skip
    """In the forked child: run the phase (as the CLI does); die at ``fault`` if given."""
    seen: list[str] = []

    def hook(point: str, migration: str, step: int, group: int) -> None:
        if fault is not None and (point, step, group) == fault:
            os.kill(os.getpid(), signal.SIGKILL)
        seen.append(f"{point} {step} {group}")

    runner_module.FAULT_HOOK = hook
    try:
        Runner(url, Config(dialect=dialect), _options()).run(plan, phase)
    except BaseException:
        os._exit(1)
    if log is not None:
        with open(log, "w") as fh:
            fh.write("\n".join(seen))
    os._exit(0)


def _options() -> RunOptions:
    return RunOptions(quiet=True, batch_size=BATCH, lock_timeout_ms=1000, backoff_base_s=0.05,
                      retries=40)  # fmt: skip


def run_child(url: str, dialect: str, plan: Plan, phase: Phase, writers: Writers, *,
              kill_after: float | None = None, fault: tuple[str, int, int] | None = None,
              log: str | None = None) -> Outcome:  # fmt: skip
    # Fork only while the writer thread sleeps: a fork while it holds a library lock (an
    # OpenSSL context being built) would leave the child waiting for it forever.
    with writers.paused():
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _child(url, dialect, plan, phase, fault, log)
    status: int | None = None
    deadline = started + (kill_after if kill_after is not None else 120)
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.0005)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert kill_after is not None, f"{phase.value} hung for 120 s"
        return Outcome("killed", time.monotonic() - started)
    assert status is not None
    seconds = time.monotonic() - started
    if os.WIFSIGNALED(status):
        return Outcome("killed", seconds)
    points: tuple[tuple[str, int, int], ...] = ()
    if log is not None and os.path.exists(log):
        with open(log) as fh:
            points = tuple((p, int(s), int(g)) for p, s, g in
                           (line.split() for line in fh.read().splitlines() if line))  # fmt: skip
    return Outcome("done" if os.WEXITSTATUS(status) == 0 else "failed", seconds, points)


def in_process(url: str, dialect: str, plan: Plan, phase: Phase | None) -> None:
    """Run a phase (None: rollback) here; waits for a killed run's session to go away."""
    deadline = time.monotonic() + 30
    while True:
        try:
            runner = Runner(url, Config(dialect=dialect), _options())
            if phase is None:
                runner.rollback(plan)
            else:
                runner.run(plan, phase)
            return
        except GateRefused as exc:  # the killed run's session still holds the lock
            if "holds its lock" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --------------------------------------------------------------------------- trials


@contextlib.contextmanager
def trial_table(db: Db, admin: Any, scenario: Scenario) -> Iterator[None]:
    for sql in _cleanup(db.dialect):
        db.execute(admin, sql)
    for sql in scenario.setup:
        db.execute(admin, sql)
    yield


def _cleanup(dialect: str) -> list[str]:
    if dialect == "postgres":
        return [
            "DROP TABLE IF EXISTS users CASCADE",
            "DO $$ DECLARE f regprocedure; BEGIN FOR f IN SELECT oid::regprocedure FROM pg_proc "
            "WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'schemashift%' LOOP "
            "EXECUTE 'DROP FUNCTION ' || f || ' CASCADE'; END LOOP; END $$",
        ]
    return ["DROP TABLE IF EXISTS users"]


def payloads(db: Db, admin: Any, scenario: Scenario, column: str) -> dict[int, Any]:
    return dict(db.rows(admin, f"SELECT id, {_quote(db.dialect, column)} FROM users"))  # type: ignore[arg-type]


@dataclass
class Trial:
    scenario: Scenario
    db: Db
    admin: Any
    url: str
    phase: Phase
    number: int

    def migration(self) -> Plan:
        return plan_sql(self.scenario.migration, f"crash_{self.scenario.name}_{self.number}",
                        Config(dialect=self.scenario.dialect))  # fmt: skip

    def run(self, *, kill_after: float | None = None, fault: tuple[str, int, int] | None = None,
            log: str | None = None) -> tuple[Outcome, dict[str, Any]]:  # fmt: skip
        s, db = self.scenario, self.db
        plan = self.migration()
        phases = [p for p in PHASE_ORDER if p in plan.phases_present or p is E]
        with trial_table(db, self.admin, s):
            expected: dict[int, str] = {
                k: str(v) for k, v in payloads(db, self.admin, s, s.old_col).items()}  # fmt: skip
            original = db.catalog(self.admin)
            writers = Writers(s, db, expected).start()
            outcome = Outcome("done", 0.0)
            try:
                for phase in phases:
                    writers.phase = phase
                    if phase is not self.phase:
                        in_process(self.url, s.dialect, plan, phase)
                        continue
                    outcome = run_child(self.url, s.dialect, plan, phase, writers,
                                        kill_after=kill_after, fault=fault, log=log)  # fmt: skip
                    assert outcome.status != "failed", f"{s.name} {phase.value} failed"
                    if outcome.status == "killed":
                        self._recover(plan, phase, writers, original)
                time.sleep(0.02)  # a few writes on the finished schema
            finally:
                writers.stop()
            assert writers.errors == [], writers.errors[:5]
            final = db.catalog(self.admin)
            got = payloads(db, self.admin, s, s.new_col)
            want = {k: s.final_value(v) for k, v in expected.items()}
            lost = {k: (want[k], got.get(k)) for k in want if got.get(k) != want[k]}
            assert not lost, f"{s.name}: {len(lost)} values lost or changed, e.g. {list(lost.items())[:5]}"
            assert set(got) == set(want)
            if s.final_check:
                assert db.rows(self.admin, s.final_check) == [(0,)], s.final_check
            return outcome, final

    def _recover(self, plan: Plan, phase: Phase, writers: Writers, original: dict[str, Any]) -> None:
        s, db = self.scenario, self.db
        if phase is C:
            # Contract started (or not yet): rollback only before the mark; finish it.
            state = Runner(self.url, Config(dialect=s.dialect), _options()).status()
            row = next(r for r in state if r.migration == plan.migration)
            if row.contract_started_at is not None:
                with pytest.raises(GateRefused, match="rollback is refused"):
                    in_process(self.url, s.dialect, plan, None)
            in_process(self.url, s.dialect, plan, C)
            return
        if self.number % 2 == 0:
            in_process(self.url, s.dialect, plan, phase)  # run it again
            return
        # Roll back: the old schema exactly, every value intact; then start over.
        writers.phase = E  # the old app version only, while the new columns go away
        try:
            in_process(self.url, s.dialect, plan, None)
        except GateRefused as exc:  # killed before expand recorded its start: nothing ran
            assert "never expanded" in str(exc), exc
        assert db.catalog(self.admin) == original, f"{s.name}: rollback left the catalog changed"
        with writers.paused():
            got = payloads(db, self.admin, s, s.old_col)
            want = dict(writers.expected)
        assert {k: str(v) for k, v in got.items()} == want, f"{s.name}: rollback lost values"
        for again in PHASE_ORDER[: PHASE_ORDER.index(phase) + 1]:
            if again in plan.phases_present or again is E:
                writers.phase = again
                in_process(self.url, s.dialect, plan, again)


# --------------------------------------------------------------------------- the matrix


def _cases() -> list[Any]:
    out = []
    for s in SCENARIOS:
        phases = plan_sql(s.migration, "x", Config(dialect=s.dialect)).phases_present
        marks = [pytest.mark.postgres] if s.dialect == "postgres" else [pytest.mark.mysql]
        for phase in PHASE_ORDER:
            if phase in phases:
                out.append(pytest.param(s, phase, id=f"{s.dialect}-{s.name}-{phase.value}",
                                        marks=marks))  # fmt: skip
    return out


@pytest.mark.parametrize(("scenario", "phase"), _cases())
def test_crash_matrix(scenario: Scenario, phase: Phase, request: pytest.FixtureRequest,
                      tmp_path: Any) -> None:  # fmt: skip
    if scenario.dialect == "postgres":
        url, connect = request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_connect")
    else:
        url, connect = request.getfixturevalue("mysql_url"), request.getfixturevalue("mysql_connect")
    db = Db(scenario.dialect, connect)
    admin = db.conn()
    number = 0

    def trial() -> Trial:
        nonlocal number
        number += 1
        return Trial(scenario, db, admin, url, phase, number)

    # Reference: uninterrupted, every fault instant recorded.
    log = str(tmp_path / "points")
    reference, reference_catalog = trial().run(log=log)
    assert reference.status == "done" and reference.points, "no fault instants recorded"
    kills = {"window": 0, "random": 0}
    # Deterministically in every window: after a step's (or group's) statements, before its
    # record, and right after the record.
    for point in reference.points:
        outcome, final = trial().run(fault=point)
        assert outcome.status == "killed", point
        assert final == reference_catalog, f"definition drift after a kill at {point}"
        kills["window"] += 1
    # At random instants within the phase.
    rng = random.Random(f"{scenario.dialect}{scenario.name}{phase.value}")
    attempts = 0
    # The reference run can be slower than later ones (a cold server under a loaded machine);
    # a trial that finished before its kill tells how long the phase takes now, so the window
    # shrinks to that and the next draws land inside the phase.
    window = reference.seconds
    while kills["random"] < KILLS and attempts < KILLS * 6:
        attempts += 1
        outcome, final = trial().run(kill_after=rng.uniform(0, window))
        assert final == reference_catalog, "definition drift after a random kill"
        if outcome.status == "killed":
            kills["random"] += 1
        else:
            window = min(window, outcome.seconds)
    assert kills["random"] >= KILLS, kills
    line = (f"{scenario.dialect} {scenario.name} {phase.value}: {kills['window']} window kills, "
            f"{kills['random']} random kills ({attempts} attempts), reference "
            f"{reference.seconds * 1000:.0f} ms, 0 values lost, 0 drift")  # fmt: skip
    print(f"\n{line}")
    report = os.environ.get("SCHEMASHIFT_CRASH_REPORT")
    if report:  # the figures for a closing note (xdist swallows the print)
        with open(report, "a") as fh:
            fh.write(line + "\n")
