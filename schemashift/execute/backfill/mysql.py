"""The backfill phase on MySQL 8 / MariaDB: keyset-paginated batches, checkpointed,
resumable. The same contract as the PostgreSQL one (backfill/postgres.py); the shared
walk (:func:`~schemashift.execute.backfill.core.run_driver`) runs its batches (the batch
size aimed at a time budget, pauses, retries, reconnects, splitting a batch down to the
row that fails on its value, throttle, liveness check, progress).

:func:`run_backfill_mysql` walks the key in ranges of ``batch_size`` rows, one short
InnoDB transaction per batch:

1. ``SELECT … FOR UPDATE`` the checkpoint row in ``<prefix>backfill_progress``: the
   checkpoint in the database says where the batch starts, and a second run of the same
   step queues behind this one instead of repeating its batches;
2. the batch's upper bound first: the ``batch_size``-th key after the checkpoint (an index
   range scan), or the end key when fewer remain (the tail, only then are the remaining
   keys counted);
3. ``UPDATE … WHERE key > last AND key <= upper AND (pending)``: a key range, so rows
   inserted into it meanwhile are covered too;
4. move the checkpoint to the upper bound (the highest *scanned* key) and add the rows
   updated;
5. ``COMMIT``: the batch and its checkpoint commit together or not at all.

The walk stops at the highest key that existed when the run started; later writes are the
sync triggers' job (expand installs them first).

Timeouts: each session sets ``lock_wait_timeout`` and ``innodb_lock_wait_timeout`` (whole
seconds, at least 1) and a statement timeout: ``max_statement_time`` (seconds, MariaDB;
it covers the UPDATE too) or ``max_execution_time`` (milliseconds, MySQL; it applies to
read-only SELECTs only, so there the UPDATE is bounded by the batch size and the lock
timeouts alone). A batch that hits a lock wait timeout (1205) or a deadlock (1213) is
rolled back and retried with exponential backoff and jitter; one that hits the statement
timeout is retried at half the size; a lost connection (or one KILLed) is reopened. A
batch that fails on a row's value (strict mode: 1264 out of range, 1265 truncated, 1292 /
1366 bad value, 1406 too long, 1048 NULL, 1062 duplicate, 4025 / 3819 CHECK, …) is split
down to that row, which :class:`~schemashift.execute.backfill.core.BackfillDataError`
names.

The totals reported are the checkpoint row's ``rows_done``: a batch whose ``COMMIT``
went through on a connection killed before the acknowledgement came back counts, though
the run saw an error and went on from the checkpoint after reconnecting.

Columns declared ``ON UPDATE CURRENT_TIMESTAMP`` (an ``updated_at``; information_schema
``EXTRA`` like ``on update …``) would take the time of the batch on every row the backfill
updates, destroying the application's data: the batch's UPDATE assigns each of them to
itself (``updated_at = updated_at``, the way MySQL documents to keep one), unless the SET
clause assigns it already.

The checkpoint is stored as text: integer keys as their digits, binary keys in hex, other
keys (strings, dates, decimals) as MySQL prints them, compared back in the key's type.
Floating-point, ENUM/SET, JSON and spatial keys are refused (their order or text form does
not round-trip).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from schemashift.execute.backends import mysql_error_code, mysql_lock_seconds, quote_mysql
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
from schemashift.execute.state import MySQLState
from schemashift.phases.plan import Backfill
from schemashift.sqltext.names import BadName, split_name

__all__ = ["MySQLDriver", "MySQLKey", "on_update_columns", "resolve_key_mysql",
           "run_backfill_mysql"]  # fmt: skip

RETRYABLE = frozenset({1205, 1213})  # lock wait timeout, deadlock
# max_statement_time (MariaDB 1969), max_execution_time (MySQL 3024)
STATEMENT_TIMEOUT = frozenset({1969, 3024})
# gone away, lost during a query, out of sync, lost at reading; MariaDB's "connection
# was killed" (1927) and MySQL's idle disconnect (4031) leave it unusable as well
CONNECTION_LOST = frozenset({2006, 2013, 2014, 2055, 0, 1927, 4031})
# A row's value: NULL into NOT NULL (1048, 1263), duplicate key (1062, 1586), out of range
# (1264, 1690), truncated (1265), no default (1364), division by zero (1365), bad value
# (1292, 1366, 1367, 1411), too long (1406), foreign key (1451, 1452), bad JSON (3140),
# CHECK constraint (MySQL 3819, MariaDB 4025).
DATA_ERRORS = frozenset({1048, 1062, 1263, 1264, 1265, 1292, 1364, 1365, 1366, 1367, 1406,
                         1411, 1451, 1452, 1586, 1690, 3140, 3819, 4025})  # fmt: skip
_COUNT_LIMIT_ROWS = 1_000_000

_INTEGER = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_TEXTUAL = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "date",
            "datetime", "timestamp", "time", "year", "decimal", "numeric"}  # fmt: skip
_PK = re.compile(r"\{pk:([^{}]+)\}")

BatchHook = Callable[[Any, int], None]


@dataclass(frozen=True)
class MySQLKey:
    schema: str
    table: str
    column: str
    data_type: str  # information_schema.COLUMNS.DATA_TYPE
    column_type: str  # COLUMN_TYPE, e.g. "decimal(12,2)"
    primary: bool

    @property
    def table_sql(self) -> str:
        return f"{quote_mysql(self.schema)}.{quote_mysql(self.table)}"

    @property
    def column_sql(self) -> str:
        return quote_mysql(self.column)

    def as_text(self) -> str:
        """The key as the checkpoint's text."""
        if self.data_type in _BINARY:
            return f"HEX({self.column_sql})"
        if self.data_type in _INTEGER:
            return self.column_sql
        return f"CAST({self.column_sql} AS CHAR)"

    def from_text(self) -> str:
        """A ``%s`` parameter (the checkpoint's text) back in the key's type."""
        if self.data_type in _BINARY:
            return "UNHEX(%s)"
        if self.data_type in ("decimal", "numeric"):
            return f"CAST(%s AS {self.column_type.replace('unsigned', '').strip()})"
        return "%s"

    def param(self, text: str) -> Any:
        return int(text) if self.data_type in _INTEGER else text


def _rows(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [tuple(r) for r in cur.fetchall()]


def _run(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> int:
    with conn.cursor() as cur:
        return int(cur.execute(sql, params))


def _split(name: str) -> tuple[str | None, str]:
    """(database or None, table) of a table as SQL: quoted parts verbatim (```a.b``` is one
    table, ``a.b`` table b of database a)."""
    try:
        parts = split_name(name, "mysql")
    except BadName as exc:
        raise BackfillError(f"backfill: bad table name {name!r}: {exc}") from None
    if len(parts) > 2:
        raise BackfillError(f"backfill: bad table name {name!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def resolve_table_mysql(conn: Any, table: str) -> tuple[str, str]:
    schema, name = _split(table)
    rows = _rows(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
        (schema, name),
    )
    if not rows:
        raise BackfillError(f"backfill: table {table} does not exist in the current database")
    if rows[0][2] != "BASE TABLE":
        raise BackfillError(f"backfill: {table} is not a table ({rows[0][2]})")
    return str(rows[0][0]), str(rows[0][1])


def resolve_key_mysql(conn: Any, table: str, key: str = "{pk:table}") -> MySQLKey:
    """The column to page on: for ``{pk:…}`` the single-column primary key, else a unique
    index on one NOT NULL column; or the named column, which must be NOT NULL and lead an
    index (it need not be unique: batches are key ranges)."""
    schema, name = resolve_table_mysql(conn, table)
    where = f"{schema}.{name}"
    placeholder = _PK.fullmatch(key.strip())
    columns = {
        str(r[0]): (str(r[1]).lower(), str(r[2]).lower(), r[3] == "YES")
        for r in _rows(
            conn,
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM "
            "information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, name),
        )
    }
    # (index, position, column, non_unique)
    index_rows = _rows(
        conn,
        "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART FROM "
        "information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
        (schema, name),
    )
    indexes: dict[str, list[tuple[str, bool, bool]]] = {}
    for index, _, column, non_unique, sub_part in index_rows:
        indexes.setdefault(str(index), []).append(
            (str(column), not int(non_unique), sub_part is None)
        )

    def key_of(column: str, primary: bool) -> MySQLKey:
        data_type, column_type, _ = columns[column]
        if data_type not in _INTEGER | _BINARY | _TEXTUAL:
            raise BackfillError(
                f"backfill: cannot page on {where}.{column} of type {column_type}: use an "
                "integer, string, binary, decimal or date/time key"
            )
        return MySQLKey(schema, name, column, data_type, column_type, primary)

    if placeholder is not None:
        ref = placeholder.group(1).strip()
        if ref not in ("table", table):
            return resolve_key_mysql(conn, ref, key)
        primary = indexes.get("PRIMARY")
        if primary and len(primary) == 1:
            return key_of(primary[0][0], True)
        for index_name, parts in indexes.items():
            if index_name == "PRIMARY" or len(parts) != 1:
                continue
            column, unique, whole = parts[0]
            if unique and whole and not columns[column][2]:
                return key_of(column, False)
        why = f"its primary key has {len(primary)} columns" if primary else "it has no primary key"
        raise BackfillError(
            f"backfill: cannot page through {where}: {why} and no unique index on a single "
            "NOT NULL column; add one or name the key column in the plan"
        )
    column = key.strip().strip("`")
    if column not in columns:
        raise BackfillError(f"backfill: key column {key!r} not found in {where}")
    if columns[column][2]:
        raise BackfillError(
            f"backfill: key column {where}.{column} is nullable: rows with a NULL key would "
            "never be visited; page on a NOT NULL column"
        )
    leads = any(parts[0][0] == column and parts[0][2] for parts in indexes.values())
    if not leads:
        raise BackfillError(
            f"backfill: no index leads with key column {where}.{column}: every batch would "
            "scan and sort the table; add an index on it first, or page on the primary key"
        )
    primary = indexes.get("PRIMARY")
    return key_of(column, bool(primary and len(primary) == 1 and primary[0][0] == column))


def estimate_rows_mysql(conn: Any, key: MySQLKey) -> int | None:
    """InnoDB's estimate (information_schema.TABLES.TABLE_ROWS), counted when it is small
    (statistics of a freshly filled table are often 0)."""
    rows = _rows(
        conn,
        "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s",
        (key.schema, key.table),
    )
    estimate = int(rows[0][0]) if rows and rows[0][0] is not None else None
    if estimate is None or estimate < _COUNT_LIMIT_ROWS:
        counted = _rows(conn, f"SELECT COUNT(*) FROM {key.table_sql}")
        return int(counted[0][0])
    return estimate



def on_update_columns(conn: Any, key: MySQLKey) -> list[str]:
    """The columns of the key's table declared ``ON UPDATE CURRENT_TIMESTAMP`` (the
    update would set them to the time of the batch)."""
    rows = _rows(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s AND LOWER(EXTRA) LIKE 'on update%%' ORDER BY ORDINAL_POSITION",
        (key.schema, key.table),
    )
    return [str(r[0]) for r in rows]


def _assigns(assignments: str, column: str) -> bool:
    """Whether the SET clause assigns ``column`` (MySQL names are case-insensitive)."""
    name = re.escape(column)
    pattern = rf"(?:^|,)\s*(?:`(?:[^`]|``)*`\s*\.\s*|\w+\s*\.\s*)?(?:`{name}`|{name}\b)\s*="
    return re.search(pattern, assignments, re.IGNORECASE) is not None


def _esc(text: str) -> str:
    return text.replace("%", "%%")


class _Batcher:
    def __init__(self, key: MySQLKey, backfill: Backfill, progress_table: str,
                 migration: str, step: int, keep: Sequence[str] = ()) -> None:  # fmt: skip
        self.key = key
        self.ident = (migration, step)
        assignments = backfill.assignments.strip()
        pending = backfill.pending.strip() or "TRUE"
        if not assignments:
            raise BackfillError("backfill: empty SET clause")
        # ON UPDATE CURRENT_TIMESTAMP columns keep their values: assigned to themselves.
        kept = [quote_mysql(c) for c in keep if not _assigns(assignments, c)]
        assignments = ", ".join([assignments, *(f"{c} = {c}" for c in kept)])
        # Plan SQL and names ("pct%s" is a table) are pasted into statements that also carry
        # %s parameters: escape their %. The statements without parameters take them as
        # they are (PyMySQL formats only when there are parameters).
        k, t, p = _esc(key.column_sql), _esc(key.table_sql), key.from_text()
        text = _esc(key.as_text())
        assignments, pending = _esc(assignments), _esc(pending)
        self.nth_first = (
            f"SELECT {text} FROM {t} WHERE {k} <= {p} ORDER BY {k} LIMIT 1 OFFSET %s"
        )
        self.nth_next = (
            f"SELECT {text} FROM {t} WHERE {k} > {p} AND {k} <= {p} "
            f"ORDER BY {k} LIMIT 1 OFFSET %s"
        )
        self.count_first = f"SELECT COUNT(*) FROM {t} WHERE {k} <= {p}"
        self.count_next = f"SELECT COUNT(*) FROM {t} WHERE {k} > {p} AND {k} <= {p}"
        self.update_first = f"UPDATE {t} SET {assignments} WHERE {k} <= {p} AND ({pending})"
        self.update_next = (
            f"UPDATE {t} SET {assignments} WHERE {k} > {p} AND {k} <= {p} AND ({pending})"
        )
        raw_k, raw_t = key.column_sql, key.table_sql  # no parameters: no escaping
        self.max_key = f"SELECT {key.as_text()} FROM {raw_t} ORDER BY {raw_k} DESC LIMIT 1"
        # The first key after the checkpoint: where a batch failing on a value is pinned.
        self.first_key = f"SELECT {key.as_text()} FROM {raw_t} ORDER BY {raw_k} LIMIT 1"
        self.key_after = f"SELECT {text} FROM {t} WHERE {k} > {p} ORDER BY {k} LIMIT 1"
        self.lock_checkpoint = (
            f"SELECT last_key, rows_done FROM {progress_table} WHERE migration = %s "
            "AND step = %s FOR UPDATE"
        )
        self.save_checkpoint = (
            f"UPDATE {progress_table} SET last_key = %s, rows_done = rows_done + %s, "
            "updated_at = UTC_TIMESTAMP(6) WHERE migration = %s AND step = %s"
        )
        self.read_checkpoint = (
            f"SELECT last_key, rows_done FROM {progress_table} WHERE migration = %s AND step = %s"
        )
        self.init_checkpoint = (
            f"INSERT IGNORE INTO {progress_table} (migration, step, last_key, rows_done, "
            "rows_total_estimate, updated_at) VALUES (%s, %s, NULL, 0, %s, UTC_TIMESTAMP(6))"
        )
        self.set_estimate = (
            f"UPDATE {progress_table} SET rows_total_estimate = %s WHERE migration = %s "
            "AND step = %s"
        )


def run_backfill_mysql(
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
    """Run (or resume) one backfill step on MySQL/MariaDB; see the module docstring.

    ``connect`` opens a new PyMySQL connection (the backfill owns and closes it); the
    backfill's placeholders must be resolved already (the runner does). ``options``,
    keyword overrides and ``check_alive`` as in
    :func:`~schemashift.execute.backfill.postgres.run_backfill`; the state tables are
    ``<state_schema>_…``. ``_after_update`` (tests): called inside each batch's transaction
    after the UPDATE and before the checkpoint write, with the connection and the batch's
    number in this call.
    """
    opts = options_with(options, overrides)
    driver = MySQLDriver(connect, backfill, opts, migration=migration, step=step,
                         after_update=_after_update)  # fmt: skip
    return run_driver(driver, opts, progress=progress, check_alive=check_alive)


class MySQLDriver(DriverBase["_Batcher"]):
    """The :class:`~schemashift.execute.backfill.core.BackfillDriver` of MySQL/MariaDB."""

    def __init__(self, connect: Callable[[], Any], backfill: Backfill,
                 options: BackfillOptions, *, migration: str, step: int,
                 after_update: BatchHook | None = None) -> None:  # fmt: skip
        super().__init__(connect, backfill, options, migration=migration, step=step,
                         after_update=after_update)  # fmt: skip
        self._timeouts = _Timeouts(options.statement_timeout_ms, options.lock_timeout_ms)

    def _connection(self) -> Any:
        if self.conn is None:
            self.conn = reopen(lambda: _open(self._connect, self._timeouts))
        return self.conn

    def prepare(self) -> WalkStart:
        conn = self.conn = _open(self._connect, self._timeouts)
        migration, step = self.migration, self.step
        state = MySQLState(conn, self.options.state_prefix)
        state.ensure_backfill_progress()
        key = resolve_key_mysql(conn, self.backfill.table, self.backfill.key)
        batcher = self._batcher = _Batcher(key, self.backfill, state.table("backfill_progress"),
                                           migration, step, on_update_columns(conn, key))  # fmt: skip
        estimate = estimate_rows_mysql(conn, key)
        _run(conn, batcher.init_checkpoint, (*batcher.ident, estimate))
        _run(conn, batcher.set_estimate, (estimate, *batcher.ident))
        row = _rows(conn, batcher.read_checkpoint, batcher.ident)[0]
        end_rows = _rows(conn, batcher.max_key)
        return WalkStart(
            label=f"backfill {key.schema}.{key.table} ({migration} step {step + 1})",
            table=f"{key.schema}.{key.table}",
            key_column=key.column,
            estimate=estimate,
            resumed_from=None if row[0] is None else str(row[0]),
            total_done=int(row[1]),
            end_key=str(end_rows[0][0]) if end_rows else None,
        )

    def run_batch(self, end_key: str, size: int, number: int) -> BatchOutcome:
        return _run_batch(self._connection(), self.batcher, end_key, size,
                          self._after_update, number)  # fmt: skip

    def classify(self, exc: Exception) -> BatchFailure | None:
        return _classify(exc)


    def key_after_checkpoint(self) -> str | None:
        return _key_after_checkpoint(self._connection(), self.batcher)




@dataclass(frozen=True)
class _Timeouts:
    statement_ms: int
    lock_ms: int


def _open(connect: Callable[[], Any], timeouts: _Timeouts) -> Any:
    conn = connect()
    try:
        conn.autocommit(True)
        seconds = mysql_lock_seconds(timeouts.lock_ms)
        _run(conn, f"SET SESSION lock_wait_timeout = {seconds}, "
                   f"innodb_lock_wait_timeout = {seconds}")  # fmt: skip
        # Strict, whatever the server's default: a value that does not fit stops the batch
        # (and is named) instead of being truncated or zeroed with a warning.
        _run(conn, "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), "
                   "'STRICT_ALL_TABLES')")  # fmt: skip
        version = str(_rows(conn, "SELECT VERSION()")[0][0])
        if "mariadb" in version.lower():
            # Seconds (fractions allowed); covers every statement, the UPDATE included.
            _run(conn, f"SET SESSION max_statement_time = {timeouts.statement_ms / 1000:.3f}")
        else:
            # Milliseconds; MySQL applies it to read-only SELECTs only (the bound lookups).
            _run(conn, f"SET SESSION max_execution_time = {int(timeouts.statement_ms)}")
    except BaseException:
        close_quietly(conn)
        raise
    return conn


def _run_batch(conn: Any, b: _Batcher, end_key: str, size: int, hook: BatchHook | None,
               number: int) -> BatchOutcome:  # fmt: skip
    key = b.key
    end = key.param(end_key)
    _run(conn, "START TRANSACTION")
    try:
        rows = _rows(conn, b.lock_checkpoint, b.ident)
        if not rows:
            raise BackfillError(
                f"backfill: the checkpoint of {b.ident[0]} step {b.ident[1] + 1} disappeared "
                "(rolled back meanwhile?)"
            )
        last = None if rows[0][0] is None else str(rows[0][0])
        total_done = int(rows[0][1])
        if last is None:
            bound: tuple[Any, ...] = (end,)
            nth = _rows(conn, b.nth_first, (*bound, size - 1))
        else:
            bound = (key.param(last), end)
            nth = _rows(conn, b.nth_next, (*bound, size - 1))
        tail = not nth
        if tail:
            counted = _rows(conn, b.count_first if last is None else b.count_next, bound)
            scanned = int(counted[0][0])
            hi = end_key
        else:
            scanned = size
            hi = str(nth[0][0])
        if not scanned:
            _run(conn, "COMMIT")
            return BatchOutcome(last, 0, 0, total_done, True)
        upper = key.param(hi)
        update = b.update_first if last is None else b.update_next
        updated = _run(conn, update, (upper,) if last is None else (key.param(last), upper))
        if hook is not None:
            hook(conn, number)
        _run(conn, b.save_checkpoint, (hi, updated, *b.ident))
        _run(conn, "COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            _run(conn, "ROLLBACK")
        raise
    return BatchOutcome(hi, scanned, updated, total_done + updated, tail)


def _key_after_checkpoint(conn: Any, b: _Batcher) -> str | None:
    checkpoint = _rows(conn, b.read_checkpoint, b.ident)
    last = None if not checkpoint or checkpoint[0][0] is None else str(checkpoint[0][0])
    if last is None:
        found = _rows(conn, b.first_key)
    else:
        found = _rows(conn, b.key_after, (b.key.param(last),))
    return None if not found or found[0][0] is None else str(found[0][0])


def _classify(exc: Exception) -> BatchFailure | None:
    code = mysql_error_code(exc)
    connection_error = _is_connection_error(exc)
    if code is None and not connection_error:
        return None
    if code in STATEMENT_TIMEOUT:
        return BatchFailure("timeout", "statement timeout")
    if code in CONNECTION_LOST or connection_error:
        return BatchFailure("lost")
    if code in RETRYABLE:
        return BatchFailure("retryable", f"MySQL error {code}")
    if code in DATA_ERRORS:
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        return BatchFailure("data", f"MySQL error {code}", message)
    return BatchFailure("fatal")


def _is_connection_error(exc: BaseException) -> bool:
    import pymysql

    return isinstance(exc, pymysql.err.InterfaceError)

