"""What every backend's backfill shares: the options, the errors, the result, the batch
size controller and the checkpoint walk that runs a backend's batches.

A backend's backfill (postgres.py, mysql.py, sqlite.py) is a :class:`BackfillDriver`: it
opens its connection, reads (or creates) the checkpoint, runs one batch, judges the errors
a batch raises and finds the key a failing row sits on. :func:`run_driver` does the rest,
the same way for every backend:

- the batch size aims at a time budget (``batch_time_ms``) rather than a fixed row count:
  a batch's row locks are held until its commit, so its duration is what an app's write to
  one of its rows may wait. :class:`BatchSizer` starts at ``batch_size`` (also the most it
  ever uses), halves on a statement timeout, shrinks in proportion after a batch far over
  budget and grows by half again (back up to ``batch_size``) after batches well under it;
- after each batch it pauses ``pause_ratio`` times the batch's duration (a duty cycle: the
  apps' writes get the table, the WAL and the disk to themselves between batches), and
  ``rows_per_second`` caps the average rate of rows walked;
- a batch that hits a lock timeout, a deadlock or a serialization failure is retried with
  exponential backoff and jitter; one that hits the statement timeout is retried at half
  the size; a lost connection is reopened (the checkpoint says where to go on). A batch
  that fails on a row's value is retried in halves, each half that passes committed, down
  to the one key that fails; :class:`BackfillDataError` then names it;
- ``check_alive`` (the runner's run-lock check) is called before every batch; what it
  raises stops the backfill between batches and propagates as it is;
- the totals reported (:class:`BackfillResult`, the last progress line) are the
  checkpoint row's ``rows_done``, not counters in memory: a batch whose ``COMMIT`` went
  through while its connection was lost, and batches of earlier, killed runs, count all
  the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from schemashift.execute.backfill.progress import Progress
from schemashift.execute.database import DatabaseError
from schemashift.execute.retry import backoff_delay
from schemashift.phases.plan import Backfill

__all__ = ["DEFAULT_BATCH_TIME_MS", "DEFAULT_PAUSE_RATIO", "BackfillDataError",
           "BackfillDriver", "BackfillError", "BackfillOptions", "BackfillResult",
           "BatchFailure", "BatchOutcome", "BatchSizer", "ReconnectFailed", "WalkStart",
           "drive_batches", "finish_backfill", "options_with", "reopen", "run_driver"]  # fmt: skip

# The defaults of BackfillOptions (benchmarks/README.md, "backfill.py", has the figures
# they were chosen by). The batch time budget when neither the options nor the backend
# name one (PostgreSQL does: postgres.POSTGRES_BATCH_TIME_MS).
DEFAULT_BATCH_TIME_MS = 150.0
DEFAULT_PAUSE_RATIO = 0.0

BatchHook = Callable[[Any, int], None]


class BackfillError(DatabaseError):
    """The backfill cannot run or gave up (bad key, retries exhausted, SQL error). A
    DatabaseError: the CLI reports it on one line and exits 4."""


class BackfillDataError(BackfillError):
    """A row's value fails the backfill's SET (bad cast, too long, NOT NULL, unique, CHECK).
    The message names the table, key column and key value; the checkpoint is just before
    that key, so a run after the row is fixed resumes there."""

    def __init__(self, message: str, *, table: str, column: str, key: str | None,
                 code: str, server_message: str, detail: str) -> None:  # fmt: skip
        super().__init__(message)
        self.table, self.column, self.key = table, column, key
        self.code, self.server_message, self.detail = code, server_message, detail


class ReconnectFailed(Exception):
    """Reopening a lost connection failed (the server restarting, the new session killed
    too): :func:`drive_batches` retries it like the lost connection itself."""


@dataclass(frozen=True)
class BackfillOptions:
    """How a backfill runs, on every backend (what a backend has no use for, it ignores).

    ``batch_size``: the first and the largest batch. ``batch_time_ms``: the time a batch
    aims at (:class:`BatchSizer`; None: the backend's default). ``pause_ratio``: after each batch, pause this many times
    its duration. ``rows_per_second``: a cap on the average rate of rows walked.
    ``statement_timeout_ms`` (PostgreSQL; MariaDB ``max_statement_time``; MySQL's
    ``max_execution_time`` covers the SELECTs only; SQLite has none) and
    ``lock_timeout_ms`` (SQLite: ``busy_timeout``) per batch. ``max_retries``,
    ``backoff_base_s``, ``backoff_cap_s``: the retries of a batch that failed on a lock, a
    timeout or a lost connection. ``synchronous_commit`` (PostgreSQL): the batches commit
    with ``synchronous_commit`` on (the default; off is faster and costs the apps' commits
    more, see postgres.py). ``state_schema``: the
    schema of ``backfill_progress`` on PostgreSQL; MySQL and SQLite prefix the state
    tables with it and ``_`` instead.
    """

    batch_size: int = 5000
    batch_time_ms: float | None = None
    pause_ratio: float = DEFAULT_PAUSE_RATIO
    rows_per_second: float | None = None
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    max_retries: int = 8
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 10.0
    synchronous_commit: bool = True
    state_schema: str = "schemashift"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.rows_per_second is not None and self.rows_per_second <= 0:
            raise ValueError("rows_per_second must be positive")
        if self.batch_time_ms is not None and self.batch_time_ms <= 0:
            raise ValueError("batch_time_ms must be positive")
        if self.pause_ratio < 0 or not math.isfinite(self.pause_ratio):
            raise ValueError("pause_ratio must be zero or positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")

    @property
    def state_prefix(self) -> str:
        """The state tables' prefix on MySQL and SQLite (``schemashift_``)."""
        return f"{self.state_schema}_"


def options_with(options: BackfillOptions | None, overrides: dict[str, Any]) -> BackfillOptions:
    """``options`` (default: the defaults) with some fields replaced by keyword arguments of
    the same names (``run_backfill(…, batch_size=100)``); an unknown name is a TypeError."""
    base = options if options is not None else BackfillOptions()
    if not overrides:
        return base
    names = {f.name for f in dataclasses.fields(BackfillOptions)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unexpected backfill option(s): {', '.join(unknown)}")
    return dataclasses.replace(base, **overrides)


@dataclass
class BackfillResult:
    # rows this call updated: the checkpoint's rows_done now less what it was at the start
    rows_done: int
    batches: int  # batches this call committed
    seconds: float
    resumed_from: str | None  # the checkpoint's key this call started after (None: start)
    rows_scanned: int = 0  # rows this call walked over (updated or already right)
    retries: int = 0
    last_key: str | None = None  # the checkpoint when it returned
    total_rows_done: int = 0  # rows updated by every run of this step, from the checkpoint
    # the batch sizes this call used, run-length encoded: (size, batches committed at it)
    sizes: list[tuple[int, int]] = field(default_factory=list)


# --------------------------------------------------------------------------- the driver


@dataclass
class BatchOutcome:
    """What one committed batch did (either dialect)."""

    last_key: str | None  # the checkpoint after it (unchanged when it scanned nothing)
    scanned: int
    updated: int
    total_done: int  # the checkpoint's rows_done after it
    tail: bool  # it reached the end key
    # How long the batch ran on the server (PostgreSQL: its statement, without the round
    # trip), when the backend knows; the batch size aims this at the budget. None: the
    # wall time of run_batch is taken instead.
    server_seconds: float | None = None


@dataclass(frozen=True)
class BatchFailure:
    """A dialect's verdict on an error a batch raised.

    ``timeout``: the statement timeout; retried at half the size (fatal at size 1).
    ``lost``: the connection is gone; closed, reopened and retried.
    ``retryable``: a lock timeout, deadlock or serialization failure; retried as it was.
    ``data``: a row's value fails the SET; the batch is split until the failing key is
    known, then :class:`BackfillDataError` (``message`` and ``detail``: the server's).
    ``fatal``: any other database error; the backfill gives up.
    ``name`` says which in notes and messages ("statement_timeout", "55P03", "MySQL error
    1205").
    """

    kind: Literal["timeout", "lost", "retryable", "data", "fatal"]
    name: str = ""
    message: str = ""
    detail: str = ""


class BatchSizer:
    """How many keys the next batch takes: aims each batch at ``target_s`` seconds.

    Starts at ``max_size`` (the plan's or CLI's ``batch_size``) and never goes above it;
    never below 1. A statement timeout halves the size; a batch that took more than
    ``FAR_OVER`` times the budget shrinks it in proportion to the overrun (at most to an
    eighth at once); a full batch under ``WELL_UNDER`` of the budget grows it by half. In
    between it stays: one slow batch (a checkpoint flush, a lock wait) in the band moves
    nothing, and the size does not oscillate around the budget.
    """

    FAR_OVER = 2.0
    WELL_UNDER = 0.5
    GROWTH = 1.5
    MAX_CUT = 8

    def __init__(self, max_size: int, target_s: float) -> None:
        if max_size < 1:
            raise ValueError("batch_size must be at least 1")
        if target_s <= 0:
            raise ValueError("the batch time budget must be positive")
        self.max_size = max_size
        self.target_s = target_s
        self.size = max_size

    def timed_out(self) -> int:
        self.size = max(1, self.size // 2)
        return self.size

    def observe(self, seconds: float, scanned: int) -> int:
        """The size after a batch of ``scanned`` keys that took ``seconds``."""
        if seconds > self.FAR_OVER * self.target_s:
            proportional = int(self.size * self.target_s / seconds)
            self.size = max(1, -(-self.size // self.MAX_CUT), proportional)
        elif seconds < self.WELL_UNDER * self.target_s and scanned >= self.size:
            # scanned < size: the tail, which says nothing about a full batch
            self.size = min(self.max_size, math.ceil(self.size * self.GROWTH))
        return self.size


def drive_batches(
    run_batch: Callable[[int], BatchOutcome],
    classify: Callable[[Exception], BatchFailure | None],
    on_lost: Callable[[], None],
    result: BackfillResult,
    options: BackfillOptions,
    *,
    label: str,
    key_column: str,
    table: str = "",
    progress: Progress | None = None,
    done_base: int = 0,
    check_alive: Callable[[], None] | None = None,
    next_key: Callable[[], str | None] | None = None,
) -> None:
    """Run batches until one reaches the end key or scans nothing, adding them up in
    ``result``; every backend's backfill walks its keys with it.

    ``run_batch(size)`` runs (and commits) one batch of at most ``size`` keys after the
    checkpoint, reopening the connection first when it was lost. ``classify`` judges what
    it raised: None for an error that is not the database's (raised as it is), else a
    :class:`BatchFailure`; a :class:`ReconnectFailed` it raised counts as a lost
    connection. ``on_lost`` closes a lost connection. Retries wait
    :func:`~schemashift.execute.retry.backoff_delay`. The size follows a
    :class:`BatchSizer` aiming at ``options.batch_time_ms``; each batch is followed by a
    pause of ``options.pause_ratio`` times its duration, longer when
    ``options.rows_per_second`` asks for it. ``done_base``: rows walked by earlier runs
    (progress). ``check_alive`` is called before every batch (retries too); what it raises
    propagates unchanged. ``next_key()`` reads the first key after the checkpoint: the key
    a data error is pinned on. ``result.total_rows_done`` comes in as the checkpoint's
    rows_done at the start; ``result.rows_done`` is how far it has moved since.
    """
    budget_ms = DEFAULT_BATCH_TIME_MS if options.batch_time_ms is None else options.batch_time_ms
    sizer = BatchSizer(options.batch_size, budget_ms / 1000.0)
    max_retries, rows_per_second = options.max_retries, options.rows_per_second
    start_total = result.total_rows_done
    walk_started = time.monotonic()
    attempt = 0
    # Keys ahead that hold a row failing on its value: while > 0 the batches are split
    # (halved on each failure, committed when they pass) instead of sized by time.
    suspect = 0
    while True:
        if check_alive is not None:
            check_alive()
        size = sizer.size
        began = time.monotonic()
        try:
            batch = run_batch(size)
        except Exception as exc:
            failure = BatchFailure("lost") if isinstance(exc, ReconnectFailed) else classify(exc)
            if failure is None:
                raise
            if failure.kind == "data":
                if size == 1:
                    raise _data_error(exc, failure, label, table, key_column, next_key,
                                      result.last_key) from exc  # fmt: skip
                # Not contention: no backoff, and no limit beyond the log2(size) splits.
                if not suspect and progress is not None:
                    progress.note(f"a row fails the update ({failure.name}: "
                                  f"{_one_line(failure.message)}); narrowing it down")  # fmt: skip
                suspect = size
                sizer.size = max(1, size // 2)
                result.retries += 1
                continue
            timeout = failure.kind == "timeout"
            if not (failure.kind in ("retryable", "lost") or (timeout and size > 1)):
                raise BackfillError(
                    f"{label}: batch after {key_column} = {result.last_key} failed: "
                    f"{first_line(exc)}"
                ) from exc
            if attempt >= max_retries:
                raise BackfillError(
                    f"{label}: batch after {key_column} = {result.last_key} failed "
                    f"{attempt + 1} times, giving up: {first_line(exc)}"
                ) from exc
            attempt += 1
            result.retries += 1
            if timeout:
                why = f"{failure.name}, batch size now {sizer.timed_out()}"
            elif failure.kind == "lost":
                why = f"connection lost: {first_line(exc)}"
                on_lost()
            else:
                why = f"{failure.name}: {first_line(exc)}"
            delay = backoff_delay(attempt, options.backoff_base_s, options.backoff_cap_s)
            if progress is not None:
                progress.note(f"retry {attempt}/{max_retries} in {delay:.2f} s ({why})")
            time.sleep(delay)
            continue
        elapsed = time.monotonic() - began
        attempt = 0
        # The checkpoint row, not a sum kept here, is the count: a batch whose COMMIT
        # went through while the connection died is in it, though this loop retried.
        result.last_key = batch.last_key
        result.total_rows_done = batch.total_done
        result.rows_done = batch.total_done - start_total
        if batch.scanned == 0:
            break
        result.batches += 1
        result.rows_scanned += batch.scanned
        if result.sizes and result.sizes[-1][0] == size:
            result.sizes[-1] = (size, result.sizes[-1][1] + 1)
        else:
            result.sizes.append((size, 1))
        if suspect:
            suspect = max(0, suspect - batch.scanned)  # 0: walked past it, row fixed
        else:
            # The server's time when known: a row lock or WAL the apps wait behind lasts
            # that long, and a remote server's round trip would otherwise shrink the
            # batches to nothing (it is the same for 1 row as for 1000)
            ran = elapsed if batch.server_seconds is None else batch.server_seconds
            sizer.observe(ran, batch.scanned)
        if progress is not None:
            progress.update(done_base + result.rows_scanned, result.rows_done)
        if batch.tail:
            break
        pause = options.pause_ratio * elapsed
        if rows_per_second is not None:
            ahead = result.rows_scanned / rows_per_second - (time.monotonic() - walk_started)
            pause = max(pause, ahead)
        if pause > 0:
            time.sleep(pause)


def _data_error(
    exc: Exception,
    failure: BatchFailure,
    label: str,
    table: str,
    key_column: str,
    next_key: Callable[[], str | None] | None,
    last_key: str | None,
) -> BackfillDataError:
    key: str | None = None
    if next_key is not None:
        with contextlib.suppress(Exception):  # the message says "after …" instead
            key = next_key()
    message = _one_line(failure.message or first_line(exc))
    detail = _one_line(failure.detail)
    where = (
        f"the row with {key_column} = {_key_literal(key)}" if key is not None
        else f"a row after {key_column} = {_key_literal(last_key)}"
    )  # fmt: skip
    text = (
        f"{label}: {where} of {table or 'the table'} fails the update: "
        f"{message}{f' (DETAIL: {detail})' if detail else ''}"
        f"{f' [{failure.name}]' if failure.name else ''}; the rows before it are done: fix "
        "that row (or the SET clause) and run the backfill again, it resumes there"
    )
    return BackfillDataError(text, table=table, column=key_column, key=key,
                             code=failure.name, server_message=message,
                             detail=detail)  # fmt: skip


def _key_literal(key: str | None) -> str:
    if key is None:
        return "NULL (the start)"
    if re.fullmatch(r"-?\d+", key):
        return key
    return "'" + key.replace("'", "''") + "'"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def finish_backfill(result: BackfillResult, started: float, progress: Progress | None) -> None:
    """Set the run's duration and write the final progress line (its totals are the
    checkpoint's)."""
    result.seconds = time.monotonic() - started
    if progress is not None:
        this_run = (
            f" ({result.rows_done:,} by this run)" if result.rows_done != result.total_rows_done
            else ""
        )  # fmt: skip
        progress.finish(
            f"done, {result.total_rows_done:,} rows updated{this_run}, "
            f"{result.rows_scanned:,} walked in {result.batches} batches, "
            f"{result.seconds:.1f} s" + (f", {result.retries} retries" if result.retries else "")
        )


# --------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class WalkStart:
    """Where a backend's backfill starts, read by :meth:`BackfillDriver.prepare`."""

    label: str  # "backfill public.users (m1 step 1)": progress lines and errors
    table: str  # the table as messages name it
    key_column: str
    estimate: int | None  # rows in the table (progress total), None when unknown
    resumed_from: str | None  # the checkpoint's key (None: from the start)
    total_done: int  # the checkpoint's rows_done
    end_key: str | None  # the highest key when the run starts (None: an empty table)


class BackfillDriver(Protocol):
    """One backend's backfill: its connection, its statements and its errors.

    :func:`run_driver` calls :meth:`prepare` once, then :meth:`run_batch` until the walk
    reaches the end key, and :meth:`close` at the end whatever happened. The driver owns
    its connection: :meth:`lost` closes one that was lost, and the next :meth:`run_batch`
    or :meth:`key_after_checkpoint` opens a new one (its failure raised as
    :class:`ReconnectFailed`, see :func:`reopen`).
    """

    def prepare(self) -> WalkStart:
        """Open the connection, make sure the checkpoint table and this step's row exist,
        resolve the key, and read the checkpoint and the end key."""

    def run_batch(self, end_key: str, size: int, number: int) -> BatchOutcome:
        """One batch of at most ``size`` keys after the checkpoint (up to ``end_key``) in
        one transaction with its checkpoint; ``number``: the batch's number in this run."""

    def classify(self, exc: Exception) -> BatchFailure | None:
        """What an error a batch raised means (None: not the database's)."""

    def lost(self) -> None:
        """Close a connection that was lost; the next batch reopens it."""

    def key_after_checkpoint(self) -> str | None:
        """The first key after the checkpoint: where a row failing on its value is."""

    def close(self) -> None:
        """Close the connection (quietly: it may be gone)."""


def run_driver(
    driver: BackfillDriver,
    options: BackfillOptions,
    *,
    progress: Progress | None = None,
    check_alive: Callable[[], None] | None = None,
) -> BackfillResult:
    """Run (or resume) one backfill step with ``driver``: read the checkpoint, walk from it
    to the end key with :func:`drive_batches`, report. The driver is closed at the end."""
    started = time.monotonic()
    try:
        start = driver.prepare()
        if progress is not None:
            note = (f", resuming after {start.key_column} = {start.resumed_from}"
                    if start.resumed_from else "")  # fmt: skip
            progress.start(start.label, start.estimate,
                           start.total_done if start.resumed_from else 0, note)  # fmt: skip
        result = BackfillResult(0, 0, 0.0, start.resumed_from, last_key=start.resumed_from,
                                total_rows_done=start.total_done)  # fmt: skip
        if start.end_key is not None:
            end: str = start.end_key

            def one_batch(size: int) -> BatchOutcome:
                return driver.run_batch(end, size, result.batches + 1)

            try:
                drive_batches(
                    one_batch, driver.classify, driver.lost, result, options,
                    label=start.label, key_column=start.key_column, table=start.table,
                    progress=progress,
                    done_base=start.total_done if start.resumed_from else 0,
                    check_alive=check_alive, next_key=driver.key_after_checkpoint,
                )  # fmt: skip
            except BaseException:
                if progress is not None:
                    progress.finish(
                        f"stopped after {result.batches} batches of this run (checkpoint: "
                        f"{result.last_key}); run it again to resume"
                    )
                raise
        finish_backfill(result, started, progress)
        return result
    finally:
        driver.close()


def reopen(open_connection: Callable[[], Any]) -> Any:
    """A new connection for one lost: its failure is a :class:`ReconnectFailed`."""
    try:
        return open_connection()
    except Exception as exc:
        raise ReconnectFailed(f"reconnecting failed: {first_line(exc)}") from exc


B = TypeVar("B")  # a backend's batcher: the prepared statements of one backfill step


class DriverBase(Generic[B]):
    """What every backend's driver holds: how to connect, the step it runs, its options,
    the test hook, its one connection (dropped when lost, reopened on next use) and the
    batcher ``prepare`` makes."""

    def __init__(self, connect: Callable[[], Any], backfill: Backfill, options: BackfillOptions,
                 *, migration: str, step: int, after_update: BatchHook | None = None,
                 ) -> None:  # fmt: skip
        self._connect = connect
        self.backfill = backfill
        self.options = options
        self.migration, self.step = migration, step
        self._after_update = after_update
        self.conn: Any = None
        self._batcher: B | None = None

    @property
    def batcher(self) -> B:
        assert self._batcher is not None, "prepare() first"
        return self._batcher

    def lost(self) -> None:
        if self.conn is not None:
            close_quietly(self.conn)
        self.conn = None

    def close(self) -> None:
        self.lost()


def close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):  # already gone
        conn.close()


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
