"""The backfill on PostgreSQL: keyset-paginated batches, checkpointed, resumable.

A :class:`~schemashift.phases.plan.Backfill` says which table, the ``SET`` clause, the
condition of rows that still need it and the key to page on. :func:`run_backfill` walks
the key in ranges of ``batch_size`` rows, one statement (so one round trip and one short
transaction, run in autocommit) per batch. Once per connection it sets, on the session
(the connection is the backfill's own): ``statement_timeout``, ``lock_timeout``,
``synchronous_commit`` (on unless asked off) and ``schemashift.backfill`` (see "Triggers"
below). Each batch's statement then:

1. locks and reads the checkpoint row (``SELECT … FOR UPDATE`` in a CTE). The
   checkpoint in the database as locked, not a copy in memory, says where the batch
   starts: a second run of the same step queues behind this one's batch and then goes on
   from where it ended, instead of repeating its batches, and a run resumed while the
   killed run's last ``COMMIT`` is still in flight starts after what that commit wrote;
2. takes the next ``batch_size`` keys after the checkpoint (an index range scan), and
   ``UPDATE … WHERE key > last AND key <= <the batch's highest key> AND (pending)``. The
   range, not a list of keys, bounds the update, so rows inserted into the range
   meanwhile are covered too and no key is looked up twice;
3. moves the checkpoint to the batch's highest *scanned* key (not the highest updated
   one: rows that needed nothing are done as well) and adds the rows updated.

Steps 2 and 3 commit together or not at all: a run killed at any point resumes exactly
after the last committed batch, redoing and skipping nothing. One statement rather than
six (settings, lock, update, save, ``BEGIN``, ``COMMIT``) holds the batch's row locks
only while it runs on the server, not across five round trips. The batch size aims the
statement's time on the server at the budget (the round trip is left out: it is the same
for one row as for a thousand, and counting it shrank batches on a remote server to one
row each).

The walk stops at the highest key that existed when the run started. Rows the apps
insert or update after that are the sync trigger's job (expand installs it before the
backfill starts), as are rows inserted behind the checkpoint. The sizing, pauses, retries
and the search for a row failing on its value are the shared walk's
(:func:`~schemashift.execute.backfill.core.run_driver`); here a batch that fails on a
row's value is one with SQLSTATE class 22 or 23 (a bad cast, a value too long, NOT NULL,
unique, CHECK), and :class:`BackfillDataError` carries the server's message and DETAIL.

Triggers: the backfill's session sets ``schemashift.backfill`` to the name of the
update trigger of *its own* migration's sync trigger (sqltext/triggers.py), and each sync
trigger skips only when the setting holds its own name: the backfill's ``SET new = old``
does not call the trigger that would copy the value back where it came from, while the
sync triggers of other migrations in flight on the same table still fire for the rows
this backfill changes. A backfill that is not such a copy sets its migration and step
(never empty: a user trigger can skip every backfill batch with ``WHEN
(coalesce(current_setting('schemashift.backfill', true), '') = '')``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from schemashift.execute.backfill.core import (
    BackfillError,
    BackfillOptions,
    BackfillResult,
    BatchFailure,
    BatchOutcome,
    DriverBase,
    WalkStart,
    first_line,
    options_with,
    reopen,
    run_driver,
)
from schemashift.execute.backfill.progress import Progress
from schemashift.phases.plan import Backfill
from schemashift.sqltext.triggers import BACKFILL_SETTING, split_name, sync_trigger_names

__all__ = ["POSTGRES_BATCH_TIME_MS", "KeyInfo", "PostgresDriver", "backfill_setting",
           "ensure_progress_table", "estimate_rows", "resolve_key", "run_backfill"]  # fmt: skip

# lock_not_available (lock_timeout), deadlock_detected, serialization_failure
RETRYABLE_SQLSTATES = frozenset({"55P03", "40P01", "40001"})
QUERY_CANCELED = "57014"  # statement_timeout (or a cancel request)
# data_exception, integrity_constraint_violation: a row's value, not the batch, is at fault
DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})

# The time budget of a batch (its time on the server) unless the options name one. Chosen
# with benchmarks/backfill.py (benchmarks/README.md): an app's commit during a batch
# flushes the WAL the batch has written so far with its own, and waits behind the batch's
# row locks, so its tail latency follows the batch's duration. With ~2 ms batches (~450
# narrow rows) a concurrent writer's median stayed at idle, at 50-75% of one bulk
# UPDATE's rate; below that, the fixed cost of a batch eats the rate and the writer's p99
# did not improve (1.5 ms: 2.2x idle, against 1.8-3.4x at 2 ms on a 2-CPU machine where a
# backend spinning on a CPU alone costs 1.5x). (MySQL and SQLite keep the general default.)
POSTGRES_BATCH_TIME_MS = 2.0

_PLACEHOLDER = re.compile(r"\{(pk|type):([^{}]+)\}")
# Below this size a table with no statistics is counted for the progress total.
_COUNT_LIMIT_BYTES = 256 * 1024 * 1024

Connection = psycopg.Connection[Any]
BatchHook = Callable[[Connection, int], None]


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
        parts: dict[str, sql.Composable] = {
            "t": sql.SQL(_escape_percent(key.table_sql.as_string(conn))),
            "k": k,
            "ktype": ktype,
            "assignments": sql.SQL(_escape_percent(assignments)),
            "pending": sql.SQL(_escape_percent(pending) if pending else "true"),
        }
        table = _progress_table(state_schema)
        parts["cp"] = table
        # One statement a batch (one round trip; its row locks are held only as long as
        # it runs): lock the checkpoint row and start after it; if it is not started when
        # this run thought it was (or the reverse: another run started it meanwhile, or
        # it was reset) the statement does nothing and says so. The batch's upper bound is the n-th key after the checkpoint (an index-only
        # skip over n entries), or the end key when fewer remain (the tail; only then are
        # the remaining keys counted, for progress). The UPDATE is bounded by the key
        # range; the checkpoint moves to that bound and adds the rows updated, in the same
        # statement, hence the same transaction.
        template = (
            "WITH _ss_cp AS MATERIALIZED (\n"
            "    SELECT last_key, rows_done FROM {cp}\n"
            "    WHERE migration = %(migration)s AND step = %(step)s FOR UPDATE\n"
            "), _ss_nth AS MATERIALIZED (\n"
            "    SELECT (SELECT {k} FROM {t} WHERE {lower} {k} <= %(end)s::{ktype}\n"
            "            ORDER BY {k} OFFSET %(n)s - 1 LIMIT 1) AS _ss_k\n"
            "    FROM _ss_cp WHERE {started}\n"
            "), _ss_bound AS MATERIALIZED (\n"
            "    SELECT coalesce(_ss_k, %(end)s::{ktype}) AS _ss_hi, _ss_k IS NULL AS _ss_tail,\n"
            "           CASE WHEN _ss_k IS NULL THEN (SELECT count(*) FROM {t}\n"
            "               WHERE {lower} {k} <= %(end)s::{ktype}) ELSE %(n)s END AS _ss_scanned\n"
            "    FROM _ss_nth\n"
            "), _ss_update AS (\n"
            "    UPDATE {t} SET {assignments}\n"
            "    WHERE {lower} {k} <= (SELECT _ss_hi FROM _ss_bound) AND ({pending})\n"
            "    RETURNING 1\n"
            "), _ss_updated AS MATERIALIZED (\n"
            "    SELECT count(*) AS _ss_n FROM _ss_update\n"
            "), _ss_save AS (\n"
            "    UPDATE {cp} SET last_key = _ss_hi::text, rows_done = rows_done + _ss_n,\n"
            "        updated_at = now()\n"
            "    FROM _ss_bound, _ss_updated\n"
            "    WHERE migration = %(migration)s AND step = %(step)s AND _ss_scanned > 0\n"
            "    RETURNING rows_done\n"
            ")\n"
            "SELECT _ss_cp.last_key, _ss_cp.rows_done, _ss_hi::text, _ss_tail, _ss_scanned,\n"
            "       (SELECT _ss_n FROM _ss_updated), (SELECT rows_done FROM _ss_save),\n"
            "       extract(epoch FROM clock_timestamp() - statement_timestamp())\n"
            "FROM _ss_cp LEFT JOIN _ss_bound ON true"
        )
        # The lower bound is the checkpoint row as locked (the newest, when the statement
        # waited for another run's batch), not what this run last saw.
        lower = sql.SQL("{k} > (SELECT last_key FROM _ss_cp)::{ktype} AND").format(k=k,
                                                                                  ktype=ktype)  # fmt: skip
        self.first_batch = sql.SQL(template).format(lower=sql.SQL(""),
                                                    started=sql.SQL("last_key IS NULL"), **parts)  # fmt: skip
        self.next_batch = sql.SQL(template).format(lower=lower,
                                                   started=sql.SQL("last_key IS NOT NULL"), **parts)  # fmt: skip
        self.max_key = sql.SQL(
            "SELECT {k}::text AS _ss_end FROM {t} ORDER BY {k} DESC LIMIT 1"
        ).format(k=sql.Identifier(key.column), t=key.table_sql)
        # The first key after the checkpoint: where a batch failing on a value is pinned.
        # (An alias: ORDER BY would take the output column of the same name, the text.)
        key_after = "SELECT {k}::text AS _ss_key FROM {t} WHERE {lower} true ORDER BY {k} LIMIT 1"
        self.first_key = sql.SQL(key_after).format(lower=sql.SQL(""), k=k, t=parts["t"])
        after_last = sql.SQL("{k} > %(last)s::{ktype} AND").format(k=k, ktype=ktype)
        self.key_after = sql.SQL(key_after).format(lower=after_last, k=k, t=parts["t"])
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



def backfill_setting(backfill: Backfill, migration: str, step: int) -> str:
    """What this backfill's batches set ``schemashift.backfill`` to: when the SET clause
    is a plain copy ``new = old`` (the backfill that goes with a sync trigger), the name of
    the update trigger syncing ``old`` and ``new`` (sqltext/triggers.py), which skips the
    batches' updates and only those; else ``schemashift:<migration>:<step>``, which no
    sync trigger skips. Never empty: user triggers can tell a backfill batch by it."""
    copied = _copied_columns(backfill.assignments)
    if copied is not None:
        try:
            return sync_trigger_names(backfill.table, copied[1], copied[0])[1]
        except ValueError:  # not a table name the trigger could have been made for
            pass
    return f"schemashift:{migration}:{step}"


def _copied_columns(assignments: str) -> tuple[str, str] | None:
    """(target, source) when ``assignments`` is ``column = column`` (names as SQL)."""
    for match in re.finditer("=", assignments):
        left, right = assignments[: match.start()], assignments[match.end() :]
        try:
            if len(split_name(left)) == 1 and len(split_name(right)) == 1:
                return left.strip(), right.strip()
        except ValueError:  # "=" inside a quoted name, or not a column: try the next one
            continue
    return None


def run_backfill(
    connect: Callable[[], Connection],
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
    """Run (or resume) one backfill step on PostgreSQL; see the module docstring.

    ``connect`` opens a new connection (the backfill owns and closes it). ``options``:
    :class:`~schemashift.execute.backfill.core.BackfillOptions`; keyword arguments named
    like its fields override them (``batch_size=100``). ``check_alive`` is called before
    every batch: what it raises stops the backfill there (every committed batch has its
    checkpoint) and propagates unchanged. ``_after_update`` (tests): called inside each
    batch's transaction after the UPDATE and before the checkpoint write, with the
    connection and the batch's number in this call.
    """
    opts = options_with(options, overrides)
    if opts.batch_time_ms is None:
        opts = dataclasses.replace(opts, batch_time_ms=POSTGRES_BATCH_TIME_MS)
    driver = PostgresDriver(connect, backfill, opts, migration=migration, step=step,
                            after_update=_after_update)  # fmt: skip
    return run_driver(driver, opts, progress=progress, check_alive=check_alive)


class PostgresDriver(DriverBase["_Batcher"]):
    """The :class:`~schemashift.execute.backfill.core.BackfillDriver` of PostgreSQL."""

    def __init__(self, connect: Callable[[], Connection], backfill: Backfill,
                 options: BackfillOptions, *, migration: str, step: int,
                 after_update: BatchHook | None = None) -> None:  # fmt: skip
        super().__init__(connect, backfill, options, migration=migration, step=step,
                         after_update=after_update)  # fmt: skip
        # The batches' settings, set on the session once per connection (the connection is
        # the backfill's own, closed at its end). synchronous_commit on (the default): each
        # batch flushes its own WAL as it commits, so an app's commit flushes at most what
        # the batch in flight has written, not everything the backfill wrote since the WAL
        # writer's last flush (up to wal_writer_flush_after, 1 MB by default): measured,
        # a concurrent writer's median stays at idle (benchmarks/README.md). Off: the
        # batches run faster; a server crash can lose the last few committed batches, but
        # each together with its checkpoint (they share a commit record), so the resumed
        # run redoes exactly those.
        self._settings = (
            str(int(options.statement_timeout_ms)),
            str(int(options.lock_timeout_ms)),
            "on" if options.synchronous_commit else "off",
            BACKFILL_SETTING,
            backfill_setting(backfill, migration, step),
        )
        self._configured: Connection | None = None  # the connection the settings are on
        self._last: str | None = None  # the checkpoint as this run last read or wrote it

    def _connection(self) -> Connection:
        if self.conn is None or self.conn.closed:
            self.conn = reopen(self._open)
        conn: Connection = self.conn
        return conn

    def _open(self) -> Connection:
        conn: Connection = self._connect()
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        conn.autocommit = True
        return conn

    def prepare(self) -> WalkStart:
        conn = self.conn = self._open()
        migration, step = self.migration, self.step
        ensure_progress_table(conn, self.options.state_schema)
        key = resolve_key(conn, self.backfill.table, self.backfill.key)
        batcher = self._batcher = _Batcher(conn, key, self.backfill, self.options.state_schema,
                                           migration, step)  # fmt: skip
        estimate = estimate_rows(conn, key.oid, key.table_sql)
        conn.execute(batcher.init_checkpoint, {**batcher.ident, "estimate": estimate})
        row = conn.execute(batcher.read_checkpoint, batcher.ident).fetchone()
        if row is None:
            raise BackfillError(f"backfill: the checkpoint of {migration} step {step + 1} vanished")
        resumed_from: str | None = row[0]
        self._last = resumed_from
        if estimate is None or (row[2] is not None and resumed_from is not None):
            estimate = row[2]  # the table as the first run found it
        end_row = conn.execute(batcher.max_key).fetchone()
        return WalkStart(
            label=f"backfill {key.schema}.{key.table} ({migration} step {step + 1})",
            table=f"{key.schema}.{key.table}",
            key_column=key.column,
            estimate=estimate,
            resumed_from=resumed_from,
            total_done=int(row[1]),
            end_key=end_row[0] if end_row else None,
        )

    def run_batch(self, end_key: str, size: int, number: int) -> BatchOutcome:
        conn, b = self._connection(), self.batcher
        if self._configured is not conn:  # a new connection: its settings first
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('lock_timeout', %s, false), "
                "set_config('synchronous_commit', %s, false), set_config(%s, %s, false)",
                self._settings,
            )
            self._configured = conn
        while True:  # once more if the checkpoint was not started (or no longer is)
            params = {**b.ident, "end": end_key, "n": size}
            query = b.first_batch if self._last is None else b.next_batch
            if self._after_update is None:  # autocommit: the statement is the transaction
                row = conn.execute(query, params).fetchone()
            else:  # tests: their hook runs inside the batch's transaction, before COMMIT
                with conn.transaction():
                    row = conn.execute(query, params).fetchone()
                    self._after_update(conn, number)
            if row is None:
                raise BackfillError(
                    f"backfill: the checkpoint of {self.migration} step {self.step + 1} "
                    "disappeared (rolled back meanwhile?)"
                )
            last, total_done, hi, tail, scanned, updated, saved, ran = row
            if hi is None:
                if (last is None) == (self._last is None):  # not a race: never loop on it
                    raise BackfillError(f"backfill: batch after {last} found no upper bound")
                self._last = last  # another run started it meanwhile (or it was reset)
                continue
            if not scanned:
                return BatchOutcome(last, 0, 0, int(total_done), True)
            self._last = hi
            # (with a test hook, the transaction it holds open is the batch's time)
            server = float(ran) if self._after_update is None else None
            return BatchOutcome(hi, int(scanned), int(updated), int(saved), bool(tail),
                                server)  # fmt: skip

    def classify(self, exc: Exception) -> BatchFailure | None:
        if not isinstance(exc, psycopg.Error):
            return None
        state = exc.sqlstate
        if state == QUERY_CANCELED and "statement timeout" in str(exc):
            return BatchFailure("timeout", "statement_timeout")
        lost = isinstance(exc, psycopg.OperationalError) and state is None
        conn = self.conn
        if conn is None or conn.closed or conn.broken or lost:
            return BatchFailure("lost")
        if state in RETRYABLE_SQLSTATES:
            return BatchFailure("retryable", str(state))
        if state is not None and state[:2] in DATA_SQLSTATE_CLASSES:
            diag = exc.diag
            return BatchFailure("data", state, diag.message_primary or first_line(exc),
                                diag.message_detail or "")  # fmt: skip
        return BatchFailure("fatal")


    def key_after_checkpoint(self) -> str | None:
        conn, b = self._connection(), self.batcher
        row = conn.execute(b.read_checkpoint, b.ident).fetchone()
        last = None if row is None else row[0]
        query = b.first_key if last is None else b.key_after
        found = conn.execute(query, {"last": last}).fetchone()
        return None if found is None else str(found[0])
