"""The backfill on SQLite: keyset-paginated batches, checkpointed, resumable. The same
contract as the PostgreSQL and MySQL ones (backfill/postgres.py, backfill/mysql.py), run by
the shared :func:`~schemashift.execute.backfill.core.run_driver`: the batch size aimed
at a time budget (``batch_time_ms``; here it bounds how long the apps' writers wait for
the database's one write lock), ``check_alive`` before every batch, totals from the
checkpoint row.

:func:`run_backfill_sqlite` walks the key in ranges of ``batch_size`` rows, one short
``BEGIN IMMEDIATE`` transaction per batch (it takes the database's write lock at once, so a
batch never has to upgrade a read into a write and fail with SQLITE_BUSY half way):

1. read the checkpoint row in ``<prefix>backfill_progress``: the checkpoint in the
   database says where the batch starts (under the write lock: a second run of the same
   step waits for this batch's commit and then goes on after it);
2. the batch's upper bound: the ``batch_size``-th key after the checkpoint, or the end key
   when fewer remain (the tail);
3. ``UPDATE … WHERE key > last AND key <= upper AND (pending)``: a key range, so rows
   inserted into it meanwhile are covered too;
4. move the checkpoint to the upper bound and add the rows updated;
5. ``COMMIT``: the batch and its checkpoint commit together or not at all.

The walk stops at the highest key that existed when the run started; later writes are the
sync triggers' job. The lock timeout is ``PRAGMA busy_timeout``: a batch that waited longer
for the write lock ("database is locked") is rolled back and retried with backoff. SQLite
has no statement timeout: a batch is bounded by its size and the time budget. A batch
failing on a row's value (a constraint: NOT NULL, UNIQUE, CHECK) is split down to that
row, which :class:`~schemashift.execute.backfill.core.BackfillDataError`
names.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemashift.execute.backends import quote_sqlite, sqlite_busy
from schemashift.execute.backfill.core import (
    BackfillError,
    BackfillOptions,
    BackfillResult,
    BatchFailure,
    BatchOutcome,
    DriverBase,
    WalkStart,
    close_quietly,
    options_with,
    reopen,
    run_driver,
)
from schemashift.execute.backfill.progress import Progress
from schemashift.execute.state import SQLiteState
from schemashift.phases.plan import Backfill
from schemashift.sqltext.names import BadName, split_name

__all__ = ["SQLiteDriver", "SQLiteKey", "resolve_key_sqlite", "run_backfill_sqlite"]

_PK = re.compile(r"\{pk:([^{}]+)\}")

BatchHook = Callable[[Any, int], None]


@dataclass(frozen=True)
class SQLiteKey:
    schema: str
    table: str
    column: str  # "rowid" or a column name
    integer: bool  # compare the text checkpoint back as an integer

    @property
    def table_sql(self) -> str:
        return f"{quote_sqlite(self.schema)}.{quote_sqlite(self.table)}"

    @property
    def column_sql(self) -> str:
        return "rowid" if self.column == "rowid" else quote_sqlite(self.column)

    def param(self, text: str) -> Any:
        return int(text) if self.integer else text


def _split(name: str) -> tuple[str, str]:
    """(schema, table) of a table as SQL: quoted parts verbatim."""
    try:
        parts = split_name(name, "sqlite")
    except BadName as exc:
        raise BackfillError(f"backfill: bad table name {name!r}: {exc}") from None
    if len(parts) > 2:
        raise BackfillError(f"backfill: bad table name {name!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else ("main", parts[0])


def resolve_key_sqlite(conn: Any, table: str, key: str = "{pk:table}") -> SQLiteKey:
    """The column to page on: for ``{pk:…}`` the single-column primary key (else the
    rowid); or the named column, which must lead an index (or be ``rowid``)."""
    schema, name = _split(table)
    columns = {
        str(r[1]): (str(r[2] or ""), bool(r[3]), int(r[5]))
        for r in conn.execute(
            f"PRAGMA {quote_sqlite(schema)}.table_info({quote_sqlite(name)})"
        ).fetchall()
    }
    if not columns:
        raise BackfillError(f"backfill: table {table} does not exist")
    placeholder = _PK.fullmatch(key.strip())
    if placeholder is not None:
        ref = placeholder.group(1).strip()
        if ref not in ("table", table):
            return resolve_key_sqlite(conn, ref, key)
        primary = [c for c, info in columns.items() if info[2]]
        if len(primary) > 1:
            raise BackfillError(
                f"backfill: cannot page through {table}: its primary key has {len(primary)} "
                "columns; name the key column in the plan"
            )
        if not primary:
            return SQLiteKey(schema, name, "rowid", True)
        column = primary[0]
    else:
        column = key.strip().strip('"`[]')
        if column.lower() == "rowid":
            return SQLiteKey(schema, name, "rowid", True)
        if column not in columns:
            raise BackfillError(f"backfill: key column {key!r} not found in {table}")
        indexes = conn.execute(
            f"PRAGMA {quote_sqlite(schema)}.index_list({quote_sqlite(name)})"
        ).fetchall()
        leads = columns[column][2] == 1 or any(
            (first := conn.execute(
                f"PRAGMA {quote_sqlite(schema)}.index_info({quote_sqlite(str(ix[1]))})"
            ).fetchone()) is not None and first[2] == column
            for ix in indexes
        )  # fmt: skip
        if not leads:
            raise BackfillError(
                f"backfill: no index leads with key column {table}.{column}: every batch "
                "would scan the table; add an index on it first, or page on the primary key"
            )
    declared = columns[column][0].upper()
    return SQLiteKey(schema, name, column, "INT" in declared)


class _Batcher:
    def __init__(self, key: SQLiteKey, backfill: Backfill, progress_table: str,
                 migration: str, step: int) -> None:  # fmt: skip
        self.key = key
        self.ident = (migration, step)
        assignments = backfill.assignments.strip()
        pending = backfill.pending.strip() or "1"
        if not assignments:
            raise BackfillError("backfill: empty SET clause")
        k, t = key.column_sql, key.table_sql
        self.nth_first = f"SELECT {k} FROM {t} WHERE {k} <= ? ORDER BY {k} LIMIT 1 OFFSET ?"
        self.nth_next = (
            f"SELECT {k} FROM {t} WHERE {k} > ? AND {k} <= ? ORDER BY {k} LIMIT 1 OFFSET ?"
        )
        self.count_first = f"SELECT COUNT(*) FROM {t} WHERE {k} <= ?"
        self.count_next = f"SELECT COUNT(*) FROM {t} WHERE {k} > ? AND {k} <= ?"
        self.update_first = f"UPDATE {t} SET {assignments} WHERE {k} <= ? AND ({pending})"
        self.update_next = (
            f"UPDATE {t} SET {assignments} WHERE {k} > ? AND {k} <= ? AND ({pending})"
        )
        self.max_key = f"SELECT {k} FROM {t} ORDER BY {k} DESC LIMIT 1"
        # The first key after the checkpoint: where a batch failing on a value is pinned.
        self.first_key = f"SELECT {k} FROM {t} ORDER BY {k} LIMIT 1"
        self.key_after = f"SELECT {k} FROM {t} WHERE {k} > ? ORDER BY {k} LIMIT 1"
        self.read_checkpoint = (
            f"SELECT last_key, rows_done FROM {progress_table} WHERE migration = ? AND step = ?"
        )
        self.save_checkpoint = (
            f"UPDATE {progress_table} SET last_key = ?, rows_done = rows_done + ?, "
            "updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE migration = ? AND step = ?"
        )
        self.init_checkpoint = (
            f"INSERT INTO {progress_table} (migration, step, last_key, rows_done, "
            "rows_total_estimate, updated_at) VALUES (?, ?, NULL, 0, ?, "
            "strftime('%Y-%m-%d %H:%M:%f', 'now')) ON CONFLICT (migration, step) "
            "DO UPDATE SET rows_total_estimate = excluded.rows_total_estimate"
        )


def run_backfill_sqlite(
    connect: Callable[[], Any],
    backfill: Backfill,
    *,
    migration: str,
    step: int,
    options: BackfillOptions | None = None,
    progress: Progress | None = None,
    check_alive: Callable[[], None] | None = None,
    _after_update: BatchHook | None = None,
    **overrides: Any,
) -> BackfillResult:
    """Run (or resume) one backfill step on SQLite; see the module docstring.

    ``connect`` opens a new sqlite3 connection in autocommit mode (the backfill owns and
    closes it); placeholders must be resolved already. ``options``, keyword overrides and
    ``check_alive`` as in :func:`~schemashift.execute.backfill.postgres.run_backfill`
    (``statement_timeout_ms`` and ``synchronous_commit`` do nothing here; the lock timeout
    is ``busy_timeout``). ``_after_update`` (tests): called inside each batch's transaction
    after the UPDATE, before the checkpoint write.
    """
    opts = options_with(options, overrides)
    driver = SQLiteDriver(connect, backfill, opts, migration=migration, step=step,
                          after_update=_after_update)  # fmt: skip
    return run_driver(driver, opts, progress=progress, check_alive=check_alive)


class SQLiteDriver(DriverBase["_Batcher"]):
    """The :class:`~schemashift.execute.backfill.core.BackfillDriver` of SQLite."""

    def _connection(self) -> Any:
        if self.conn is None:
            self.conn = reopen(lambda: _open(self._connect, self.options.lock_timeout_ms))
        return self.conn

    def prepare(self) -> WalkStart:
        conn = self.conn = _open(self._connect, self.options.lock_timeout_ms)
        migration, step = self.migration, self.step
        state = SQLiteState(conn, self.options.state_prefix)
        state.ensure()
        key = resolve_key_sqlite(conn, self.backfill.table, self.backfill.key)
        batcher = self._batcher = _Batcher(key, self.backfill, state.table("backfill_progress"),
                                           migration, step)  # fmt: skip
        estimate = int(conn.execute(f"SELECT COUNT(*) FROM {key.table_sql}").fetchone()[0])
        conn.execute(batcher.init_checkpoint, (*batcher.ident, estimate))
        row = conn.execute(batcher.read_checkpoint, batcher.ident).fetchone()
        end_row = conn.execute(batcher.max_key).fetchone()
        return WalkStart(
            label=f"backfill {key.table} ({migration} step {step + 1})",
            table=key.table,
            key_column=key.column,
            estimate=estimate,
            resumed_from=None if row[0] is None else str(row[0]),
            total_done=int(row[1]),
            end_key=None if end_row is None else str(end_row[0]),
        )

    def run_batch(self, end_key: str, size: int, number: int) -> BatchOutcome:
        return _run_batch(self._connection(), self.batcher, end_key, size,
                          self._after_update, number)  # fmt: skip

    def classify(self, exc: Exception) -> BatchFailure | None:
        return _classify(exc)


    def key_after_checkpoint(self) -> str | None:
        return _key_after_checkpoint(self._connection(), self.batcher)



def _open(connect: Callable[[], Any], lock_timeout_ms: int) -> Any:
    conn = connect()
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
    except BaseException:
        close_quietly(conn)
        raise
    return conn


def _run_batch(conn: Any, b: _Batcher, end_key: str, size: int, hook: BatchHook | None,
               number: int) -> BatchOutcome:  # fmt: skip
    key = b.key
    end = key.param(end_key)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(b.read_checkpoint, b.ident).fetchone()
        if row is None:
            raise BackfillError(
                f"backfill: the checkpoint of {b.ident[0]} step {b.ident[1] + 1} disappeared "
                "(rolled back meanwhile?)"
            )
        last = None if row[0] is None else str(row[0])
        total_done = int(row[1])
        bound: tuple[Any, ...] = (end,) if last is None else (key.param(last), end)
        nth = conn.execute(b.nth_first if last is None else b.nth_next,
                           (*bound, size - 1)).fetchone()  # fmt: skip
        if nth is None:
            scanned = int(conn.execute(b.count_first if last is None else b.count_next,
                                       bound).fetchone()[0])  # fmt: skip
            hi, tail = end_key, True
        else:
            scanned, hi, tail = size, str(nth[0]), False
        if not scanned:
            conn.execute("COMMIT")
            return BatchOutcome(last, 0, 0, total_done, True)
        upper = key.param(hi)
        if last is None:
            updated = conn.execute(b.update_first, (upper,)).rowcount
        else:
            updated = conn.execute(b.update_next, (key.param(last), upper)).rowcount
        if hook is not None:
            hook(conn, number)
        conn.execute(b.save_checkpoint, (hi, updated, *b.ident))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    return BatchOutcome(hi, scanned, updated, total_done + updated, tail)


def _key_after_checkpoint(conn: Any, b: _Batcher) -> str | None:
    checkpoint = conn.execute(b.read_checkpoint, b.ident).fetchone()
    last = None if checkpoint is None or checkpoint[0] is None else str(checkpoint[0])
    if last is None:
        found = conn.execute(b.first_key).fetchone()
    else:
        found = conn.execute(b.key_after, (b.key.param(last),)).fetchone()
    return None if found is None or found[0] is None else str(found[0])


def _classify(exc: Exception) -> BatchFailure | None:
    if not isinstance(exc, sqlite3.Error):
        return None
    if sqlite_busy(exc):
        return BatchFailure("retryable", "SQLITE_BUSY")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower():
        return BatchFailure("lost")
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError)):
        # sqlite_errorname: "SQLITE_CONSTRAINT_NOTNULL" and the like (Python 3.11+)
        name = str(getattr(exc, "sqlite_errorname", "") or type(exc).__name__)
        return BatchFailure("data", name, str(exc))
    return BatchFailure("fatal")
