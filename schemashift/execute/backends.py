"""What the phase runner needs from a database, one class per dialect.

The runner (execute/runner.py) owns the phase logic: order, checksum pin, state, retries
with backoff, rollback. A :class:`Backend` owns what differs between databases:

- connecting, and the run lock that keeps two runs of one migration from interleaving
  (PostgreSQL: a session advisory lock; MySQL: ``GET_LOCK``; SQLite: a ``run_lock:<id>``
  row in ``schemashift_meta`` holding the pid), one per migration of a database, so several
  migrations can be in flight; and whether the session holding it is still alive;
- how a step's statements are grouped and run with a lock timeout. PostgreSQL runs a step
  in one transaction (``SET LOCAL lock_timeout``) together with its record (``finish``),
  ``concurrent`` steps statement by statement in autocommit. MySQL has no transactional
  DDL: every DDL statement commits on its own, so a step is split into *statement groups*
  (a statement; ``SET @…``/``PREPARE`` … ``DEALLOCATE``; ``LOCK TABLES`` … ``UNLOCK
  TABLES``), each run on the one connection, retried as a whole, and recorded when it
  commits, so a retry or a resumed run starts at the first group not yet done;
- which errors are worth a retry (lock timeouts, deadlocks), and which say a statement's
  effect is there already (a group that committed just before a kill, run again);
- the catalog lookups behind the run-time references (sqltext/refs.py);
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
from schemashift.phases.plan import Backfill
from schemashift.sqltext.names import TableName, quote_ident

if TYPE_CHECKING:
    from schemashift.execute.backfill import Progress
    from schemashift.execute.backfill.core import BackfillOptions

RUN_LOCK = "schemashift:run"

Say = Callable[[str], None]
Finish = Callable[[], None]


def run_lock_key(migration: str) -> str:
    """The run lock of one migration (runs of different migrations do not block each
    other; status and the gate take none)."""
    return f"{RUN_LOCK}:{migration}"


class Backend(Protocol):
    """A database the runner can run plans on."""

    dialect: str
    # True: a step's statements commit together (the runner records only whole steps).
    # False: each statement group commits on its own and is recorded as it does.
    transactional_ddl: bool

    def connect(self) -> Any:
        """A new autocommit connection (the runner's; backfills open their own)."""

    def try_lock(self, conn: Any, key: str) -> bool:
        """Take the run lock ``key`` without waiting; False when another session holds it."""

    def unlock(self, conn: Any, key: str) -> None: ...

    def lock_alive(self, conn: Any, key: str) -> bool:
        """Whether ``conn`` is alive and still holds the run lock ``key``."""

    def state(self, conn: Any, state_schema: str) -> State: ...

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        """The step's statements as the units that commit (and are retried) together."""

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say, finish: Finish | None = None) -> None:  # fmt: skip
        """Run one group; waits for a lock never longer than about ``lock_timeout_ms``.
        ``finish`` (the step's record) runs in the group's transaction when there is one,
        else right after the group."""

    def retryable(self, exc: BaseException) -> str | None:
        """The error's code when it is worth a retry (lock timeout, deadlock), else None."""

    def already_applied(self, exc: BaseException) -> bool:
        """The error says the statement's effect is there already (duplicate column, index
        or object; nothing to drop): a group that committed just before a kill."""

    def column_type(self, conn: Any, table: TableName, column: str) -> str | None: ...

    def column_definition(self, conn: Any, table: TableName, column: str) -> str | None:
        """The column's whole definition as MODIFY takes it (MySQL), or None."""

    def primary_key(self, conn: Any, table: TableName) -> str | None:
        """The single primary-key column of ``table`` as SQL (else a column with a unique
        index of its own that is NOT NULL), or None."""

    def table_exists(self, conn: Any, table: TableName) -> bool: ...

    def copy_definition(self, conn: Any, table: TableName, column: str) -> tuple[str, str] | None:
        """(MySQL) How to add a copy of ``column`` that a later MODIFY can make like it
        online: (definition for ADD COLUMN, placeholder value as SQL or ``NULL``)."""

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]: ...

    def backfill(self, backfill: Backfill, *, migration: str, step: int,
                 options: BackfillOptions, progress: Progress | None,
                 check_alive: Finish | None = None) -> None:  # fmt: skip
        """Run (or resume) one backfill step with its references resolved, as ``options``
        say (batch size, time budget, rate, timeouts, the state tables)."""


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
    r"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?P<name>\"(?:[^\"]|\"\")+\"|\w+)\s+ON\s+(?:ONLY\s+)?"
    r"(?P<table>(?:\"(?:[^\"]|\"\")+\"|\w+)(?:\s*\.\s*(?:\"(?:[^\"]|\"\")+\"|\w+))?)",
    re.IGNORECASE,
)
PG_RETRYABLE = frozenset({"55P03", "40P01", "40001"})  # lock_not_available, deadlock, serialization
# duplicate_column, duplicate_object, duplicate_table, undefined_object on a DROP …
PG_ALREADY = frozenset({"42701", "42710", "42P07", "42704"})


def pg_error_text(exc: BaseException) -> str:
    """One line: the server's message and its DETAIL (a duplicate key names the key there)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    return f"{primary} ({detail})" if detail else str(primary)


def _lock_id(key: str) -> int:
    """A positive 63-bit advisory lock id for ``key`` (pg_locks shows it as classid, the
    high 32 bits, and objid, the low 32)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") & (2**63 - 1)


class PostgresBackend:
    dialect = "postgres"
    transactional_ddl = True

    def __init__(self, target: Target) -> None:
        self.target = target

    def connect(self) -> Any:
        return connect(self.target, autocommit=True)

    def try_lock(self, conn: Any, key: str) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_lock_id(key),)).fetchone()
        return bool(row[0])

    def unlock(self, conn: Any, key: str) -> None:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_id(key),))

    def lock_alive(self, conn: Any, key: str) -> bool:
        try:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted AND "
                "((classid::bigint << 32) | objid::bigint) = %s)",
                (_lock_id(key),),
            ).fetchone()
        except Exception:
            return False
        return bool(row and row[0])

    def state(self, conn: Any, state_schema: str) -> State:
        return PostgresState(conn, state_schema)

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        if concurrent:  # outside a transaction: each statement on its own
            return [[s] for s in statements]
        return [list(statements)] if statements else []

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say, finish: Finish | None = None) -> None:  # fmt: skip
        if concurrent:
            for sql in statements:
                self._concurrent(conn, sql, lock_timeout_ms, say)
            if finish is not None:
                finish()
            return
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            for sql in statements:
                conn.execute(sql)
            if finish is not None:
                finish()  # the step's record commits with its DDL, or neither does

    def _concurrent(self, conn: Any, sql: str, lock_timeout_ms: int, say: Say) -> None:
        conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        try:
            index = _CONCURRENT_INDEX.match(sql)
            if index and self._index_ready(conn, index.group("name"), index.group("table"), say):
                say(f"index {index.group('name')} exists and is valid: nothing to build")
                return
            conn.execute(sql)
        finally:
            conn.execute("RESET lock_timeout")

    @staticmethod
    def _index_ready(conn: Any, name: str, table: str, say: Say) -> bool:
        """Whether a valid index ``name`` is there (a build that finished just before a
        kill). An INVALID one (a failed concurrent build) is dropped first: IF NOT EXISTS
        would otherwise skip the rebuild and keep a useless index."""
        from schemashift.sqltext.names import split_name

        try:
            index_name = split_name(name)[-1]
            t = TableName.parse(table, "postgres")
        except ValueError:
            return False
        row = conn.execute(
            "SELECT i.indisvalid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
            "FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND c.relnamespace = "
            "(SELECT relnamespace FROM pg_class WHERE oid = to_regclass(%s))",
            (index_name, t.sql("postgres")),
        ).fetchone()
        if row is None:
            return False
        if row[0]:
            return True
        say(f"dropping INVALID index {row[1]} left by a failed build")
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {row[1]}")
        return False

    def retryable(self, exc: BaseException) -> str | None:
        state = getattr(exc, "sqlstate", None)
        return state if state in PG_RETRYABLE else None

    def already_applied(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in PG_ALREADY

    def column_type(self, conn: Any, table: TableName, column: str) -> str | None:
        row = conn.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
            (table.sql("postgres"), column),
        ).fetchone()
        return None if row is None else str(row[0])

    def column_definition(self, conn: Any, table: TableName, column: str) -> str | None:
        return None

    def primary_key(self, conn: Any, table: TableName) -> str | None:
        row = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass(%s) AND i.indnkeyatts = 1 "
            "AND (i.indisprimary OR (i.indisunique AND i.indisvalid AND i.indpred IS NULL "
            "AND i.indexprs IS NULL AND a.attnotnull)) "
            "ORDER BY i.indisprimary DESC, a.attnum LIMIT 1",
            (table.sql("postgres"),),
        ).fetchone()
        return None if row is None else quote_ident(str(row[0]), "postgres")

    def table_exists(self, conn: Any, table: TableName) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                           (table.sql("postgres"),)).fetchone()  # fmt: skip
        return bool(row and row[0])

    def copy_definition(self, conn: Any, table: TableName, column: str) -> tuple[str, str] | None:
        return None

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int,
                 options: BackfillOptions, progress: Progress | None,
                 check_alive: Finish | None = None) -> None:  # fmt: skip
        from schemashift.execute.backfill.postgres import run_backfill
        run_backfill(lambda: connect(self.target), backfill, migration=migration, step=step,
                     options=options, progress=progress, check_alive=check_alive)  # fmt: skip


# --------------------------------------------------------------------------- MySQL / MariaDB

# ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout for metadata locks, innodb_lock_wait_timeout for
# rows), ER_LOCK_DEADLOCK, ER_LOCK_NOWAIT.
MYSQL_RETRYABLE = frozenset({1205, 1213, 3572})
# ER_DUP_FIELDNAME, ER_DUP_KEYNAME, ER_TABLE_EXISTS_ERROR, ER_CANT_DROP_FIELD_OR_KEY,
# ER_TRG_ALREADY_EXISTS, ER_TRG_DOES_NOT_EXIST, ER_FK_DUP_NAME, ER_BAD_TABLE_ERROR (DROP
# TABLE of a dropped one).
MYSQL_ALREADY = frozenset({1060, 1061, 1050, 1091, 1359, 1360, 1826, 1051})
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


def mysql_run_lock_name(database: str, key: str = RUN_LOCK) -> str:
    """``GET_LOCK`` names are server-wide; PostgreSQL's advisory locks are per database.
    The run lock names the database so runs on two databases of one server do not block
    each other (hashed when the name would pass MySQL's 64 characters)."""
    name = f"{key}@{database}"
    if len(name) <= _MYSQL_MAX_LOCK_NAME:
        return name
    return f"{RUN_LOCK}:{hashlib.sha256(name.encode()).hexdigest()[:40]}"


MYSQL_MIN_LOCK_TIMEOUT_MS = 1000


def mysql_lock_seconds(lock_timeout_ms: int) -> int:
    """``lock_wait_timeout`` is whole seconds, and 0 would mean NOWAIT: at least 1 (the
    runner refuses a shorter --lock-timeout rather than wait longer than asked)."""
    return max(1, math.ceil(lock_timeout_ms / 1000))


def check_lock_timeout(dialect: str, lock_timeout_ms: int) -> str | None:
    """Why ``lock_timeout_ms`` cannot be honoured on ``dialect`` (None: it can)."""
    if dialect == "mysql" and lock_timeout_ms < MYSQL_MIN_LOCK_TIMEOUT_MS:
        return (
            f"--lock-timeout {lock_timeout_ms} ms cannot be honoured on MySQL/MariaDB: "
            "lock_wait_timeout counts whole seconds (and 0 means NOWAIT); use 1000 or more"
        )
    return None


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
        # Tests: called after each statement of a group commits (statement number).
        self.on_statement: Callable[[int], None] | None = None

    def connect(self) -> Any:
        return connect(self.target, autocommit=True)

    @staticmethod
    def _one(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _lock_name(self, conn: Any, key: str) -> str:
        row = self._one(conn, "SELECT DATABASE()")
        if row is None or row[0] is None:
            raise DatabaseError(f"no database selected in {self.target.safe}: name one in the URL")
        return mysql_run_lock_name(str(row[0]), key)

    def try_lock(self, conn: Any, key: str) -> bool:
        row = self._one(conn, "SELECT GET_LOCK(%s, 0)", (self._lock_name(conn, key),))
        return bool(row and row[0] == 1)

    def unlock(self, conn: Any, key: str) -> None:
        self._one(conn, "SELECT RELEASE_LOCK(%s)", (self._lock_name(conn, key),))

    def lock_alive(self, conn: Any, key: str) -> bool:
        try:
            row = self._one(conn, "SELECT IS_USED_LOCK(%s) = CONNECTION_ID()",
                            (self._lock_name(conn, key),))  # fmt: skip
        except Exception:
            return False
        return bool(row and row[0])

    def state(self, conn: Any, state_schema: str) -> State:
        return MySQLState(conn, f"{state_schema}_")

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        return mysql_statement_groups(statements)  # concurrent or not: the same

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say, finish: Finish | None = None) -> None:  # fmt: skip
        self._run_group(conn, statements, lock_timeout_ms)
        if finish is not None:
            finish()  # after the group committed (no transactional DDL)

    def _run_group(self, conn: Any, statements: Sequence[str], lock_timeout_ms: int) -> None:
        seconds = mysql_lock_seconds(lock_timeout_ms)
        try:
            with conn.cursor() as cur:
                # Metadata locks (DDL, LOCK TABLES) and InnoDB row locks (DML).
                cur.execute(f"SET SESSION lock_wait_timeout = {seconds}, "
                            f"innodb_lock_wait_timeout = {seconds}")  # fmt: skip
                for number, sql in enumerate(statements):
                    cur.execute(sql)
                    if self.on_statement is not None:
                        self.on_statement(number)
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

    def already_applied(self, exc: BaseException) -> bool:
        return mysql_error_code(exc) in MYSQL_ALREADY

    def column_type(self, conn: Any, table: TableName, column: str) -> str | None:
        row = self._one(
            conn,
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (table.schema, table.name, column),
        )
        # COLUMN_TYPE is the type alone ("varchar(50)", "int(11) unsigned"): NULL-ness,
        # default and collation are not part of it.
        return None if row is None else str(row[0])

    def column_definition(self, conn: Any, table: TableName, column: str) -> str | None:
        from schemashift.strategies.common import MYSQL_SAME_NULL, mysql_definition

        # The expression's LIKE patterns hold %: escaped for the driver's parameters.
        definition = mysql_definition(MYSQL_SAME_NULL).replace("%", "%%")
        row = self._one(
            conn,
            f"SELECT {definition} FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s "
            "AND COLUMN_NAME = %s",
            (table.schema, table.name, column),
        )
        return None if row is None else str(row[0])

    def primary_key(self, conn: Any, table: TableName) -> str | None:
        # Single-column unique indexes (PRIMARY first) on a NOT NULL column, whole (no prefix).
        with conn.cursor() as cur:
            cur.execute(
                # Every information_schema table filtered by the exact name (a join on
                # TABLE_NAME compares case-insensitively: `Users` would meet `users`).
                "SELECT s.COLUMN_NAME FROM information_schema.STATISTICS s "
                "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = COALESCE(%s, DATABASE()) "
                "AND c.TABLE_NAME = %s AND BINARY c.COLUMN_NAME = BINARY s.COLUMN_NAME "
                "WHERE s.TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND s.TABLE_NAME = %s "
                "AND s.NON_UNIQUE = 0 AND s.SUB_PART IS NULL AND c.IS_NULLABLE = 'NO' "
                "AND (SELECT COUNT(*) FROM information_schema.STATISTICS x WHERE "
                "x.TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND x.TABLE_NAME = %s "
                "AND BINARY x.INDEX_NAME = BINARY s.INDEX_NAME) = 1 "
                "ORDER BY s.INDEX_NAME <> 'PRIMARY', s.INDEX_NAME",
                (table.schema, table.name) * 3,
            )
            rows = cur.fetchall()
        return quote_mysql(str(rows[0][0])) if rows else None

    def table_exists(self, conn: Any, table: TableName) -> bool:
        return self._one(
            conn,
            "SELECT 1 FROM information_schema.TABLES WHERE "
            "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s",
            (table.schema, table.name),
        ) is not None

    def copy_definition(self, conn: Any, table: TableName, column: str) -> tuple[str, str] | None:
        # A NOT NULL TIMESTAMP / DATETIME copy cannot be added NULL and made NOT NULL later
        # with LOCK=NONE (MariaDB: "cannot convert NULL to non-constant DEFAULT"): it is
        # added NOT NULL with a placeholder default the triggers and the backfill replace.
        row = self._one(
            conn,
            "SELECT COLUMN_TYPE, IS_NULLABLE = 'NO' AND DATA_TYPE IN ('timestamp', 'datetime'), "
            "DATA_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            (table.schema, table.name, column),
        )
        if row is None:
            return None
        if not int(row[1]):
            return f"{row[0]} NULL", "NULL"
        mark = "'1970-01-01 00:00:01'" if str(row[2]).lower() == "timestamp" else "'1000-01-01 00:00:00'"
        return f"{row[0]} NOT NULL DEFAULT {mark}", mark

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int,
                 options: BackfillOptions, progress: Progress | None,
                 check_alive: Finish | None = None) -> None:  # fmt: skip
        from schemashift.execute.backfill.mysql import run_backfill_mysql
        run_backfill_mysql(
            lambda: connect(self.target), backfill, migration=migration, step=step,
            options=options, progress=progress, check_alive=check_alive,
        )  # fmt: skip


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

    def try_lock(self, conn: Any, key: str) -> bool:
        from schemashift.execute.state import sqlite_layout

        lock_key = f"{SQLITE_LOCK_KEY}:{key}"
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(sqlite_layout(self.prefix)[0])
            row = conn.execute(f"SELECT value FROM {self._meta} WHERE key = ?",
                               (lock_key,)).fetchone()  # fmt: skip
            if row is not None:
                pid_text = str(row[0]).split(":", 1)[0]
                if pid_text.isdigit() and _pid_alive(int(pid_text)):
                    conn.execute("ROLLBACK")
                    return False
            token = f"{os.getpid()}:{uuid.uuid4().hex}"
            conn.execute(f"INSERT INTO {self._meta} (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (lock_key, token))  # fmt: skip
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._token = token
        return True

    def unlock(self, conn: Any, key: str) -> None:
        if self._token is None:
            return
        conn.execute(f"DELETE FROM {self._meta} WHERE key = ? AND value = ?",
                     (f"{SQLITE_LOCK_KEY}:{key}", self._token))  # fmt: skip
        self._token = None

    def lock_alive(self, conn: Any, key: str) -> bool:
        try:
            row = conn.execute(f"SELECT value FROM {self._meta} WHERE key = ?",
                               (f"{SQLITE_LOCK_KEY}:{key}",)).fetchone()  # fmt: skip
        except Exception:
            return False
        return row is not None and row[0] == self._token

    def state(self, conn: Any, state_schema: str) -> State:
        return SQLiteState(conn, f"{state_schema}_")

    def groups(self, statements: Sequence[str], *, concurrent: bool) -> list[list[str]]:
        return [list(statements)] if statements else []

    def run_group(self, conn: Any, statements: Sequence[str], *, lock_timeout_ms: int,
                  concurrent: bool, say: Say, finish: Finish | None = None) -> None:  # fmt: skip
        conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql in statements:
                    conn.execute(sql)
                if finish is not None:
                    finish()  # the step's record commits with its DDL
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

    def already_applied(self, exc: BaseException) -> bool:
        text = str(exc).lower()
        return "duplicate column" in text or "already exists" in text

    @staticmethod
    def _columns(conn: Any, table: TableName) -> list[tuple[Any, ...]]:
        schema = quote_sqlite(table.schema or "main")
        sql = f"PRAGMA {schema}.table_info({quote_sqlite(table.name)})"
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def column_type(self, conn: Any, table: TableName, column: str) -> str | None:
        for _cid, name, declared, _notnull, _default, _pk in self._columns(conn, table):
            if name == column:
                return str(declared or "")
        return None

    def column_definition(self, conn: Any, table: TableName, column: str) -> str | None:
        return None

    def table_exists(self, conn: Any, table: TableName) -> bool:
        return bool(self._columns(conn, table))

    def copy_definition(self, conn: Any, table: TableName, column: str) -> tuple[str, str] | None:
        return None

    def primary_key(self, conn: Any, table: TableName) -> str | None:
        columns = self._columns(conn, table)
        keys = [c[1] for c in columns if c[5]]
        if len(keys) == 1:
            return quote_sqlite(str(keys[0]))
        if not keys and columns:  # a rowid table without a declared key
            return "rowid"
        return None

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql).fetchall()]

    def backfill(self, backfill: Backfill, *, migration: str, step: int,
                 options: BackfillOptions, progress: Progress | None,
                 check_alive: Finish | None = None) -> None:  # fmt: skip
        from schemashift.execute.backfill.sqlite import run_backfill_sqlite
        run_backfill_sqlite(
            lambda: connect(self.target), backfill, migration=migration, step=step,
            options=options, progress=progress, check_alive=check_alive,
        )  # fmt: skip
