"""schemashift's own tables in the target database (docs/design.md §7).

PostgreSQL: schema ``schemashift`` (configurable); MySQL/MariaDB: tables prefixed
``schemashift_`` in the current database (the prefix is the configured state schema plus
``_``). Created on first use and migrated by schemashift itself: ``meta`` keeps the layout
version, and each upgrade step below runs once (they are idempotent).

- ``migrations``: one row per migration: its plan, the checksum pinned at expand, the last
  completed phase, status, steps done, timestamps, error, the app version it is for, and
  ``groups_done`` (``{step: statement groups done}``) for steps that do not run in one
  transaction (MySQL has no transactional DDL, CONCURRENTLY runs outside one: such a step
  resumes after its last group), ``captured`` (the run-time references of the plan as the
  catalog answered them when expand started, sqltext/refs.py) and ``contract_started_at``
  (set before the first contract statement: from then on rollback is refused);
- ``backfill_progress``: the checkpoint of each backfill step (see execute/backfill.py);
- ``deployments``: which app versions run where (the deployment registry);
- ``events``: append-only audit log of every phase run, gate decision and ``--force``.

Timestamps are UTC: ``timestamptz`` on PostgreSQL, ``DATETIME(6)`` written with
``UTC_TIMESTAMP(6)`` on MySQL (read back as aware datetimes either way).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

LAYOUT_VERSION = 3

_PG_LAYOUT = [
    "CREATE SCHEMA IF NOT EXISTS {s}",
    "CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS {s}.migrations (
        migration text PRIMARY KEY,
        plan jsonb NOT NULL,
        checksum text NOT NULL,
        phase text,
        status text NOT NULL,
        steps_done jsonb NOT NULL DEFAULT '[]',
        for_app text,
        for_version text,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        error text,
        groups_done jsonb NOT NULL DEFAULT '{{}}',
        captured jsonb NOT NULL DEFAULT '{{}}',
        contract_started_at timestamptz)""",
    """CREATE TABLE IF NOT EXISTS {s}.backfill_progress (
        migration text NOT NULL,
        step int NOT NULL,
        last_key text,
        rows_done bigint NOT NULL DEFAULT 0,
        rows_total_estimate bigint,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (migration, step))""",
    """CREATE TABLE IF NOT EXISTS {s}.deployments (
        app text NOT NULL,
        version text NOT NULL,
        instance text NOT NULL,
        environment text NOT NULL DEFAULT 'production',
        slot text,
        traffic numeric,
        first_seen timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz,
        PRIMARY KEY (app, instance, environment))""",
    """CREATE TABLE IF NOT EXISTS {s}.events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        migration text,
        phase text,
        action text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{{}}',
        forced boolean NOT NULL DEFAULT false,
        reason text)""",
]
# Upgrades: (layout version, statement); each runs once, when the stored version is older.
_PG_UPGRADES = [
    (
        2,
        "ALTER TABLE {s}.migrations ADD COLUMN IF NOT EXISTS groups_done jsonb NOT NULL "
        "DEFAULT '{{}}'",
    ),
    (
        3,
        "ALTER TABLE {s}.migrations ADD COLUMN IF NOT EXISTS captured jsonb NOT NULL "
        "DEFAULT '{{}}', ADD COLUMN IF NOT EXISTS contract_started_at timestamptz",
    ),
]

# The same tables on MySQL 8 / MariaDB 10.5+ ({p}: the prefix). Keys are VARCHAR (TEXT
# cannot be a key), case-sensitive like PostgreSQL's text (utf8mb4_bin); JSON is LONGTEXT
# with a JSON_VALID check on MariaDB; InnoDB, so a backfill batch and its checkpoint commit
# together.
_MYSQL_TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
_MYSQL_LAYOUT = [
    """CREATE TABLE IF NOT EXISTS `{p}meta` (
        `key` VARCHAR(191) PRIMARY KEY,
        value TEXT NOT NULL) """
    + _MYSQL_TABLE_OPTIONS,
    """CREATE TABLE IF NOT EXISTS `{p}migrations` (
        migration VARCHAR(255) PRIMARY KEY,
        plan JSON NOT NULL,
        checksum VARCHAR(64) NOT NULL,
        phase VARCHAR(32),
        status VARCHAR(32) NOT NULL,
        steps_done JSON NOT NULL DEFAULT ('[]'),
        for_app VARCHAR(255),
        for_version VARCHAR(255),
        started_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        finished_at DATETIME(6) NULL,
        error TEXT,
        groups_done JSON NOT NULL DEFAULT ('{{}}'),
        captured JSON NOT NULL DEFAULT ('{{}}'),
        contract_started_at DATETIME(6) NULL) """
    + _MYSQL_TABLE_OPTIONS,
    """CREATE TABLE IF NOT EXISTS `{p}backfill_progress` (
        migration VARCHAR(255) NOT NULL,
        step INT NOT NULL,
        last_key TEXT,
        rows_done BIGINT NOT NULL DEFAULT 0,
        rows_total_estimate BIGINT,
        updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (migration, step)) """
    + _MYSQL_TABLE_OPTIONS,
    """CREATE TABLE IF NOT EXISTS `{p}deployments` (
        app VARCHAR(191) NOT NULL,
        version VARCHAR(191) NOT NULL,
        instance VARCHAR(191) NOT NULL,
        environment VARCHAR(191) NOT NULL DEFAULT 'production',
        slot VARCHAR(32),
        traffic DECIMAL(6, 2),
        first_seen DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        last_seen DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        retired_at DATETIME(6) NULL,
        PRIMARY KEY (app, instance, environment)) """
    + _MYSQL_TABLE_OPTIONS,
    """CREATE TABLE IF NOT EXISTS `{p}events` (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        migration VARCHAR(255),
        phase VARCHAR(32),
        action VARCHAR(64) NOT NULL,
        detail JSON NOT NULL DEFAULT ('{{}}'),
        forced BOOLEAN NOT NULL DEFAULT FALSE,
        reason TEXT,
        KEY `{p}events_migration` (migration, id)) """
    + _MYSQL_TABLE_OPTIONS,
]

_COLUMNS = (
    "migration, plan, checksum, phase, status, steps_done, for_app, for_version, "
    "started_at, updated_at, finished_at, error, groups_done, captured, contract_started_at"
)


@dataclass(frozen=True)
class MigrationRow:
    migration: str
    plan: dict[str, Any]
    checksum: str
    phase: str | None  # the last phase completed
    status: str  # running | done | failed | rolled_back
    steps_done: tuple[int, ...]
    for_app: str | None
    for_version: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error: str | None
    # Steps started but not done, on a database without transactional DDL: how many of
    # their statement groups are committed (0: started, maybe partly applied).
    groups_done: dict[int, int] = field(default_factory=dict)
    # The plan's run-time references as captured when expand started (refs.Ref.key → value).
    captured: dict[str, str] = field(default_factory=dict)
    contract_started_at: datetime | None = None

    @property
    def contract_started(self) -> bool:
        return self.contract_started_at is not None or self.phase == "contract"


@dataclass(frozen=True)
class DeploymentRow:
    app: str
    version: str
    instance: str
    environment: str
    slot: str | None
    traffic: float | None
    first_seen: datetime
    last_seen: datetime
    retired_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app, "version": self.version, "instance": self.instance,
            "environment": self.environment, "slot": self.slot, "traffic": self.traffic,
            "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
            "retired_at": None if self.retired_at is None else self.retired_at.isoformat(),
        }  # fmt: skip


class State:
    """The state tables through a DB-API connection. The queries are shared; a dialect
    supplies how to run them (``_q``, ``_rows``, ``_run``) and the few statements that
    differ (upsert, JSON updates, the layout)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    # -- dialect hooks -----------------------------------------------------------------

    def _q(self, sql: str) -> str:
        """``{s}.name`` → the state table ``name``; ``{now}`` → the current time."""
        raise NotImplementedError

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        raise NotImplementedError

    def _time(self, value: Any) -> Any:
        return value

    _START_SQL = ""
    _STEP_DONE_SQL = ""
    _GROUPS_SQL = ""
    _CAPTURE_SQL = ""

    def ensure(self) -> None:
        """Create or upgrade the tables (idempotent; safe under concurrent first use)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------

    def get(self, migration: str) -> MigrationRow | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM {{s}}.migrations WHERE migration = %s",
                          (migration,))  # fmt: skip
        return self._row(rows[0]) if rows else None

    def all(self) -> list[MigrationRow]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM {{s}}.migrations "
                          "ORDER BY started_at, migration")  # fmt: skip
        return [self._row(r) for r in rows]

    def start(self, migration: str, plan: dict[str, Any], checksum: str,
              for_app: str | None, for_version: str | None,
              captured: dict[str, str] | None = None) -> None:  # fmt: skip
        self._run(self._START_SQL, (migration, json.dumps(plan), checksum, for_app, for_version,
                                    json.dumps(captured or {})))  # fmt: skip

    def capture(self, migration: str, values: dict[str, str]) -> None:
        """Add run-time reference values resolved after expand started (objects the
        migration itself creates)."""
        self._run(self._CAPTURE_SQL, (json.dumps(values), migration))

    def contract_started(self, migration: str) -> None:
        """Contract is about to run its first statement: rollback is refused from now on."""
        self._run(
            "UPDATE {s}.migrations SET contract_started_at = COALESCE(contract_started_at, "
            "{now}), updated_at = {now} WHERE migration = %s",
            (migration,),
        )

    def step_done(self, migration: str, step: int) -> None:
        self._run(self._STEP_DONE_SQL, (step, migration, str(step)))

    def step_started(self, migration: str, step: int) -> None:
        """A step that does not run in one transaction began (its effects may be partial
        from now on: a rollback undoes it even if it never finishes)."""
        self.groups_done(migration, step, 0)

    def groups_done(self, migration: str, step: int, groups: int) -> None:
        """``groups`` statement groups of a non-transactional step are committed."""
        self._run(self._GROUPS_SQL, (str(step), groups, migration))

    def set_phase(self, migration: str, phase: str | None, status: str,
                  error: str | None = None) -> None:  # fmt: skip
        self._run(
            "UPDATE {s}.migrations SET phase = %s, status = %s, error = %s, "
            "updated_at = {now}, finished_at = CASE WHEN %s IN ('done', 'rolled_back') "
            "THEN {now} ELSE NULL END WHERE migration = %s",
            (phase, status, error, status, migration),
        )

    _SET_STEPS_SQL = "UPDATE {s}.migrations SET steps_done = %s WHERE migration = %s"

    def redo_steps(self, migration: str, steps: list[int], phase: str | None) -> None:
        """Forget that ``steps`` ran (and their backfill checkpoints) and set the migration
        back to ``phase``: a backfill run again after verify found rows it must fix."""
        row = self.get(migration)
        if row is None:
            return
        keep = [s for s in row.steps_done if s not in steps]
        self._run(self._SET_STEPS_SQL, (json.dumps(keep), migration))
        for step in steps:
            self._run("DELETE FROM {s}.backfill_progress WHERE migration = %s AND step = %s",
                      (migration, step))  # fmt: skip
        self.set_phase(migration, phase, "running")

    def clear_steps(self, migration: str) -> None:
        self._run(
            "UPDATE {s}.migrations SET steps_done = '[]', groups_done = '{{}}' "
            "WHERE migration = %s",
            (migration,),
        )
        self._run("DELETE FROM {s}.backfill_progress WHERE migration = %s", (migration,))

    def event(self, migration: str | None, phase: str | None, action: str,
              detail: dict[str, Any] | None = None, *, forced: bool = False,
              reason: str | None = None) -> None:  # fmt: skip
        self._run(
            "INSERT INTO {s}.events (at, migration, phase, action, detail, forced, reason) "
            "VALUES ({now}, %s, %s, %s, %s, %s, %s)",
            (migration, phase, action, json.dumps(detail or {}), forced, reason),
        )

    def last_event(self, migration: str) -> tuple[datetime, str, str | None] | None:
        rows = self._rows(
            "SELECT at, action, phase FROM {s}.events WHERE migration = %s "
            "ORDER BY id DESC LIMIT 1",
            (migration,),
        )
        return (self._time(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last ``limit`` events, newest first (``schemashift serve``'s status page)."""
        rows = self._rows(
            "SELECT id, at, migration, phase, action, detail, forced, reason FROM {s}.events "
            f"ORDER BY id DESC LIMIT {int(limit)}"
        )
        return [
            {"id": int(r[0]), "at": self._time(r[1]).isoformat(), "migration": r[2],
             "phase": r[3], "action": r[4],
             "detail": r[5] if isinstance(r[5], dict) else json.loads(r[5] or "{}"),
             "forced": bool(r[6]), "reason": r[7]}
            for r in rows
        ]  # fmt: skip

    def backfill_progress(self, migration: str) -> list[tuple[int, int, int | None]]:
        rows = self._rows(
            "SELECT step, rows_done, rows_total_estimate FROM {s}.backfill_progress "
            "WHERE migration = %s ORDER BY step",
            (migration,),
        )
        return [(int(r[0]), int(r[1]), None if r[2] is None else int(r[2])) for r in rows]

    # -- the deployment registry (schemashift/deploy.py) -------------------------------

    def db_now(self) -> datetime:
        """The database's current time (UTC, aware): heartbeats are compared with it."""
        value = self._time(self._rows("SELECT {now}")[0][0])
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    def record_deployment(self, app: str, version: str, instance: str, environment: str,
                          slot: str | None, traffic: float | None) -> None:  # fmt: skip
        """Upsert one instance: bumps last_seen, clears retired_at (first_seen kept unless
        the version changed). A slot or traffic of None keeps the stored one: an app's
        heartbeat must not erase the traffic share the pipeline recorded."""
        key = (app, instance, environment)
        where = "WHERE app = %s AND instance = %s AND environment = %s"
        found = self._rows(f"SELECT version FROM {{s}}.deployments {where}", key)
        if found:
            self._run(
                # first_seen first: MySQL evaluates SET left to right (sees the new version)
                "UPDATE {s}.deployments SET first_seen = CASE WHEN version = %s "
                "THEN first_seen ELSE {now} END, version = %s, slot = COALESCE(%s, slot), "
                f"traffic = COALESCE(%s, traffic), last_seen = {{now}}, retired_at = NULL {where}",
                (version, version, slot, traffic, *key),
            )
            return
        try:
            self._run(
                "INSERT INTO {s}.deployments (app, version, instance, environment, slot, "
                "traffic, first_seen, last_seen) VALUES (%s, %s, %s, %s, %s, %s, {now}, {now})",
                (app, version, instance, environment, slot, traffic),
            )
        except Exception:
            # Another heartbeat of the same instance inserted it meanwhile: update instead.
            if not self._rows(f"SELECT version FROM {{s}}.deployments {where}", key):
                raise
            self.record_deployment(app, version, instance, environment, slot, traffic)

    def retire_deployments(self, app: str, instance: str | None = None,
                           version: str | None = None) -> int:  # fmt: skip
        """Mark the matching live rows retired; how many there were."""
        where, params = "app = %s AND retired_at IS NULL", [app]
        if instance is not None:
            where, params = where + " AND instance = %s", [*params, instance]
        if version is not None:
            where, params = where + " AND version = %s", [*params, version]
        count = int(self._rows(f"SELECT count(*) FROM {{s}}.deployments WHERE {where}",
                               tuple(params))[0][0])  # fmt: skip
        if count:
            self._run(f"UPDATE {{s}}.deployments SET retired_at = {{now}} WHERE {where}",
                      tuple(params))  # fmt: skip
        return count

    def deployments(self, app: str | None = None) -> list[DeploymentRow]:
        sql = ("SELECT app, version, instance, environment, slot, traffic, first_seen, "
               "last_seen, retired_at FROM {s}.deployments")  # fmt: skip
        rows = (self._rows(sql + " WHERE app = %s ORDER BY app, instance, environment", (app,))
                if app is not None else
                self._rows(sql + " ORDER BY app, instance, environment"))  # fmt: skip
        return [
            DeploymentRow(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else float(r[5]),
                          self._time(r[6]), self._time(r[7]), self._time(r[8]))
            for r in rows
        ]  # fmt: skip

    def _row(self, row: tuple[Any, ...]) -> MigrationRow:
        plan = row[1] if isinstance(row[1], dict) else json.loads(row[1])
        steps = row[5] if isinstance(row[5], list) else json.loads(row[5] or "[]")
        groups = row[12] if isinstance(row[12], dict) else json.loads(row[12] or "{}")
        captured = row[13] if isinstance(row[13], dict) else json.loads(row[13] or "{}")
        return MigrationRow(row[0], plan, row[2], row[3], row[4], tuple(int(s) for s in steps),
                            row[6], row[7], self._time(row[8]), self._time(row[9]),
                            self._time(row[10]), row[11],
                            {int(k): int(v) for k, v in groups.items()},
                            {str(k): str(v) for k, v in captured.items()},
                            self._time(row[14]))  # fmt: skip


class PostgresState(State):
    """The state tables in schema ``schema`` through a psycopg 3 connection."""

    def __init__(self, conn: Any, schema: str = "schemashift") -> None:
        super().__init__(conn)
        self.schema = schema

    def _q(self, sql: str) -> str:
        from psycopg import sql as psql

        return (
            psql.SQL(sql)
            .format(s=psql.Identifier(self.schema), now=psql.SQL("now()"))
            .as_string(self.conn)
        )

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(self._q(sql), params or None).fetchall())

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(self._q(sql), params or None)

    _START_SQL = (
        "INSERT INTO {s}.migrations (migration, plan, checksum, status, for_app, "
        "for_version, captured) VALUES (%s, %s, %s, 'running', %s, %s, %s) "
        "ON CONFLICT (migration) DO UPDATE SET plan = EXCLUDED.plan, "
        "checksum = EXCLUDED.checksum, status = 'running', phase = NULL, "
        "steps_done = '[]', groups_done = '{{}}', for_app = EXCLUDED.for_app, "
        "for_version = EXCLUDED.for_version, error = NULL, finished_at = NULL, "
        "captured = EXCLUDED.captured, contract_started_at = NULL, updated_at = now()"
    )
    _CAPTURE_SQL = (
        "UPDATE {s}.migrations SET captured = captured || %s::jsonb WHERE migration = %s"
    )
    _SET_STEPS_SQL = "UPDATE {s}.migrations SET steps_done = %s::jsonb WHERE migration = %s"
    _STEP_DONE_SQL = (
        "UPDATE {s}.migrations SET steps_done = steps_done || to_jsonb(%s::int), "
        "updated_at = now() WHERE migration = %s AND NOT steps_done @> %s::jsonb"
    )
    _GROUPS_SQL = (
        "UPDATE {s}.migrations SET groups_done = jsonb_set(groups_done, ARRAY[%s::text], "
        "to_jsonb(%s::int)), updated_at = now() WHERE migration = %s"
    )

    def ensure(self) -> None:
        with self.conn.transaction():
            # Serialise concurrent first uses: CREATE … IF NOT EXISTS can still race.
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('schemashift:layout'))")
            for statement in _PG_LAYOUT:
                self.conn.execute(self._q(statement))
            row = self.conn.execute(
                self._q("SELECT value FROM {s}.meta WHERE key = 'layout_version'")
            ).fetchone()
            stored = int(row[0]) if row else 0
            for version, statement in _PG_UPGRADES:
                if version > stored:
                    self.conn.execute(self._q(statement))
            if stored < LAYOUT_VERSION:
                self.conn.execute(
                    self._q("INSERT INTO {s}.meta VALUES ('layout_version', %s) "
                            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
                    (str(LAYOUT_VERSION),),
                )  # fmt: skip


_TABLE_REF = re.compile(r"\{s\}\.(\w+)")
# Columns later layouts added to <prefix>migrations: (name, definition).
_MYSQL_UPGRADES = [
    ("groups_done", "JSON NOT NULL DEFAULT ('{}')"),
    ("captured", "JSON NOT NULL DEFAULT ('{}')"),
    ("contract_started_at", "DATETIME(6) NULL"),
]


class MySQLState(State):
    """The state tables ``<prefix>migrations`` … in the current database through a PyMySQL
    connection (autocommit). Parameters go through the driver; the SQL holds no ``%``
    other than its placeholders."""

    def __init__(self, conn: Any, prefix: str = "schemashift_") -> None:
        super().__init__(conn)
        if not re.fullmatch(r"\w*", prefix):
            raise ValueError(f"state table prefix must be letters, digits and _: {prefix!r}")
        self.prefix = prefix

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"

    def _q(self, sql: str) -> str:
        sql = _TABLE_REF.sub(lambda m: self.table(m.group(1)), sql)
        return sql.replace("{now}", "UTC_TIMESTAMP(6)").replace("{{}}", "{}")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(self._q(sql), params or None)
            return [tuple(r) for r in cur.fetchall()]

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with self.conn.cursor() as cur:
            cur.execute(self._q(sql), params or None)

    def _time(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value

    _START_SQL = (
        "INSERT INTO {s}.migrations (migration, plan, checksum, status, for_app, "
        "for_version, captured, steps_done, groups_done, started_at, updated_at) "
        "VALUES (%s, %s, %s, 'running', %s, %s, %s, '[]', '{{}}', {now}, {now})"
    )
    _RESTART_SQL = (
        "UPDATE {s}.migrations SET plan = %s, checksum = %s, status = 'running', "
        "phase = NULL, steps_done = '[]', groups_done = '{{}}', for_app = %s, "
        "for_version = %s, captured = %s, contract_started_at = NULL, error = NULL, "
        "finished_at = NULL, updated_at = {now} WHERE migration = %s"
    )
    _CAPTURE_SQL = (
        "UPDATE {s}.migrations SET captured = JSON_MERGE_PATCH(captured, %s) "
        "WHERE migration = %s"
    )

    def start(self, migration: str, plan: dict[str, Any], checksum: str,
              for_app: str | None, for_version: str | None,
              captured: dict[str, str] | None = None) -> None:  # fmt: skip
        # No portable upsert (MySQL 8.0.20+ deprecates VALUES(), MariaDB lacks row aliases);
        # the caller holds the run lock, so nobody else writes the row meanwhile.
        if self.get(migration) is None:
            super().start(migration, plan, checksum, for_app, for_version, captured)
        else:
            self._run(self._RESTART_SQL,
                      (json.dumps(plan), checksum, for_app, for_version,
                       json.dumps(captured or {}), migration))  # fmt: skip

    _STEP_DONE_SQL = (
        "UPDATE {s}.migrations SET steps_done = JSON_ARRAY_APPEND(steps_done, '$', %s), "
        "updated_at = {now} WHERE migration = %s AND NOT JSON_CONTAINS(steps_done, %s)"
    )
    _GROUPS_SQL = (
        "UPDATE {s}.migrations SET groups_done = JSON_SET(groups_done, "
        "CONCAT('$.\"', %s, '\"'), %s), updated_at = {now} WHERE migration = %s"
    )

    def ensure(self) -> None:
        """Create or upgrade the tables. Each CREATE commits on its own (no transactional
        DDL); ``IF NOT EXISTS`` and ``INSERT IGNORE`` make concurrent first uses safe."""
        existing = {r[0] for r in self._rows(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME LIKE %s", (self.prefix.replace("_", "\\_") + "%",))}  # fmt: skip
        names = ("meta", "migrations", "backfill_progress", "deployments", "events")
        if any(self.prefix + n not in existing for n in names):
            for statement in _MYSQL_LAYOUT:
                self._run(statement.replace("{p}", self.prefix).replace("{{}}", "{}"))
        # Upgrades: columns added by later layouts (each ALTER commits on its own; a rerun
        # after a kill finds the column and skips it).
        have = {r[0] for r in self._rows(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s", (self.prefix + "migrations",))}  # fmt: skip
        for column, definition in _MYSQL_UPGRADES:
            if column not in have:
                self._run(f"ALTER TABLE {{s}}.migrations ADD COLUMN {column} {definition}")
        self._run("INSERT INTO {s}.meta (`key`, value) VALUES ('layout_version', %s) "
                  "ON DUPLICATE KEY UPDATE value = GREATEST(value + 0, %s)",
                  (str(LAYOUT_VERSION), LAYOUT_VERSION))  # fmt: skip

    def ensure_backfill_progress(self) -> None:
        """Only ``<prefix>backfill_progress`` (the backfill's own first use)."""
        self._run(_MYSQL_LAYOUT[2].replace("{p}", self.prefix))


# The same tables on SQLite ({p}: the prefix; one database file, no schemas). JSON is text
# (the json1 functions are built in); timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.SSS'.
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_SQLITE_LAYOUT = [
    "CREATE TABLE IF NOT EXISTS {p}meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS {p}migrations (
        migration TEXT PRIMARY KEY,
        plan TEXT NOT NULL,
        checksum TEXT NOT NULL,
        phase TEXT,
        status TEXT NOT NULL,
        steps_done TEXT NOT NULL DEFAULT '[]',
        for_app TEXT,
        for_version TEXT,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT,
        groups_done TEXT NOT NULL DEFAULT '{}',
        captured TEXT NOT NULL DEFAULT '{}',
        contract_started_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS {p}backfill_progress (
        migration TEXT NOT NULL,
        step INTEGER NOT NULL,
        last_key TEXT,
        rows_done INTEGER NOT NULL DEFAULT 0,
        rows_total_estimate INTEGER,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (migration, step))""",
    """CREATE TABLE IF NOT EXISTS {p}deployments (
        app TEXT NOT NULL,
        version TEXT NOT NULL,
        instance TEXT NOT NULL,
        environment TEXT NOT NULL DEFAULT 'production',
        slot TEXT,
        traffic NUMERIC,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        retired_at TEXT,
        PRIMARY KEY (app, instance, environment))""",
    """CREATE TABLE IF NOT EXISTS {p}events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        migration TEXT,
        phase TEXT,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}',
        forced INTEGER NOT NULL DEFAULT 0,
        reason TEXT)""",
    "CREATE INDEX IF NOT EXISTS {p}events_migration ON {p}events (migration, id)",
]


_SQLITE_UPGRADES = [
    ("groups_done", "TEXT NOT NULL DEFAULT '{}'"),
    ("captured", "TEXT NOT NULL DEFAULT '{}'"),
    ("contract_started_at", "TEXT"),
]


def sqlite_layout(prefix: str) -> list[str]:
    return [statement.replace("{p}", prefix) for statement in _SQLITE_LAYOUT]


class SQLiteState(State):
    """The state tables ``<prefix>migrations`` … in the SQLite database through a sqlite3
    connection in autocommit mode (each write is its own transaction)."""

    def __init__(self, conn: Any, prefix: str = "schemashift_") -> None:
        super().__init__(conn)
        if not re.fullmatch(r"\w*", prefix):
            raise ValueError(f"state table prefix must be letters, digits and _: {prefix!r}")
        self.prefix = prefix

    def table(self, name: str) -> str:
        return f'"{self.prefix}{name}"'

    def _q(self, sql: str) -> str:
        sql = _TABLE_REF.sub(lambda m: self.table(m.group(1)), sql)
        sql = sql.replace("%s", "?")  # before {now}: strftime's format holds % too
        return sql.replace("{now}", _SQLITE_NOW).replace("{{}}", "{}")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(self._q(sql), params).fetchall()]

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.conn.execute(self._q(sql), params)

    def _time(self, value: Any) -> Any:
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        return value

    _START_SQL = (
        "INSERT INTO {s}.migrations (migration, plan, checksum, status, for_app, "
        "for_version, captured, steps_done, groups_done, started_at, updated_at) "
        "VALUES (%s, %s, %s, 'running', %s, %s, %s, '[]', '{{}}', {now}, {now}) "
        "ON CONFLICT (migration) DO UPDATE SET plan = excluded.plan, "
        "checksum = excluded.checksum, status = 'running', phase = NULL, "
        "steps_done = '[]', groups_done = '{{}}', for_app = excluded.for_app, "
        "for_version = excluded.for_version, captured = excluded.captured, "
        "contract_started_at = NULL, error = NULL, finished_at = NULL, updated_at = {now}"
    )
    _CAPTURE_SQL = (
        "UPDATE {s}.migrations SET captured = json_patch(captured, %s) WHERE migration = %s"
    )
    _STEP_DONE_SQL = (
        "UPDATE {s}.migrations SET steps_done = json_insert(steps_done, '$[#]', %s), "
        "updated_at = {now} WHERE migration = %s AND NOT EXISTS "
        "(SELECT 1 FROM json_each(steps_done) WHERE value = CAST(%s AS INTEGER))"
    )
    _GROUPS_SQL = (
        "UPDATE {s}.migrations SET groups_done = json_set(groups_done, "
        "'$.\"' || %s || '\"', %s), updated_at = {now} WHERE migration = %s"
    )

    def event(self, migration: str | None, phase: str | None, action: str,
              detail: dict[str, Any] | None = None, *, forced: bool = False,
              reason: str | None = None) -> None:  # fmt: skip
        super().event(migration, phase, action, detail, forced=bool(forced), reason=reason)

    def ensure(self) -> None:
        """Create the tables (``IF NOT EXISTS``: safe under concurrent first use)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sqlite_layout(self.prefix):
                self.conn.execute(statement)
            have = {r[1] for r in self.conn.execute(
                f"PRAGMA table_info({self.table('migrations')})").fetchall()}  # fmt: skip
            for column, definition in _SQLITE_UPGRADES:
                if column not in have:
                    self.conn.execute(f"ALTER TABLE {self.table('migrations')} "
                                      f"ADD COLUMN {column} {definition}")  # fmt: skip
            self.conn.execute(
                self._q("INSERT INTO {s}.meta (key, value) VALUES ('layout_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                (str(LAYOUT_VERSION),),
            )  # fmt: skip
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
