"""The backfill's batch size controller, data errors pinned on a key, totals from the
checkpoint and the liveness hook: the controller and the driver on their own (no
database), then on real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from schemashift.execute.backfill import (
    DEFAULT_BATCH_TIME_MS,
    BackfillDataError,
    BackfillError,
    BackfillOptions,
    BackfillResult,
    BatchFailure,
    BatchOutcome,
    BatchSizer,
    Progress,
    drive_batches,
    run_backfill,
)
from schemashift.execute.backfill import core as backfill_module
from schemashift.execute.backfill.mysql import run_backfill_mysql
from schemashift.execute.backfill.sqlite import run_backfill_sqlite
from schemashift.execute.database import DatabaseError
from schemashift.phases.plan import Backfill

# --------------------------------------------------------------------------- the controller


def test_sizer_starts_at_the_maximum_and_halves_on_timeouts_down_to_one() -> None:
    sizer = BatchSizer(5000, 0.15)
    assert sizer.size == 5000
    assert [sizer.timed_out() for _ in range(14)][:4] == [2500, 1250, 625, 312]
    assert sizer.size == 1
    assert sizer.timed_out() == 1


def test_sizer_grows_by_half_under_budget_up_to_the_maximum() -> None:
    sizer = BatchSizer(1000, 0.1)
    sizer.size = 1
    sizes = []
    for _ in range(25):
        sizes.append(sizer.observe(0.01, sizer.size))
    assert sizes[:6] == [2, 3, 5, 8, 12, 18]  # ceil(x 1.5): size 1 grows too
    assert sizes[-1] == 1000 and max(sizes) == 1000


def test_sizer_holds_in_the_band_and_on_the_tail() -> None:
    sizer = BatchSizer(1000, 0.1)
    sizer.size = 400
    for seconds in (0.05, 0.08, 0.1, 0.15, 0.2):  # [1/2, 2] x budget: no change
        assert sizer.observe(seconds, 400) == 400
    assert sizer.observe(0.001, 17) == 400  # a fast tail of 17 keys says nothing


def test_sizer_shrinks_in_proportion_when_far_over_budget() -> None:
    sizer = BatchSizer(1000, 0.1)
    assert sizer.observe(0.25, 1000) == 400  # 2.5x the budget: 1000 x 0.1 / 0.25
    assert sizer.observe(10.0, 400) == 50  # 100x: at most an eighth at once
    sizer.size = 3
    assert sizer.observe(5.0, 3) == 1
    assert sizer.observe(5.0, 1) == 1  # never below 1


def test_sizer_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        BatchSizer(0, 0.1)
    with pytest.raises(ValueError):
        BatchSizer(10, 0)
    assert 100 <= DEFAULT_BATCH_TIME_MS <= 250


# --------------------------------------------------------------------------- the driver, faked


class FakeError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(f"fake {kind}")
        self.kind = kind


class FakeTable:
    """Keys 1..rows behind a checkpoint, batches that take ``cost`` fake seconds a key. A
    batch covering a key in ``bad`` fails like a bad value; the attempts numbered (from
    1) in ``timeouts`` fail like a statement timeout, those in ``lose_acks`` commit and
    then fail like a lost connection."""

    def __init__(self, rows: int, *, cost: float = 0.0, bad: set[int] | None = None,
                 timeouts: set[int] | None = None, lose_acks: set[int] | None = None) -> None:  # fmt: skip
        self.rows, self.cost = rows, cost
        self.bad = bad or set()
        self.timeouts = timeouts or set()
        self.lose_acks = lose_acks or set()
        self.last = 0  # the checkpoint
        self.done = 0  # its rows_done
        self.now = 0.0
        self.calls: list[int] = []  # the size of every attempt
        self.commits = 0

    def clock(self) -> SimpleNamespace:
        def sleep(seconds: float) -> None:
            self.now += max(0.0, seconds)

        return SimpleNamespace(monotonic=lambda: self.now, sleep=sleep, strftime=time.strftime)

    def run_batch(self, size: int) -> BatchOutcome:
        self.calls.append(size)
        attempt = len(self.calls)
        hi = min(self.rows, self.last + size)
        self.now += self.cost * (hi - self.last)
        if attempt in self.timeouts:
            raise FakeError("timeout")
        if any(self.last < k <= hi for k in self.bad):
            raise FakeError("data")
        scanned = hi - self.last
        if not scanned:
            return BatchOutcome(str(self.last), 0, 0, self.done, True)
        self.last, self.done = hi, self.done + scanned
        self.commits += 1
        if attempt in self.lose_acks:
            raise FakeError("lost")  # committed, but the acknowledgement never came
        return BatchOutcome(str(hi), scanned, scanned, self.done, hi == self.rows)

    def classify(self, exc: Exception) -> BatchFailure | None:
        if not isinstance(exc, FakeError):
            return None
        if exc.kind == "data":
            return BatchFailure("data", "22P02", 'invalid input syntax: "abc"', "a detail")
        return BatchFailure(exc.kind, exc.kind)  # type: ignore[arg-type]

    def next_key(self) -> str | None:
        return str(self.last + 1) if self.last < self.rows else None


def drive(table: FakeTable, monkeypatch: pytest.MonkeyPatch, *, batch_size: int,
          batch_time_ms: float = 100, **kwargs: Any) -> BackfillResult:  # fmt: skip
    monkeypatch.setattr(backfill_module, "time", table.clock())
    result = BackfillResult(0, 0, 0.0, None, total_rows_done=table.done)
    options = BackfillOptions(batch_size=batch_size, max_retries=5, backoff_base_s=0.01,
                              backoff_cap_s=0.1, batch_time_ms=batch_time_ms)  # fmt: skip
    drive_batches(
        table.run_batch, table.classify, lambda: None, result, options,
        label="backfill public.t (m1 step 1)", key_column="id", progress=None, done_base=0,
        next_key=table.next_key, table="public.t", **kwargs,
    )  # fmt: skip
    return result


def test_driver_aims_at_the_budget_and_grows_back_after_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1 ms a key against a 100 ms budget: 1000 keys take 1 s (far over), 50 are "well under"
    table = FakeTable(20_000, cost=0.001)
    result = drive(table, monkeypatch, batch_size=1000)
    # 10x the budget: cut to an eighth at once (not to 100); 125 ms is within the band
    assert result.sizes == [(1000, 1), (125, 152)]
    assert result.total_rows_done == result.rows_done == 20_000

    table = FakeTable(20_000, cost=0.00025)  # 2.5x over: to 400 in proportion, then held
    assert drive(table, monkeypatch, batch_size=1000).sizes == [(1000, 1), (400, 48)]

    # fast keys (0.01 ms): a statement timeout on attempt 3 halves the size, which then
    # grows back by half again per batch up to the maximum
    table = FakeTable(20_000, cost=0.00001, timeouts={3})
    result = drive(table, monkeypatch, batch_size=1000)
    assert table.calls[:7] == [1000, 1000, 1000, 500, 750, 1000, 1000]
    assert result.retries == 1 and result.total_rows_done == 20_000


def test_driver_pins_a_data_error_on_its_key_and_keeps_the_rows_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = FakeTable(1000, bad={637})
    with pytest.raises(BackfillDataError) as info:
        drive(table, monkeypatch, batch_size=100)
    err = info.value
    assert (err.table, err.column, err.key, err.code) == ("public.t", "id", "637", "22P02")
    assert table.last == 636 and table.done == 636  # every good row before it committed
    text = str(err)
    assert "\n" not in text
    assert "backfill public.t (m1 step 1): the row with id = 637 of public.t" in text
    assert 'invalid input syntax: "abc" (DETAIL: a detail)' in text
    assert isinstance(err, BackfillError) and isinstance(err, DatabaseError)
    assert isinstance(err.__cause__, FakeError)
    # binary search: at most ~2 log2(100) attempts after the first failure
    first_failure = table.calls.index(100, 6)
    assert len(table.calls) - first_failure <= 16

    # the row fixed: the next run goes on from just before it
    table.bad.clear()
    result = drive(table, monkeypatch, batch_size=100)
    assert (result.rows_done, result.total_rows_done, table.last) == (364, 1000, 1000)


def test_driver_leaves_isolation_when_the_bad_row_was_fixed_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = FakeTable(1000, bad={150})
    real_run = table.run_batch

    def run(size: int) -> BatchOutcome:
        if size == 25:  # someone fixed the row while the batch was being split
            table.bad.clear()
        return real_run(size)

    table.run_batch = run  # type: ignore[method-assign]
    result = drive(table, monkeypatch, batch_size=100)
    assert result.total_rows_done == 1000
    assert table.calls[-1] == 100  # grew back once past the suspect range


def test_driver_counts_from_the_checkpoint_when_an_ack_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = FakeTable(1000, lose_acks={3, 5})
    out = io.StringIO()
    progress = Progress(out, tty=False)
    progress.start("bf", 1000)
    monkeypatch.setattr(backfill_module, "time", table.clock())
    result = BackfillResult(0, 0, 0.0, None)
    drive_batches(
        table.run_batch, table.classify, lambda: None, result,
        BackfillOptions(batch_size=100, max_retries=5, backoff_base_s=0.01, backoff_cap_s=0.1),
        label="bf", key_column="id", progress=progress, done_base=0,
    )  # fmt: skip
    assert table.commits == 10
    assert result.batches == 8  # two commits were never acknowledged…
    assert (result.rows_done, result.total_rows_done) == (1000, 1000)  # …yet count
    backfill_module.finish_backfill(result, 0.0, progress)
    assert "done, 1,000 rows updated, " in out.getvalue()


def test_driver_retries_a_failed_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    table = FakeTable(500)
    real_run = table.run_batch
    failures = [backfill_module.ReconnectFailed("reconnecting failed: refused")] * 2

    def run(size: int) -> BatchOutcome:
        if len(table.calls) == 2 and failures:
            raise failures.pop()
        return real_run(size)

    table.run_batch = run  # type: ignore[method-assign]
    result = drive(table, monkeypatch, batch_size=100)
    assert (result.retries, result.total_rows_done) == (2, 500)

    def never(size: int) -> BatchOutcome:
        raise backfill_module.ReconnectFailed("reconnecting failed: refused")

    table = FakeTable(500)
    table.run_batch = never  # type: ignore[method-assign]
    with pytest.raises(BackfillError, match="failed 6 times, giving up: reconnecting failed"):
        drive(table, monkeypatch, batch_size=100)


def test_driver_calls_check_alive_before_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    table = FakeTable(1000)
    calls: list[int] = []
    lost = RuntimeError("run lock lost")

    def check_alive() -> None:
        calls.append(table.commits)
        if len(calls) == 4:
            raise lost

    with pytest.raises(RuntimeError) as info:
        drive(table, monkeypatch, batch_size=100, check_alive=check_alive)
    assert info.value is lost  # unchanged
    assert calls == [0, 1, 2, 3]  # before each batch, and none ran after it raised
    assert (table.last, table.done) == (300, 300)

    calls.clear()
    table = FakeTable(300, timeouts={2})
    drive(table, monkeypatch, batch_size=100, check_alive=lambda: calls.append(1))
    assert len(calls) == len(table.calls) == 5  # retries are batches too


def test_mysql_errors_are_classified() -> None:
    import pymysql

    from schemashift.execute.backfill.mysql import _classify

    err = pymysql.err.DataError(1406, "Data too long for column 'short' at row 1")
    assert _classify(err) == BatchFailure("data", "MySQL error 1406",
                                          "Data too long for column 'short' at row 1")  # fmt: skip
    for code in (1048, 1062, 1264, 1265, 1292, 1366, 3819, 4025):
        assert _classify(pymysql.err.OperationalError(code, "x")).kind == "data"  # type: ignore[union-attr]
    for code in (2013, 1927):  # lost; MariaDB's "Connection was killed"
        assert _classify(pymysql.err.OperationalError(code, "x")) == BatchFailure("lost")
    assert _classify(pymysql.err.OperationalError(1969, "x")).kind == "timeout"  # type: ignore[union-attr]
    assert _classify(pymysql.err.ProgrammingError(1054, "Unknown column")) == BatchFailure("fatal")
    assert _classify(ValueError("not the database's")) is None


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def connect(pg_connect: Callable[..., Any]) -> Callable[[], Any]:
    return lambda: pg_connect(autocommit=False)


def pg_checkpoint(conn: Any, step: int = 1) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT last_key, rows_done FROM schemashift.backfill_progress "
        "WHERE migration = 'm1' AND step = %s",
        (step,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_pg_sizes_grow_back_after_a_statement_timeout(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 4000) g")
    slept: list[int] = []

    def stall(conn: Any, number: int) -> None:
        if number == 2 and not slept:
            slept.append(number)
            conn.execute("SELECT pg_sleep(1)")  # past statement_timeout: cancelled

    result = run_backfill(connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                          migration="m1", step=1, batch_size=400, statement_timeout_ms=300,
                          batch_time_ms=1000, backoff_base_s=0.01,
                          _after_update=stall)  # fmt: skip
    assert result.retries == 1
    sizes = [s for s, _ in result.sizes]
    assert sizes[:4] == [400, 200, 300, 400]  # halved, then x1.5 back to the maximum
    assert result.total_rows_done == result.rows_done == 4000
    assert pg_conn.execute("SELECT count(*) FROM t WHERE b IS DISTINCT FROM a").fetchone()[0] == 0


def test_pg_a_slow_round_trip_does_not_shrink_the_batches(pg_conn: Any,
                                                          postgres_url: str) -> None:  # fmt: skip
    """The budget is the batch's time on the server (its row locks and WAL): a remote
    server's round trip, here 60 ms added to every statement the backfill sends, is the
    same for one row as for five hundred and must not shrink the batches (the wall time,
    3x the budget, would)."""
    import psycopg
    from db_kwargs import pg_connect_kwargs

    class Remote(psycopg.Connection[Any]):
        def execute(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            time.sleep(0.06)
            return super().execute(*args, **kwargs)

    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 2000) g")
    result = run_backfill(lambda: Remote.connect(**pg_connect_kwargs(postgres_url)),
                          Backfill("t", "b = a", "b IS NULL", key="id"), migration="m1",
                          step=1, batch_size=500, batch_time_ms=20)  # fmt: skip
    assert result.sizes == [(500, 4)]
    assert result.total_rows_done == 2000
    assert pg_conn.execute("SELECT count(*) FROM t WHERE b IS DISTINCT FROM a").fetchone()[0] == 0


def test_pg_a_slow_batch_shrinks_the_next_ones_then_they_grow(pg_conn: Any,
                                                             connect: Any) -> None:  # fmt: skip
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 20000) g")

    def stall(conn: Any, number: int) -> None:
        if number == 2:
            conn.execute("SELECT pg_sleep(0.9)")  # 9x a 100 ms budget, under the timeout

    result = run_backfill(connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                          migration="m1", step=1, batch_size=800, batch_time_ms=100,
                          _after_update=stall)  # fmt: skip
    assert result.sizes[:2] == [(800, 2), (100, 1)]  # an eighth at once…
    sizes = [s for s, _ in result.sizes]
    assert 150 in sizes and sizes[-1] == 800  # …then x1.5 a batch back to the top
    assert result.retries == 0 and result.total_rows_done == 20000


def test_pg_data_error_names_the_key_and_a_rerun_resumes_there(pg_conn: Any,
                                                              connect: Any) -> None:  # fmt: skip
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, t text, n int)")
    pg_conn.execute("INSERT INTO t SELECT g, g::text, NULL FROM generate_series(1, 1000) g")
    pg_conn.execute("UPDATE t SET t = 'abc' WHERE id = 637")
    backfill = Backfill("t", "n = t::int", "n IS NULL", key="id")
    out = io.StringIO()
    with pytest.raises(BackfillDataError) as info:
        run_backfill(connect, backfill, migration="m1", step=1, batch_size=100,
                     progress=Progress(out, tty=False))  # fmt: skip
    err = info.value
    assert (err.table, err.column, err.key, err.code) == ("public.t", "id", "637", "22P02")
    assert "the row with id = 637 of public.t fails the update: invalid input syntax for " \
           'type integer: "abc"' in str(err)  # fmt: skip
    assert "\n" not in str(err)
    assert pg_checkpoint(pg_conn) == ("636", 636)
    assert pg_conn.execute("SELECT count(*) FROM t WHERE n IS NOT NULL").fetchone()[0] == 636
    assert "stopped after" in out.getvalue() and "(checkpoint: 636)" in out.getvalue()

    pg_conn.execute("UPDATE t SET t = '637' WHERE id = 637")
    out = io.StringIO()
    result = run_backfill(connect, backfill, migration="m1", step=1, batch_size=100,
                          progress=Progress(out, tty=False))  # fmt: skip
    assert (result.resumed_from, result.rows_done, result.total_rows_done) == ("636", 364, 1000)
    assert pg_conn.execute("SELECT count(*) FROM t WHERE n IS DISTINCT FROM id").fetchone()[0] == 0
    assert "done, 1,000 rows updated (364 by this run)" in out.getvalue()


def test_pg_integrity_error_carries_the_detail(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id text PRIMARY KEY, a int, b int CHECK (b < 90))")
    pg_conn.execute("INSERT INTO t SELECT 'k' || lpad(g::text, 3, '0'), g, NULL "
                    "FROM generate_series(1, 200) g")  # fmt: skip
    with pytest.raises(BackfillDataError) as info:
        run_backfill(connect, Backfill("t", "b = a", "b IS NULL", key="id"), migration="m1",
                     step=1, batch_size=64)  # fmt: skip
    err = info.value
    assert (err.key, err.code) == ("k090", "23514")
    assert "the row with id = 'k090' of public.t" in str(err)
    assert 'violates check constraint "t_b_check"' in str(err)
    assert "(DETAIL: Failing row contains (k090, 90, 90).)" in str(err)
    assert pg_checkpoint(pg_conn) == ("k089", 89)


def test_pg_data_error_exits_4_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from schemashift.cli.common import guarded as _guarded

    def fail() -> None:
        raise BackfillDataError("backfill public.t (m1 step 1): the row with id = 7 …",
                                table="public.t", column="id", key="7", code="22P02",
                                server_message="bad", detail="")  # fmt: skip

    with pytest.raises(SystemExit) as info:
        _guarded(fail)
    assert info.value.code == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the row with id = 7" in err


def test_pg_check_alive_stops_between_batches(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 1000) g")
    backfill = Backfill("t", "b = a", "b IS NULL", key="id")
    calls = []
    gone = ConnectionError("the run lock's session is gone")

    def check_alive() -> None:
        calls.append(1)
        if len(calls) == 4:
            raise gone

    with pytest.raises(ConnectionError) as info:
        run_backfill(connect, backfill, migration="m1", step=1, batch_size=100,
                     check_alive=check_alive)  # fmt: skip
    assert info.value is gone
    assert pg_checkpoint(pg_conn) == ("300", 300)
    assert pg_conn.execute("SELECT count(*) FROM t WHERE b IS NOT NULL").fetchone()[0] == 300
    result = run_backfill(connect, backfill, migration="m1", step=1, batch_size=100,
                          check_alive=lambda: None)  # fmt: skip
    assert (result.rows_done, result.total_rows_done) == (700, 1000)


# --------------------------------------------------------------------------- MariaDB


def my_rows(conn: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        return [tuple(r) for r in cur.fetchall()]


def fill(conn: Any, table: str, count: int, select: str) -> None:
    """INSERT INTO table SELECT <select over s.n> for n = 1..count, 1000 at a time (the
    recursion limit of a CTE: max_recursive_iterations, cte_max_recursion_depth)."""
    for start in range(0, count, 1000):
        top = min(count, start + 1000)
        my_rows(conn, f"INSERT INTO {table} WITH RECURSIVE s(n) AS (SELECT {start + 1} "
                      f"UNION ALL SELECT n + 1 FROM s WHERE n < {top}) {select} FROM s")  # fmt: skip


@pytest.fixture
def my_connect(mysql_url: str) -> Callable[[], Any]:
    from schemashift.execute.database import connect, parse_url

    target = parse_url(mysql_url)
    return lambda: connect(target)


def my_checkpoint(conn: Any) -> tuple[Any, ...]:
    return my_rows(conn, "SELECT last_key, rows_done FROM schemashift_backfill_progress "
                         "WHERE migration = 'm1' AND step = 1")[0]  # fmt: skip


def test_mysql_sizes_grow_back_after_a_statement_timeout(mysql_conn: Any,
                                                         my_connect: Any) -> None:  # fmt: skip
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    fill(mysql_conn, "t", 4000, "SELECT n, n, NULL")
    slept: list[int] = []

    def stall(conn: Any, number: int) -> None:
        if number == 2 and not slept:
            slept.append(number)
            with conn.cursor() as cur:
                cur.execute("SELECT SLEEP(1)")  # max_statement_time: error 1969

    result = run_backfill_mysql(my_connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                                migration="m1", step=1, batch_size=400,
                                statement_timeout_ms=300, batch_time_ms=1000,
                                backoff_base_s=0.01, _after_update=stall)  # fmt: skip
    assert result.retries == 1
    sizes = [s for s, _ in result.sizes]
    assert sizes[:4] == [400, 200, 300, 400]
    assert result.total_rows_done == 4000
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE b = a") == [(4000,)]


def test_mysql_backfill_keeps_on_update_current_timestamp_columns(mysql_conn: Any,
                                                                 my_connect: Any) -> None:  # fmt: skip
    """A column declared ON UPDATE CURRENT_TIMESTAMP would take the batch's time on every
    row the backfill updates: the UPDATE assigns it to itself, unless it sets it."""
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int, "
                        "updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
                        "ON UPDATE CURRENT_TIMESTAMP(6), "
                        "`Seen At` datetime NULL ON UPDATE CURRENT_TIMESTAMP, "
                        "stamped datetime NULL ON UPDATE CURRENT_TIMESTAMP)")  # fmt: skip
    fill(mysql_conn, "t", 300, "SELECT n, n, NULL, '2001-02-03 04:05:06.789', "
                               "'2002-03-04 05:06:07', NULL")  # fmt: skip
    backfill = Backfill("t", "b = a, STAMPED = '2020-01-01 00:00:00'", "b IS NULL", key="id")
    result = run_backfill_mysql(my_connect, backfill, migration="m1", step=1, batch_size=64)
    assert result.total_rows_done == 300
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE b = a") == [(300,)]
    rows = my_rows(mysql_conn, "SELECT DISTINCT CAST(updated_at AS CHAR), "
                               "CAST(`Seen At` AS CHAR), CAST(stamped AS CHAR) FROM t")  # fmt: skip
    # kept, kept, and the value the SET clause gave (not overwritten by itself)
    assert rows == [("2001-02-03 04:05:06.789000", "2002-03-04 05:06:07",
                     "2020-01-01 00:00:00")]  # fmt: skip
    # the apps' own updates still bump it
    my_rows(mysql_conn, "UPDATE t SET a = a + 1 WHERE id = 1")
    assert my_rows(mysql_conn, "SELECT updated_at > '2020-01-01' FROM t WHERE id = 1") == [(1,)]


def test_mysql_data_error_names_the_key_and_a_rerun_resumes_there(
    mysql_conn: Any, my_connect: Any
) -> None:
    my_rows(mysql_conn, "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(40) NOT NULL, "
                        "short varchar(8) NULL)")  # fmt: skip
    fill(mysql_conn, "t", 500, "SELECT n * 2, CONCAT('n', n), NULL")
    my_rows(mysql_conn, "UPDATE t SET name = 'far-too-long-a-name' WHERE id = 422")
    backfill = Backfill("t", "short = name", "short IS NULL", key="id")
    with pytest.raises(BackfillDataError) as info:
        run_backfill_mysql(my_connect, backfill, migration="m1", step=1, batch_size=64)
    err = info.value
    assert (err.key, err.column, err.code) == ("422", "id", "MySQL error 1406")
    assert err.table.endswith(".t")
    assert f"the row with id = 422 of {err.table} fails the update: Data too long for " \
           "column 'short'" in str(err)  # fmt: skip
    assert my_checkpoint(mysql_conn) == ("420", 210)
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE short IS NOT NULL") == [(210,)]

    my_rows(mysql_conn, "UPDATE t SET name = 'n211' WHERE id = 422")
    out = io.StringIO()
    result = run_backfill_mysql(my_connect, backfill, migration="m1", step=1, batch_size=64,
                                progress=Progress(out, tty=False))  # fmt: skip
    assert (result.resumed_from, result.rows_done, result.total_rows_done) == ("420", 290, 500)
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE short = name") == [(500,)]
    assert "done, 500 rows updated (290 by this run)" in out.getvalue()


def test_mysql_check_constraint_is_a_data_error(mysql_conn: Any, my_connect: Any) -> None:
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int NULL, "
                        "CONSTRAINT b_small CHECK (b < 50))")  # fmt: skip
    fill(mysql_conn, "t", 100, "SELECT n, n, NULL")
    with pytest.raises(BackfillDataError) as info:
        run_backfill_mysql(my_connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                           migration="m1", step=1, batch_size=30)  # fmt: skip
    assert (info.value.key, info.value.code) == ("50", "MySQL error 4025")
    assert my_checkpoint(mysql_conn) == ("49", 49)


class LostAck:
    """A PyMySQL connection whose COMMIT number ``at`` goes through on the server, after
    which the connection is KILLed from another session and the client sees error 2013:
    the acknowledgement lost in the window a real KILL can hit."""

    def __init__(self, conn: Any, killer: Any, commits: list[int], at: set[int]) -> None:
        self._conn, self._killer, self._commits, self._at = conn, killer, commits, at

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def cursor(self) -> Any:
        outer = self
        real = self._conn.cursor()

        class Cursor:
            def __enter__(self) -> Cursor:
                return self

            def __exit__(self, *exc: object) -> None:
                real.close()

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def execute(self, sql: str, params: Any = None) -> int:
                done = int(real.execute(sql, params))
                if sql.strip().upper() == "COMMIT":
                    outer._commits.append(1)
                    if len(outer._commits) in outer._at:
                        import pymysql

                        with outer._killer.cursor() as cur:
                            cur.execute(f"KILL {outer._conn.thread_id()}")
                        raise pymysql.err.OperationalError(
                            2013, "Lost connection to MySQL server during query"
                        )
                return done

        return Cursor()


def test_mysql_total_survives_killed_connections(mysql_conn: Any, my_connect: Any,
                                                 mysql_connect: Any) -> None:  # fmt: skip
    """KILL the backfill's connection mid-batch (found by the hook) and right after a
    COMMIT whose acknowledgement is lost: the summary counts every row once."""
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int NULL)")
    fill(mysql_conn, "t", 2000, "SELECT n, n, NULL")
    my_rows(mysql_conn, "UPDATE t SET b = a WHERE id % 10 = 0")  # 200 need nothing
    killer = mysql_connect()
    commits: list[int] = []
    killed: list[int] = []

    def connect() -> Any:
        return LostAck(my_connect(), killer, commits, at={5, 9})

    def kill_mid_batch(conn: Any, number: int) -> None:
        if number in (3, 12) and number not in killed:
            killed.append(number)
            with killer.cursor() as cur:
                cur.execute(f"KILL {conn.thread_id()}")

    out = io.StringIO()
    result = run_backfill_mysql(connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                                migration="m1", step=1, batch_size=100, backoff_base_s=0.01,
                                progress=Progress(out, tty=False),
                                _after_update=kill_mid_batch)  # fmt: skip
    assert killed == [3, 12]
    assert result.retries >= 4
    assert (result.rows_done, result.total_rows_done) == (1800, 1800)
    assert my_checkpoint(mysql_conn) == ("2000", 1800)
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE b = a") == [(2000,)]
    assert "done, 1,800 rows updated, " in out.getvalue()


def test_mysql_kill_from_processlist_while_it_runs(mysql_conn: Any, my_connect: Any,
                                                   mysql_url: str) -> None:  # fmt: skip
    """A killer thread finds the backfill's session in information_schema.PROCESSLIST and
    KILLs it at whatever point it is, three times."""
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int NULL)")
    fill(mysql_conn, "t", 20000, "SELECT n, n, NULL")
    db = my_rows(mysql_conn, "SELECT DATABASE()")[0][0]
    me = mysql_conn.thread_id()
    stop, walking = threading.Event(), threading.Event()
    kills: list[int] = []

    def killer() -> None:
        walking.wait(30)  # a kill before the walk (resolving the key) is not retried
        while not stop.is_set() and len(kills) < 3:
            ids = my_rows(mysql_conn, "SELECT ID FROM information_schema.PROCESSLIST WHERE "
                                      "DB = %s AND ID <> %s AND INFO LIKE '%%t%%'", db, me)  # fmt: skip
            if ids:
                my_rows(mysql_conn, f"KILL {ids[0][0]}")
                kills.append(int(ids[0][0]))
                stop.wait(0.05)

    def slow(conn: Any, number: int) -> None:
        walking.set()
        with conn.cursor() as cur:
            cur.execute("SELECT SLEEP(0.01)")

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        result = run_backfill_mysql(my_connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                                    migration="m1", step=1, batch_size=500, max_retries=20,
                                    backoff_base_s=0.01, _after_update=slow)  # fmt: skip
    finally:
        stop.set()
        thread.join()
    assert len(kills) >= 1
    assert result.total_rows_done == 20000
    assert my_checkpoint(mysql_conn) == ("20000", 20000)
    assert my_rows(mysql_conn, "SELECT COUNT(*) FROM t WHERE b = a") == [(20000,)]


def test_mysql_check_alive(mysql_conn: Any, my_connect: Any) -> None:
    my_rows(mysql_conn, "CREATE TABLE t (id int PRIMARY KEY, a int, b int NULL)")
    fill(mysql_conn, "t", 500, "SELECT n, n, NULL")
    calls = []
    gone = ConnectionError("run lock lost")

    def check_alive() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise gone

    with pytest.raises(ConnectionError) as info:
        run_backfill_mysql(my_connect, Backfill("t", "b = a", "b IS NULL", key="id"),
                           migration="m1", step=1, batch_size=100,
                           check_alive=check_alive)  # fmt: skip
    assert info.value is gone
    assert my_checkpoint(mysql_conn) == ("200", 200)


# --------------------------------------------------------------------------- SQLite


def test_sqlite_data_error_check_alive_and_sizes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"

    def connect() -> Any:
        return sqlite3.connect(path, isolation_level=None)

    conn = connect()
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a int, b int CHECK (b <> 77))")
    conn.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                 "WHERE n < 300) INSERT INTO t SELECT n, n, NULL FROM s")  # fmt: skip
    backfill = Backfill("t", "b = a", "b IS NULL", key="id")
    with pytest.raises(BackfillDataError) as info:
        run_backfill_sqlite(connect, backfill, migration="m1", step=1, batch_size=50)
    assert (info.value.key, info.value.table) == ("77", "t")
    assert "CHECK constraint failed" in str(info.value)
    assert conn.execute("SELECT last_key, rows_done FROM schemashift_backfill_progress"
                        ).fetchone() == ("76", 76)  # fmt: skip

    conn.execute("ALTER TABLE t RENAME COLUMN b TO b_old")  # no way to drop a CHECK: move on
    conn.execute("ALTER TABLE t ADD COLUMN b int")
    conn.execute("UPDATE t SET b = b_old")
    calls = []

    def check_alive() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_backfill_sqlite(connect, backfill, migration="m1", step=1, batch_size=50,
                            check_alive=check_alive)  # fmt: skip
    assert conn.execute("SELECT last_key, rows_done FROM schemashift_backfill_progress"
                        ).fetchone() == ("126", 126)  # fmt: skip
    result = run_backfill_sqlite(connect, backfill, migration="m1", step=1, batch_size=50)
    assert (result.rows_done, result.total_rows_done) == (174, 300)
    assert result.sizes == [(50, 4)]
    conn.close()
