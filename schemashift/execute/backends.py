"""What the phase runner needs from a database, one class per dialect.

The runner (execute/runner.py) owns the phase logic: order, checksum pin, state, retries
with backoff, rollback. A :class:`Backend` owns what differs between databases:

- connecting, and the run lock that keeps two runs from interleaving (PostgreSQL: a session
  advisory lock; MySQL: ``GET_LOCK``; SQLite: a ``run_lock`` row in ``schemashift_meta``
  holding the pid). All are scoped to the database, not the server;
- how a step's statements are grouped and run with a lock timeout. PostgreSQL runs a step
  in one transaction (``SET LOCAL lock_timeout``), ``concurrent`` steps statement by
  statement in autocommit. MySQL has no transactional DDL: every DDL statement commits on
  its own, so a step is split into *statement groups* (a statement; ``SET @…``/``PREPARE``
  … ``DEALLOCATE``; ``LOCK TABLES`` … ``UNLOCK TABLES``), each run on the one connection,
  retried as a whole, and recorded when it commits, so a retry or a resumed run starts at
  the first group not yet done;
- which errors are worth a retry (lock timeouts, deadlocks);
- the catalog lookups behind the placeholders ``{type:t.c}`` and ``{pk:t}``;
- the verify query, the state tables and the backfill.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from schemashift.execute.database import DatabaseError, Target, connect
from schemashift.execute.state import MySQLState, PostgresState, SQLiteState, State
from schemashift.phases.model import Backfill

if TYPE_CHECKING:
    from schemashift.execute.backfill import Progress

RUN_LOCK = "schemashift:run"

Say = Callable[[str], None]


class Backend(Protocol):
    """A database the runner can run plans on."""

    dialect: str
    # True: a step's statements commit together (the runner records only whole steps).
    # False: each statement group commits on its own and is recorded as it does.
    transactional_ddl: bool

    def connect(self) -> Any:
        """A new autocommit connection (the runner's; backfills open their own)."""

    def try_lock(self, conn: Any) -> bool:
        """Take the run lock without waiting; False when another session holds it."""

    def unlock(self, conn: Any) -> None: ...

    def state(self, conn: Any, state_schema: str) -> State: ...

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        """The step's statements as the units that commit (and are retried) together."""

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say) -> None:  # fmt: skip
        """Run one group; waits for a lock never longer than about ``lock_timeout_ms``."""

    def retryable(self, exc: BaseException) -> str | None:
        """The error's code when it is worth a retry (lock timeout, deadlock), else None."""

    def column_type(self, conn: Any, table: str, column: str) -> str | None: ...

    def primary_key(self, conn: Any, table: str) -> str | None:
        """The single primary-key column of ``table`` as SQL, or None."""

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]: ...

    def backfill(self, backfill: Backfill, *, migration: str, step: int, batch_size: int,
                 rows_per_second: float | None, statement_timeout_ms: int,
                 lock_timeout_ms: int, progress: Progress | None,
                 state_schema: str) -> None:  # fmt: skip
        """Run (or resume) one backfill step with its placeholders resolved."""


def backend_for(target: Target, state_schema: str = "schemashift") -> Backend:
    if target.dialect == "postgres":
        return PostgresBackend(target)
    if target.dialect == "mysql":
        return MySQLBackend(target)
    if target.dialect == "sqlite":
        return SQLiteBackend(target, state_schema)
    raise DatabaseError(f"the phase engine does not run on {target.dialect} ({target.safe})")


# --------------------------------------------------------------------------- PostgreSQL

_CONCURRENT_INDEX = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(\"[^\"]+\"|[\w.]+)",
    re.IGNORECASE,
)
PG_RETRYABLE = frozenset({"55P03", "40P01", "40001"})  # lock_not_available, deadlock, serialization


class PostgresBackend:
    dialect = "postgres"
    transactional_ddl = True

    def __init__(self, target: Target) -> None:
        self.target = target

    def connect(self) -> Any:
        return connect(self.target, autocommit=True)

    def try_lock(self, conn: Any) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (RUN_LOCK,)).fetchone()
        return bool(row[0])

    def unlock(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (RUN_LOCK,))

    def state(self, conn: Any, state_schema: str) -> State:
        return PostgresState(conn, state_schema)

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        if concurrent:  # outside a transaction: each statement on its own
            return [[s] for s in statements]
        return [list(statements)] if statements else []

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say) -> None:  # fmt: skip
        if concurrent:
            for sql in statements:
                self._concurrent(conn, sql, lock_timeout_ms, say)
            return
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            for sql in statements:
                conn.execute(sql)

    def _concurrent(self, conn: Any, sql: str, lock_timeout_ms: int, say: Say) -> None:
        conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        try:
            index = _CONCURRENT_INDEX.search(sql)
            if index:
                self._drop_invalid_index(conn, index.group(1), say)
            conn.execute(sql)
        finally:
            conn.execute("RESET lock_timeout")

    @staticmethod
    def _drop_invalid_index(conn: Any, name: str, say: Say) -> None:
        """A concurrent build that failed leaves an INVALID index; IF NOT EXISTS would then
        skip the rebuild and the retry would silently keep a useless index."""
        row = conn.execute(
            "SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
            (name.strip('"'),),
        ).fetchone()
        if row and row[0]:
            say(f"dropping INVALID index {name} left by a failed build")
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    def retryable(self, exc: BaseException) -> str | None:
        state = getattr(exc, "sqlstate", None)
        return state if state in PG_RETRYABLE else None

    def column_type(self, conn: Any, table: str, column: str) -> str | None:
        row = conn.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
            (table, column),
        ).fetchone()
        return None if row is None else str(row[0])

    def primary_key(self, conn: Any, table: str) -> str | None:
        row = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
            "AND i.indnatts = 1",
            (table,),
        ).fetchone()
        return None if row is None else str(row[0])

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int, batch_size: int,
                 rows_per_second: float | None, statement_timeout_ms: int,
                 lock_timeout_ms: int, progress: Progress | None,
                 state_schema: str) -> None:  # fmt: skip
        from schemashift.execute.backfill import run_backfill

        run_backfill(
            lambda: connect(self.target),
            backfill,
            migration=migration,
            step=step,
            batch_size=batch_size,
            rows_per_second=rows_per_second,
            statement_timeout_ms=statement_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            progress=progress,
            state_schema=state_schema,
        )


# --------------------------------------------------------------------------- MySQL / MariaDB

# ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout for metadata locks, innodb_lock_wait_timeout for
# rows), ER_LOCK_DEADLOCK, ER_LOCK_NOWAIT.
MYSQL_RETRYABLE = frozenset({1205, 1213, 3572})
_MYSQL_MAX_LOCK_NAME = 64  # MySQL refuses longer GET_LOCK names (MariaDB does not)
_STARTS_PREPARED = re.compile(r"\s*(SET\s+@|PREPARE\s)", re.IGNORECASE)
_ENDS_PREPARED = re.compile(r"\s*(DEALLOCATE|DROP)\s+PREPARE\s", re.IGNORECASE)
_LOCK_TABLES = re.compile(r"\s*LOCK\s+TABLES?\s", re.IGNORECASE)
_UNLOCK_TABLES = re.compile(r"\s*UNLOCK\s+TABLES?\b", re.IGNORECASE)


def mysql_error_code(exc: BaseException) -> int | None:
    """The server's error number of a PyMySQL error (None for anything else)."""
    import pymysql

    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def mysql_run_lock_name(database: str) -> str:
    """``GET_LOCK`` names are server-wide; PostgreSQL's advisory locks are per database.
    The run lock names the database so runs on two databases of one server do not block
    each other (hashed when the name would pass MySQL's 64 characters)."""
    name = f"{RUN_LOCK}:{database}"
    if len(name) <= _MYSQL_MAX_LOCK_NAME:
        return name
    return f"{RUN_LOCK}:{hashlib.sha256(database.encode()).hexdigest()[:40]}"


def mysql_lock_seconds(lock_timeout_ms: int) -> int:
    """``lock_wait_timeout`` is whole seconds, and 0 would mean NOWAIT: at least 1."""
    return max(1, math.ceil(lock_timeout_ms / 1000))


def mysql_statement_groups(statements: Sequence[str]) -> list[list[str]]:
    """Split a step into the groups that must run together on one connection: a prepared
    statement from ``SET @…``/``PREPARE`` to ``DEALLOCATE PREPARE``, a ``LOCK TABLES`` block
    to ``UNLOCK TABLES``; any other statement alone (it commits on its own anyway)."""
    groups: list[list[str]] = []
    closing: re.Pattern[str] | None = None
    for sql in statements:
        if closing is not None:
            groups[-1].append(sql)
            if closing.match(sql):
                closing = None
            continue
        groups.append([sql])
        if _LOCK_TABLES.match(sql):
            closing = _UNLOCK_TABLES
        elif _STARTS_PREPARED.match(sql):
            closing = _ENDS_PREPARED
    return groups


def _split_mysql_name(name: str) -> tuple[str | None, str]:
    parts = [p.strip().strip("`") for p in name.strip().split(".")]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[-1])


def quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySQLBackend:
    """MySQL 8 / MariaDB 10.5+ through PyMySQL.

    SQL from a plan is sent as it is (``cursor.execute(sql)`` without parameters: plan SQL
    holds ``%`` in LIKE patterns and must not go through %-formatting)."""

    dialect = "mysql"
    transactional_ddl = False

    def __init__(self, target: Target) -> None:
        self.target = target

    def connect(self) -> Any:
        return connect(self.target, autocommit=True)

    @staticmethod
    def _one(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _lock_name(self, conn: Any) -> str:
        row = self._one(conn, "SELECT DATABASE()")
        if row is None or row[0] is None:
            raise DatabaseError(f"no database selected in {self.target.safe}: name one in the URL")
        return mysql_run_lock_name(str(row[0]))

    def try_lock(self, conn: Any) -> bool:
        row = self._one(conn, "SELECT GET_LOCK(%s, 0)", (self._lock_name(conn),))
        return bool(row and row[0] == 1)

    def unlock(self, conn: Any) -> None:
        self._one(conn, "SELECT RELEASE_LOCK(%s)", (self._lock_name(conn),))

    def state(self, conn: Any, state_schema: str) -> State:
        return MySQLState(conn, f"{state_schema}_")

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        return mysql_statement_groups(statements)  # concurrent or not: the same

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say) -> None:  # fmt: skip
        seconds = mysql_lock_seconds(lock_timeout_ms)
        try:
            with conn.cursor() as cur:
                # Metadata locks (DDL, LOCK TABLES) and InnoDB row locks (DML).
                cur.execute(f"SET SESSION lock_wait_timeout = {seconds}, "
                            f"innodb_lock_wait_timeout = {seconds}")  # fmt: skip
                for sql in statements:
                    cur.execute(sql)
        except BaseException:
            # Never leave the tables locked (the state writes after this would fail too),
            # nor a transaction open after a statement-level lock wait timeout.
            with contextlib.suppress(Exception), conn.cursor() as cur:
                cur.execute("UNLOCK TABLES")
                cur.execute("ROLLBACK")
            raise

    def retryable(self, exc: BaseException) -> str | None:
        code = mysql_error_code(exc)
        return f"MySQL error {code}" if code in MYSQL_RETRYABLE else None

    def column_type(self, conn: Any, table: str, column: str) -> str | None:
        schema, name = _split_mysql_name(table)
        row = self._one(
            conn,
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (schema, name, column.strip().strip("`")),
        )
        # COLUMN_TYPE is the type alone ("varchar(50)", "int(11) unsigned"): NULL-ness,
        # default and collation are not part of it.
        return None if row is None else str(row[0])

    def primary_key(self, conn: Any, table: str) -> str | None:
        schema, name = _split_mysql_name(table)
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE "
                "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s "
                "AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                (schema, name),
            )
            rows = cur.fetchall()
        return quote_mysql(str(rows[0][0])) if len(rows) == 1 else None

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int, batch_size: int,
                 rows_per_second: float | None, statement_timeout_ms: int,
                 lock_timeout_ms: int, progress: Progress | None,
                 state_schema: str) -> None:  # fmt: skip
        from schemashift.execute.backfill_mysql import run_backfill_mysql

        run_backfill_mysql(
            lambda: connect(self.target),
            backfill,
            migration=migration,
            step=step,
            batch_size=batch_size,
            rows_per_second=rows_per_second,
            statement_timeout_ms=statement_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            progress=progress,
            state_prefix=f"{state_schema}_",
        )


# --------------------------------------------------------------------------- SQLite

SQLITE_LOCK_KEY = "run_lock"
SQLITE_MIN_VERSION = (3, 35, 0)


def sqlite_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: "database is locked", "database table is locked"."""
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split_sqlite_name(name: str) -> tuple[str, str]:
    parts = [p.strip().strip('"`[]') for p in name.strip().split(".")]
    return (parts[0], parts[1]) if len(parts) == 2 else ("main", parts[-1])


class SQLiteBackend:
    """An embedded SQLite database (3.35+ for DROP COLUMN) through the sqlite3 module.

    Writers serialize on one database lock: every step runs in one ``BEGIN IMMEDIATE``
    transaction (SQLite's DDL is transactional) that waits for the write lock at most the
    lock timeout (``PRAGMA busy_timeout``); "database is locked" is retried with backoff.
    The run lock is a ``run_lock`` row in ``<state>_meta`` holding ``pid:token``, taken in a
    ``BEGIN IMMEDIATE`` transaction; a row whose process is gone is stale and taken over
    (the database is a local file: the pid is on this machine)."""

    dialect = "sqlite"
    transactional_ddl = True

    def __init__(self, target: Target, state_schema: str = "schemashift") -> None:
        self.target = target
        self.prefix = f"{state_schema}_"
        self._token: str | None = None

    def connect(self) -> Any:
        import sqlite3

        if sqlite3.sqlite_version_info < SQLITE_MIN_VERSION:
            raise DatabaseError(
                f"the phase engine needs SQLite {'.'.join(map(str, SQLITE_MIN_VERSION))}+ "
                f"(DROP COLUMN); this Python has {sqlite3.sqlite_version}"
            )
        return connect(self.target, autocommit=True)

    @property
    def _meta(self) -> str:
        return quote_sqlite(f"{self.prefix}meta")

    def try_lock(self, conn: Any) -> bool:
        from schemashift.execute.state import sqlite_layout

        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(sqlite_layout(self.prefix)[0])
            row = conn.execute(f"SELECT value FROM {self._meta} WHERE key = ?",
                               (SQLITE_LOCK_KEY,)).fetchone()  # fmt: skip
            if row is not None:
                pid_text = str(row[0]).split(":", 1)[0]
                if pid_text.isdigit() and _pid_alive(int(pid_text)):
                    conn.execute("ROLLBACK")
                    return False
            token = f"{os.getpid()}:{uuid.uuid4().hex}"
            conn.execute(f"INSERT INTO {self._meta} (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (SQLITE_LOCK_KEY, token))  # fmt: skip
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._token = token
        return True

    def unlock(self, conn: Any) -> None:
        if self._token is None:
            return
        conn.execute(f"DELETE FROM {self._meta} WHERE key = ? AND value = ?",
                     (SQLITE_LOCK_KEY, self._token))  # fmt: skip
        self._token = None

    def state(self, conn: Any, state_schema: str) -> State:
        return SQLiteState(conn, f"{state_schema}_")

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        return [list(statements)] if statements else []

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say) -> None:  # fmt: skip
        conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql in statements:
                    conn.execute(sql)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            from schemashift.execute.database import SQLITE_BUSY_TIMEOUT_MS

            conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")

    def retryable(self, exc: BaseException) -> str | None:
        return "SQLITE_BUSY" if sqlite_busy(exc) else None

    @staticmethod
    def _columns(conn: Any, table: str) -> list[tuple[Any, ...]]:
        schema, name = _split_sqlite_name(table)
        sql = f"PRAGMA {quote_sqlite(schema)}.table_info({quote_sqlite(name)})"
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def column_type(self, conn: Any, table: str, column: str) -> str | None:
        wanted = column.strip().strip('"`[]')
        for _cid, name, declared, _notnull, _default, _pk in self._columns(conn, table):
            if name == wanted:
                return str(declared or "")
        return None

    def primary_key(self, conn: Any, table: str) -> str | None:
        columns = self._columns(conn, table)
        keys = [c[1] for c in columns if c[5]]
        if len(keys) == 1:
            return quote_sqlite(str(keys[0]))
        if not keys and columns:  # a rowid table without a declared key
            return "rowid"
        return None

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int, batch_size: int,
                 rows_per_second: float | None, statement_timeout_ms: int,
                 lock_timeout_ms: int, progress: Progress | None,
                 state_schema: str) -> None:  # fmt: skip
        from schemashift.execute.backfill_sqlite import run_backfill_sqlite

        run_backfill_sqlite(
            lambda: connect(self.target),
            backfill,
            migration=migration,
            step=step,
            batch_size=batch_size,
            rows_per_second=rows_per_second,
            statement_timeout_ms=statement_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            progress=progress,
            state_prefix=f"{state_schema}_",
        )
