"""The backfill phase on PostgreSQL: keyset-paginated batches, checkpointed, resumable.

A :class:`~schemashift.phases.plan.Backfill` says which table, the ``SET`` clause, the
condition of rows that still need it and the key to page on. :func:`run_backfill` walks
the key in ranges of ``batch_size`` rows, one short transaction per batch:

1. ``set_config(…, true)``, local to the batch: ``statement_timeout``, ``lock_timeout``,
   ``synchronous_commit`` (off unless asked) and ``schemashift.backfill = on`` (the sync
   trigger of sqltext/triggers.py skips the backfill's own updates);
2. lock and read the checkpoint row (``SELECT … FOR UPDATE``). The checkpoint in the
   database, not a copy in memory, says where the batch starts: a second run of the same
   step queues behind this one instead of repeating its batches, and a run resumed while
   the killed run's last ``COMMIT`` is still in flight reads what that commit wrote;
3. one statement: take the next ``batch_size`` keys after the checkpoint (an index range
   scan), and ``UPDATE … WHERE key > last AND key <= <the batch's highest key> AND
   (pending)``. The range, not a list of keys, bounds the update, so rows inserted into
   the range meanwhile are covered too and no key is looked up twice;
4. move the checkpoint to the batch's highest *scanned* key (not the highest updated one:
   rows that needed nothing are done as well) and add the rows updated;
5. ``COMMIT``. Steps 3 and 4 commit together or not at all: a run killed at any point
   resumes exactly after the last committed batch, redoing and skipping nothing.

The walk stops at the highest key that existed when the run started. Rows the apps
insert or update after that are the sync trigger's job (expand installs it before the
backfill starts), as are rows inserted behind the checkpoint.

The batch size aims at a time budget (``batch_time_ms``, default 150 ms) rather than a
fixed row count: a batch's row locks are held until its commit, so its duration is what
an app's write to one of its rows may wait. :class:`BatchSizer` starts at ``batch_size``
(also the most it ever uses), halves on a statement timeout, shrinks in proportion after
a batch far over budget and grows by half again (back up to ``batch_size``) after batches
well under it, never below 1.

A batch that hits a lock timeout, a deadlock or a serialization failure is retried with
exponential backoff and jitter; one that hits ``statement_timeout`` is retried at half the
size; a dropped connection is reopened (the checkpoint says where to go on). A batch that
fails on a row's value (SQLSTATE classes 22 and 23: a bad cast, a value too long, NOT
NULL, unique, CHECK) is retried in halves, each half that passes committed, down to the
one key that fails; :class:`BackfillDataError` then names it (table, key column, value,
the server's message and DETAIL) with the checkpoint just before it, so a run after the
row is fixed resumes there. ``check_alive`` (the runner's run-lock check) is called before
every batch; what it raises stops the backfill between batches and propagates as it is.

The totals a run reports (:class:`BackfillResult`, the last progress line) are the
checkpoint row's ``rows_done``, not counters in memory: a batch that committed while its
connection was lost (the ``COMMIT`` acknowledgement never arrived) and batches of earlier,
killed runs are counted all the same. Running a finished backfill again scans nothing new
and returns at once.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import psycopg
from psycopg import sql

from schemashift.execute.database import DatabaseError
from schemashift.execute.retry import backoff_delay
from schemashift.phases.plan import Backfill
from schemashift.sqltext.triggers import BACKFILL_SETTING, split_name

__all__ = ["DEFAULT_BATCH_TIME_MS", "BackfillDataError", "BackfillError", "BackfillResult",
           "BatchFailure", "BatchOutcome", "BatchSizer", "KeyInfo", "Progress",
           "drive_batches", "finish_backfill", "resolve_key", "run_backfill"]  # fmt: skip

# lock_not_available (lock_timeout), deadlock_detected, serialization_failure
RETRYABLE_SQLSTATES = frozenset({"55P03", "40P01", "40001"})
QUERY_CANCELED = "57014"  # statement_timeout (or a cancel request)
# data_exception, integrity_constraint_violation: a row's value, not the batch, is at fault
DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})
DEFAULT_BATCH_TIME_MS = 150

_PLACEHOLDER = re.compile(r"\{(pk|type):([^{}]+)\}")
# Below this size a table with no statistics is counted for the progress total.
_COUNT_LIMIT_BYTES = 256 * 1024 * 1024

Connection = psycopg.Connection[Any]
BatchHook = Callable[[Connection, int], None]


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


@dataclass(frozen=True)
class KeyInfo:
    oid: int
    schema: str
    table: str
    column: str
    type: str  # format_type(): what a text checkpoint is cast back to
    primary: bool  # the primary key (else a unique index, or a column the plan named)

    @property
    def table_sql(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)


# --------------------------------------------------------------------------- progress


class Progress:
    """Rows done of the total, rate and ETA on stderr.

    On a terminal: one line redrawn in place (``\\r``) at most ``redraws_per_second``
    times a second. Otherwise (CI logs, files): a plain line every ``interval`` seconds.
    ``quiet``: nothing at all.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        interval: float = 5.0,
        tty: bool | None = None,
        redraws_per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self.quiet = quiet
        self.interval = interval
        self._tty = tty
        self._min_redraw = 1.0 / redraws_per_second if redraws_per_second > 0 else 0.0
        self._clock = clock
        self.label = "backfill"
        self.total: int | None = None
        self.done = 0
        self.written = 0
        self._start_done = 0
        self._started = 0.0
        self._last_out = -math.inf
        self._samples: deque[tuple[float, int]] = deque()
        self._drawn = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def is_tty(self) -> bool:
        if self._tty is not None:
            return self._tty
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed stream
            return False

    def start(self, label: str, total: int | None, done: int = 0, note: str = "") -> None:
        now = self._clock()
        self.label, self.total, self.done, self.written = label, total, done, 0
        self._start_done, self._started = done, now
        self._samples = deque([(now, done)])
        self._drawn = False
        self._last_out = now  # the first log line comes `interval` seconds in
        if self.quiet:
            return
        if self.is_tty:
            self._draw(now)
        else:
            total_text = f"{total:,}" if total is not None else "unknown"
            self._line(f"{label}: starting, about {total_text} rows{note}")

    def update(self, done: int, written: int | None = None) -> None:
        """``done``: rows walked so far (of ``total``); ``written``: rows updated so far."""
        now = self._clock()
        self.done = done
        if written is not None:
            self.written = written
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 10.0:
            self._samples.popleft()
        if self.quiet:
            return
        if self.is_tty:
            if now - self._last_out >= self._min_redraw:
                self._draw(now)
        elif now - self._last_out >= self.interval:
            self._last_out = now
            self._line(f"{self.label}: {self._summary(now)}")

    def note(self, text: str) -> None:
        """A message between updates (a retry, say): its own line, the bar redrawn after."""
        if self.quiet:
            return
        if self.is_tty:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self._drawn = False
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()
            self._last_out = -math.inf
        else:
            self._line(f"{self.label}: {text}")

    def finish(self, message: str | None = None) -> None:
        now = self._clock()
        if self.quiet:
            return
        text = message or f"done, {self.written:,} rows updated in {now - self._started:.1f} s"
        if self.is_tty:
            if self._drawn:
                self.stream.write("\r\x1b[K")
            self.stream.write(f"{self.label}: {text}\n")
            self.stream.flush()
        else:
            self._line(f"{self.label}: {text}")

    # -- figures -----------------------------------------------------------------------

    def rate(self, now: float | None = None) -> float | None:
        """Rows per second over the last ~10 s (None before there is a measurable span)."""
        now = self._clock() if now is None else now
        t0, d0 = self._samples[0]
        span = now - t0
        if span <= 0.05:
            return None
        return max(0.0, (self.done - d0) / span)

    def eta(self, now: float | None = None) -> float | None:
        rate = self.rate(now)
        if self.total is None or not rate:
            return None
        return max(0, self.total - self.done) / rate

    def _summary(self, now: float) -> str:
        parts = [f"{self.done:,}/{self.total:,} rows" if self.total is not None
                 else f"{self.done:,} rows"]  # fmt: skip
        if self.total:
            parts[0] += f" ({min(100.0, 100.0 * self.done / self.total):.0f}%)"
        rate = self.rate(now)
        if rate is not None:
            parts.append(f"{rate:,.0f} rows/s")
        eta = self.eta(now)
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        return ", ".join(parts)

    def _draw(self, now: float) -> None:
        self._last_out = now
        bar = ""
        if self.total:
            width = 24
            filled = min(width, int(width * self.done / self.total))
            bar = "[" + "#" * filled + "-" * (width - filled) + "] "
        self.stream.write(f"\r{self.label}: {bar}{self._summary(now)}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"{stamp} schemashift: {text}\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --------------------------------------------------------------------------- the driver


@dataclass
class BatchOutcome:
    """What one committed batch did (either dialect)."""

    last_key: str | None  # the checkpoint after it (unchanged when it scanned nothing)
    scanned: int
    updated: int
    total_done: int  # the checkpoint's rows_done after it
    tail: bool  # it reached the end key


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
    *,
    label: str,
    key_column: str,
    batch_size: int,
    rows_per_second: float | None,
    max_retries: int,
    backoff_base_s: float,
    backoff_cap_s: float,
    progress: Progress | None,
    done_base: int,
    batch_time_ms: float = DEFAULT_BATCH_TIME_MS,
    check_alive: Callable[[], None] | None = None,
    next_key: Callable[[], str | None] | None = None,
    table: str = "",
) -> None:
    """Run batches until one reaches the end key or scans nothing, adding them up in
    ``result``; every dialect's backfill walks its keys with it.

    ``run_batch(size)`` runs (and commits) one batch of at most ``size`` keys after the
    checkpoint, reopening the connection first when it was lost. ``classify`` judges what
    it raised: None for an error that is not the database's (raised as it is), else a
    :class:`BatchFailure`; a :class:`ReconnectFailed` it raised counts as a lost
    connection. ``on_lost`` closes a lost connection. Retries wait
    :func:`~schemashift.execute.retry.backoff_delay`; ``rows_per_second`` caps the
    average rate of rows walked. ``done_base``: rows walked by earlier runs (progress).
    The size follows a :class:`BatchSizer` aiming at ``batch_time_ms``. ``check_alive``
    is called before every batch (retries too); what it raises propagates unchanged.
    ``next_key()`` reads the first key after the checkpoint: the key a data error is
    pinned on. ``result.total_rows_done`` comes in as the checkpoint's rows_done at the
    start; ``result.rows_done`` is how far it has moved since.
    """
    sizer = BatchSizer(batch_size, batch_time_ms / 1000.0)
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
                    f"{_first_line(exc)}"
                ) from exc
            if attempt >= max_retries:
                raise BackfillError(
                    f"{label}: batch after {key_column} = {result.last_key} failed "
                    f"{attempt + 1} times, giving up: {_first_line(exc)}"
                ) from exc
            attempt += 1
            result.retries += 1
            if timeout:
                why = f"{failure.name}, batch size now {sizer.timed_out()}"
            elif failure.kind == "lost":
                why = f"connection lost: {_first_line(exc)}"
                on_lost()
            else:
                why = f"{failure.name}: {_first_line(exc)}"
            delay = backoff_delay(attempt, backoff_base_s, backoff_cap_s)
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
            sizer.observe(elapsed, batch.scanned)
        if progress is not None:
            progress.update(done_base + result.rows_scanned, result.rows_done)
        if batch.tail:
            break
        if rows_per_second is not None:
            ahead = result.rows_scanned / rows_per_second - (time.monotonic() - walk_started)
            if ahead > 0:
                time.sleep(ahead)


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
    message = _one_line(failure.message or _first_line(exc))
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


# --------------------------------------------------------------------------- key


def resolve_table(conn: Connection, table: str) -> tuple[int, str, str]:
    """(oid, schema, name) of ``table`` (``users``, ``app.users``, ``"My Table"``)."""
    try:
        split_name(table)
    except ValueError as exc:
        raise BackfillError(f"backfill: bad table name {table!r}: {exc}") from None
    candidates = [table]
    if not table.lstrip().startswith('"'):  # a catalog name given unquoted ("Users")
        candidates.append(".".join('"' + p.replace('"', '""') + '"' for p in _raw_parts(table)))
    for candidate in candidates:
        row = conn.execute(
            "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
            (candidate,),
        ).fetchone()
        if row is not None:
            if row[3] not in ("r", "p"):
                raise BackfillError(f"backfill: {table} is not a table (relkind {row[3]!r})")
            return int(row[0]), str(row[1]), str(row[2])
    raise BackfillError(f"backfill: table {table} does not exist (search_path or schema?)")


def _raw_parts(name: str) -> list[str]:
    return [p.strip() for p in name.split(".")]


def resolve_key(conn: Connection, table: str, key: str = "{pk:table}") -> KeyInfo:
    """The column to page on: for ``{pk:…}`` the table's single-column primary key, else a
    unique index on one NOT NULL column; or the named column, which must be NOT NULL and
    lead a valid btree index (it need not be unique: batches are key ranges, so equal keys
    share a batch)."""
    oid, schema, name = resolve_table(conn, table)
    where = f"{schema}.{name}"
    placeholder = _PLACEHOLDER.fullmatch(key.strip())
    if placeholder is not None and placeholder.group(1) == "pk":
        ref = placeholder.group(2).strip()
        if ref not in ("table", table):
            oid, schema, name = resolve_table(conn, ref)
            where = f"{schema}.{name}"
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), i.indisprimary, "
            "i.indnkeyatts, a.attnotnull, i.indisunique, "
            "(i.indpred IS NULL AND i.indexprs IS NULL AND i.indisvalid) "
            "FROM pg_index i LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s AND (i.indisprimary OR i.indisunique) "
            "ORDER BY i.indisprimary DESC, i.indexrelid",
            (oid,),
        ).fetchall()
        primary = [r for r in rows if r[2]]
        if primary and primary[0][3] == 1 and primary[0][0] is not None:
            return KeyInfo(oid, schema, name, str(primary[0][0]), str(primary[0][1]), True)
        for r in rows:
            if not r[2] and r[3] == 1 and r[0] is not None and r[4] and r[5] and r[6]:
                return KeyInfo(oid, schema, name, str(r[0]), str(r[1]), False)
        why = (
            f"its primary key has {primary[0][3]} columns" if primary
            else "it has no primary key"
        )  # fmt: skip
        raise BackfillError(
            f"backfill: cannot page through {where}: {why} and no unique index on a single "
            "NOT NULL column; add one (CREATE UNIQUE INDEX CONCURRENTLY) or name the key "
            "column in the plan"
        )
    if placeholder is not None:
        raise BackfillError(f"backfill: key {key!r} is not a column or {{pk:table}}")
    try:
        parts = split_name(key)
    except ValueError as exc:
        raise BackfillError(f"backfill: bad key column {key!r}: {exc}") from None
    if len(parts) != 1:
        raise BackfillError(f"backfill: key must be a column of {where}, got {key!r}")
    # Quoted: verbatim. Unquoted: the catalog spelling as given first (the runner resolves
    # {pk:…} to the catalog's name), then folded to lower case as SQL would.
    names = [parts[0]] if key.strip().startswith('"') else [key.strip(), parts[0]]
    for column in names:
        row = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND "
            "i.indisprimary AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum), "
            "EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = ic.relam WHERE i.indrelid = a.attrelid AND "
            "i.indkey[0] = a.attnum AND am.amname = 'btree' AND i.indisvalid AND "
            "i.indpred IS NULL) "
            "FROM pg_attribute a WHERE a.attrelid = %s AND a.attname = %s "
            "AND a.attnum > 0 AND NOT a.attisdropped",
            (oid, column),
        ).fetchone()
        if row is None:
            continue
        if not row[2]:
            raise BackfillError(
                f"backfill: key column {where}.{row[0]} is nullable: rows with a NULL key "
                "would never be visited; page on a NOT NULL column"
            )
        if not row[4]:
            raise BackfillError(
                f"backfill: no index leads with key column {where}.{row[0]}: every batch "
                "would scan and sort the table; CREATE INDEX CONCURRENTLY on it first, or "
                "page on the primary key"
            )
        return KeyInfo(oid, schema, name, str(row[0]), str(row[1]), bool(row[3]))
    raise BackfillError(f"backfill: key column {key!r} not found in {where}")


# --------------------------------------------------------------------------- checkpoint


def _progress_table(state_schema: str) -> sql.Identifier:
    return sql.Identifier(state_schema, "backfill_progress")


def ensure_progress_table(conn: Connection, state_schema: str = "schemashift") -> None:
    """Create ``<state_schema>.backfill_progress`` if missing (the same layout the state
    module creates; serialised on the same advisory lock)."""
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL",
        (sql.Identifier(state_schema, "backfill_progress").as_string(conn),),
    ).fetchone()
    if exists and exists[0]:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('schemashift:layout'))")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(state_schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (\n"
                "    migration text NOT NULL,\n"
                "    step int NOT NULL,\n"
                "    last_key text,\n"
                "    rows_done bigint NOT NULL DEFAULT 0,\n"
                "    rows_total_estimate bigint,\n"
                "    updated_at timestamptz NOT NULL DEFAULT now(),\n"
                "    PRIMARY KEY (migration, step))"
            ).format(_progress_table(state_schema))
        )


def estimate_rows(conn: Connection, oid: int, table_sql: sql.Identifier) -> int | None:
    """Rows in the table: ``pg_class.reltuples`` (summed over partitions), or a count when
    there are no statistics yet and the table is small, or a 1 % sample when it is not."""
    row = conn.execute(
        "SELECT sum(c.reltuples) FILTER (WHERE c.reltuples >= 0), "
        "bool_or(c.reltuples < 0 AND c.relkind = 'r'), "
        "sum(pg_relation_size(c.oid)) "
        "FROM pg_partition_tree(%s::regclass) p JOIN pg_class c ON c.oid = p.relid "
        "WHERE p.isleaf",
        (oid,),
    ).fetchone()
    if row is None:
        return None
    known, unanalysed, size = row
    if not unanalysed and known is not None:
        return int(known)
    if size is None or int(size) <= _COUNT_LIMIT_BYTES:
        counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table_sql)).fetchone()
        return int(counted[0]) if counted else None
    sampled = conn.execute(
        sql.SQL("SELECT count(*) * 100 FROM {} TABLESAMPLE SYSTEM (1)").format(table_sql)
    ).fetchone()
    return int(sampled[0]) if sampled else None


# --------------------------------------------------------------------------- the run


def _escape_percent(fragment: str) -> str:
    """SQL text from the plan goes into a query with %(name)s parameters."""
    return fragment.replace("%", "%%")


class _Batcher:
    """The per-batch statements for one backfill, built once."""

    def __init__(self, conn: Connection, key: KeyInfo, backfill: Backfill, state_schema: str,
                 migration: str, step: int) -> None:  # fmt: skip
        self.key = key
        self.ident = {"migration": migration, "step": step}
        # The runner resolved the plan's references; the text is taken as it is (a name may
        # hold braces). Names and text go into statements with %(name)s parameters: every
        # % in them is escaped, a name's included ("pct%s" is a table, not a parameter).
        assignments, pending = backfill.assignments.strip(), backfill.pending.strip()
        if not assignments:
            raise BackfillError("backfill: empty SET clause")
        k = sql.SQL(_escape_percent(sql.Identifier(key.column).as_string(conn)))
        ktype = sql.SQL(_escape_percent(key.type))
        parts = {
            "t": sql.SQL(_escape_percent(key.table_sql.as_string(conn))),
            "k": k,
            "ktype": ktype,
            "assignments": sql.SQL(_escape_percent(assignments)),
            "pending": sql.SQL(_escape_percent(pending) if pending else "true"),
        }
        # The batch's upper bound is the n-th key after the checkpoint (an index-only skip
        # over n entries), or the end key when fewer remain (the tail; only then are the
        # remaining keys counted, for progress). The UPDATE is bounded by the key range.
        template = (
            "WITH _ss_nth AS MATERIALIZED (\n"
            "    SELECT (SELECT {k} FROM {t} WHERE {lower} {k} <= %(end)s::{ktype}\n"
            "            ORDER BY {k} OFFSET %(n)s - 1 LIMIT 1) AS _ss_k\n"
            "), _ss_bound AS MATERIALIZED (\n"
            "    SELECT coalesce(_ss_k, %(end)s::{ktype}) AS _ss_hi, _ss_k IS NULL AS _ss_tail\n"
            "    FROM _ss_nth\n"
            "), _ss_update AS (\n"
            "    UPDATE {t} SET {assignments}\n"
            "    WHERE {lower} {k} <= (SELECT _ss_hi FROM _ss_bound) AND ({pending})\n"
            "    RETURNING 1\n"
            ")\n"
            "SELECT _ss_hi::text, _ss_tail,\n"
            "       CASE WHEN _ss_tail THEN (SELECT count(*) FROM {t}\n"
            "           WHERE {lower} {k} <= %(end)s::{ktype}) ELSE %(n)s END,\n"
            "       (SELECT count(*) FROM _ss_update)\n"
            "FROM _ss_bound"
        )
        lower = sql.SQL("{k} > %(last)s::{ktype} AND").format(k=k, ktype=ktype)
        self.first_batch = sql.SQL(template).format(lower=sql.SQL(""), **parts)
        self.next_batch = sql.SQL(template).format(lower=lower, **parts)
        self.max_key = sql.SQL(
            "SELECT {k}::text AS _ss_end FROM {t} ORDER BY {k} DESC LIMIT 1"
        ).format(k=sql.Identifier(key.column), t=key.table_sql)
        # The first key after the checkpoint: where a batch failing on a value is pinned.
        # (An alias: ORDER BY would take the output column of the same name, the text.)
        key_after = "SELECT {k}::text AS _ss_key FROM {t} WHERE {lower} true ORDER BY {k} LIMIT 1"
        self.first_key = sql.SQL(key_after).format(lower=sql.SQL(""), k=k, t=parts["t"])
        self.key_after = sql.SQL(key_after).format(lower=lower, k=k, t=parts["t"])
        table = _progress_table(state_schema)
        self.lock_checkpoint = sql.SQL(
            "SELECT last_key, rows_done FROM {} WHERE migration = %(migration)s "
            "AND step = %(step)s FOR UPDATE"
        ).format(table)
        self.save_checkpoint = sql.SQL(
            "UPDATE {} SET last_key = %(last)s, rows_done = rows_done + %(rows)s, "
            "updated_at = now() WHERE migration = %(migration)s AND step = %(step)s"
        ).format(table)
        # No row lock here: a killed run's batch may still hold it until its backend
        # notices; the batches wait for it (under lock_timeout, with retries).
        self.init_checkpoint = sql.SQL(
            "INSERT INTO {} (migration, step, last_key, rows_done, rows_total_estimate) "
            "VALUES (%(migration)s, %(step)s, NULL, 0, %(estimate)s) "
            "ON CONFLICT (migration, step) DO NOTHING"
        ).format(table)
        self.read_checkpoint = sql.SQL(
            "SELECT last_key, rows_done, rows_total_estimate FROM {} "
            "WHERE migration = %(migration)s AND step = %(step)s"
        ).format(table)


def run_backfill(
    connect: Callable[[], Connection],
    backfill: Backfill,
    *,
    migration: str,
    step: int,
    batch_size: int = 5000,
    rows_per_second: float | None = None,
    statement_timeout_ms: int = 30_000,
    progress: Progress | None = None,
    state_schema: str = "schemashift",
    lock_timeout_ms: int = 1_000,
    max_retries: int = 8,
    backoff_base_s: float = 0.2,
    backoff_cap_s: float = 10.0,
    synchronous_commit: bool = False,
    batch_time_ms: float = DEFAULT_BATCH_TIME_MS,
    check_alive: Callable[[], None] | None = None,
    _after_update: BatchHook | None = None,
) -> BackfillResult:
    """Run (or resume) one backfill step; see the module docstring.

    ``connect`` opens a new connection (this function owns and closes it).
    ``batch_size`` is the first and the largest batch; ``batch_time_ms`` the time each
    batch aims at (:class:`BatchSizer`). ``check_alive`` is called before every batch: what
    it raises stops the backfill there (every committed batch has its checkpoint) and
    propagates unchanged.
    ``rows_per_second`` caps the average rate of rows walked (sleeping between batches).
    ``synchronous_commit``: off by default for the batch transactions. A server crash can
    then lose the last few committed batches, but each together with its checkpoint
    (they share a commit record), so the resumed run redoes exactly those; the batches no
    longer wait for a WAL flush each, and the apps' commits stop queueing behind them.
    ``_after_update`` (tests): called inside each batch's transaction after the UPDATE and
    before the checkpoint write, with the connection and the batch's number in this call.
    """
    check_arguments(batch_size, rows_per_second, batch_time_ms)
    started = time.monotonic()
    conn = _open(connect)
    shown = finished = False
    result = BackfillResult(0, 0, 0.0, None)
    try:
        ensure_progress_table(conn, state_schema)
        key = resolve_key(conn, backfill.table, backfill.key)
        batcher = _Batcher(conn, key, backfill, state_schema, migration, step)
        estimate = estimate_rows(conn, key.oid, key.table_sql)
        conn.execute(batcher.init_checkpoint, {**batcher.ident, "estimate": estimate})
        row = conn.execute(batcher.read_checkpoint, batcher.ident).fetchone()
        if row is None:
            raise BackfillError(f"backfill: the checkpoint of {migration} step {step} vanished")
        resumed_from: str | None = row[0]
        total_done = int(row[1])
        if estimate is None or (row[2] is not None and resumed_from is not None):
            estimate = row[2]  # the table as the first run found it
        end_row = conn.execute(batcher.max_key).fetchone()
        end_key: str | None = end_row[0] if end_row else None

        label = f"backfill {key.schema}.{key.table} ({migration} step {step})"
        if progress is not None:
            note = f", resuming after {key.column} = {resumed_from}" if resumed_from else ""
            progress.start(label, estimate, total_done if resumed_from else 0, note)
            shown = True
        done_base = total_done if resumed_from else 0

        result = BackfillResult(0, 0, 0.0, resumed_from, last_key=resumed_from,
                                total_rows_done=total_done)  # fmt: skip
        if end_key is not None:
            end: str = end_key
            sync = "on" if synchronous_commit else "off"

            def one_batch(size: int) -> BatchOutcome:
                nonlocal conn
                if conn.closed:
                    conn = reopen(lambda: _open(connect))
                return _run_batch(conn, batcher, end, size, statement_timeout_ms,
                                  lock_timeout_ms, _after_update, result.batches + 1,
                                  sync)  # fmt: skip

            def next_key() -> str | None:
                nonlocal conn
                if conn.closed:
                    conn = reopen(lambda: _open(connect))
                row = conn.execute(batcher.read_checkpoint, batcher.ident).fetchone()
                last = None if row is None else row[0]
                query = batcher.first_key if last is None else batcher.key_after
                found = conn.execute(query, {"last": last}).fetchone()
                return None if found is None else str(found[0])

            drive_batches(
                one_batch,
                lambda exc: _classify(exc, conn),
                lambda: _close_quietly(conn),
                result,
                label=label,
                key_column=key.column,
                batch_size=batch_size,
                rows_per_second=rows_per_second,
                max_retries=max_retries,
                backoff_base_s=backoff_base_s,
                backoff_cap_s=backoff_cap_s,
                progress=progress,
                done_base=done_base,
                batch_time_ms=batch_time_ms,
                check_alive=check_alive,
                next_key=next_key,
                table=f"{key.schema}.{key.table}",
            )
        finish_backfill(result, started, progress)
        finished = True
        return result
    finally:
        if shown and not finished and progress is not None:
            progress.finish(
                f"stopped after {result.batches} batches of this run (checkpoint: "
                f"{result.last_key}); run it again to resume"
            )
        _close_quietly(conn)


def _run_batch(
    conn: Connection,
    b: _Batcher,
    end_key: str,
    size: int,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    hook: BatchHook | None,
    number: int,
    sync: str,
) -> BatchOutcome:
    with conn.transaction():
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true), "
            "set_config('lock_timeout', %s, true), set_config('synchronous_commit', %s, true), "
            "set_config(%s, 'on', true)",
            (str(int(statement_timeout_ms)), str(int(lock_timeout_ms)), sync, BACKFILL_SETTING),
        )
        row = conn.execute(b.lock_checkpoint, b.ident).fetchone()
        if row is None:
            raise BackfillError(
                f"backfill: the checkpoint of {b.ident['migration']} step {b.ident['step']} "
                "disappeared (rolled back meanwhile?)"
            )
        last, total_done = row[0], int(row[1])
        params = {"last": last, "end": end_key, "n": size}
        query = b.first_batch if last is None else b.next_batch
        hi, tail, scanned, updated = _one(conn.execute(query, params).fetchone())
        if hook is not None:
            hook(conn, number)
        if not scanned:
            return BatchOutcome(last, 0, 0, total_done, True)
        conn.execute(b.save_checkpoint, {**b.ident, "last": hi, "rows": updated})
    return BatchOutcome(hi, int(scanned), int(updated), total_done + int(updated), bool(tail))


def _classify(exc: Exception, conn: Connection) -> BatchFailure | None:
    if not isinstance(exc, psycopg.Error):
        return None
    state = exc.sqlstate
    if state == QUERY_CANCELED and "statement timeout" in str(exc):
        return BatchFailure("timeout", "statement_timeout")
    lost = isinstance(exc, psycopg.OperationalError) and state is None
    if conn.closed or conn.broken or lost:
        return BatchFailure("lost")
    if state in RETRYABLE_SQLSTATES:
        return BatchFailure("retryable", str(state))
    if state is not None and state[:2] in DATA_SQLSTATE_CLASSES:
        diag = exc.diag
        return BatchFailure("data", state, diag.message_primary or _first_line(exc),
                            diag.message_detail or "")  # fmt: skip
    return BatchFailure("fatal")


def check_arguments(batch_size: int, rows_per_second: float | None,
                  batch_time_ms: float) -> None:  # fmt: skip
    """The arguments every dialect's run_backfill checks first."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if rows_per_second is not None and rows_per_second <= 0:
        raise ValueError("rows_per_second must be positive")
    if batch_time_ms <= 0:
        raise ValueError("batch_time_ms must be positive")


def _one(row: tuple[Any, ...] | None) -> tuple[Any, ...]:
    assert row is not None
    return row


def _open(connect: Callable[[], Connection]) -> Connection:
    conn = connect()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    conn.autocommit = True
    return conn


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # already gone
        conn.close()


def reopen(open_connection: Callable[[], Any]) -> Any:
    """A new connection for one lost: its failure is a :class:`ReconnectFailed`."""
    try:
        return open_connection()
    except Exception as exc:
        raise ReconnectFailed(f"reconnecting failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def walk_from_checkpoint(
    holder: list[Any],
    reconnect: Callable[[], Any],
    run_batch: Callable[[Any, str, int, int], BatchOutcome],
    classify: Callable[[Exception], BatchFailure | None],
    close: Callable[[Any], None],
    *,
    label: str,
    table: str,
    key_column: str,
    estimate: int | None,
    resumed_from: str | None,
    total_done: int,
    end_key: str | None,
    started: float,
    batch_size: int,
    rows_per_second: float | None,
    max_retries: int,
    backoff_base_s: float,
    backoff_cap_s: float,
    progress: Progress | None,
    batch_time_ms: float = DEFAULT_BATCH_TIME_MS,
    check_alive: Callable[[], None] | None = None,
    next_key: Callable[[Any], str | None] | None = None,
) -> BackfillResult:
    """Walk from a checkpoint to ``end_key`` with ``drive_batches``: the part the MySQL and
    SQLite backfills share once they have read their checkpoint. ``holder[0]`` is the
    connection; ``reconnect()`` replaces a lost one, and the caller closes what is left.
    ``next_key(conn)``: the first key after the checkpoint (see :func:`drive_batches`)."""
    if progress is not None:
        note = f", resuming after {key_column} = {resumed_from}" if resumed_from else ""
        progress.start(label, estimate, total_done if resumed_from else 0, note)
    result = BackfillResult(0, 0, 0.0, resumed_from, last_key=resumed_from,
                            total_rows_done=total_done)  # fmt: skip
    if end_key is not None:
        end: str = end_key

        def connection() -> Any:
            if holder[0] is None:
                holder[0] = reopen(reconnect)
            return holder[0]

        def one_batch(size: int) -> BatchOutcome:
            return run_batch(connection(), end, size, result.batches + 1)

        def on_lost() -> None:
            close(holder[0])
            holder[0] = None

        def first_key_after() -> str | None:
            return None if next_key is None else next_key(connection())

        try:
            drive_batches(
                one_batch, classify, on_lost, result,
                label=label, key_column=key_column, batch_size=batch_size,
                rows_per_second=rows_per_second, max_retries=max_retries,
                backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s,
                progress=progress, done_base=total_done if resumed_from else 0,
                batch_time_ms=batch_time_ms, check_alive=check_alive,
                next_key=first_key_after, table=table,
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
