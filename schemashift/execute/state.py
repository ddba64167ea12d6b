"""schemashift's own tables in the target database (DESIGN §7).

PostgreSQL: schema ``schemashift`` (configurable); elsewhere: tables prefixed
``schemashift_``. Created on first use and migrated by schemashift itself: ``meta`` keeps
the layout version, and each upgrade step below runs once.

- ``migrations``: one row per migration: its plan, the checksum pinned at expand, the last
  completed phase, status, steps done, timestamps, error, the app version it is for.
- ``backfill_progress``: the checkpoint of each backfill step (see execute/backfill.py).
- ``deployments``: which app versions run where (the deployment registry).
- ``events``: append-only audit log of every phase run, gate decision and ``--force``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

LAYOUT_VERSION = 1

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
        error text)""",
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


class PostgresState:
    """Reads and writes the state tables through a psycopg 3 connection."""

    def __init__(self, conn: Any, schema: str = "schemashift") -> None:
        self.conn = conn
        self.schema = schema

    def _q(self, sql: str) -> str:
        from psycopg import sql as psql

        return psql.SQL(sql).format(s=psql.Identifier(self.schema)).as_string(self.conn)

    def ensure(self) -> None:
        """Create or upgrade the tables (idempotent; safe under concurrent first use)."""
        with self.conn.transaction():
            # Serialise concurrent first uses: CREATE … IF NOT EXISTS can still race.
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('schemashift:layout'))")
            for statement in _PG_LAYOUT:
                self.conn.execute(self._q(statement))
            self.conn.execute(
                self._q("INSERT INTO {s}.meta VALUES ('layout_version', %s) "
                        "ON CONFLICT (key) DO NOTHING"), (str(LAYOUT_VERSION),),
            )  # fmt: skip

    def get(self, migration: str) -> MigrationRow | None:
        row = self.conn.execute(
            self._q(
                "SELECT migration, plan, checksum, phase, status, steps_done, for_app, "
                "for_version, started_at, updated_at, finished_at, error "
                "FROM {s}.migrations WHERE migration = %s"
            ),
            (migration,),
        ).fetchone()
        return _row(row) if row else None

    def all(self) -> list[MigrationRow]:
        rows = self.conn.execute(
            self._q(
                "SELECT migration, plan, checksum, phase, status, steps_done, for_app, "
                "for_version, started_at, updated_at, finished_at, error "
                "FROM {s}.migrations ORDER BY started_at, migration"
            )
        ).fetchall()
        return [_row(r) for r in rows]

    def start(self, migration: str, plan: dict[str, Any], checksum: str,
              for_app: str | None, for_version: str | None) -> None:  # fmt: skip
        self.conn.execute(
            self._q(
                "INSERT INTO {s}.migrations (migration, plan, checksum, status, for_app, "
                "for_version) VALUES (%s, %s, %s, 'running', %s, %s) "
                "ON CONFLICT (migration) DO UPDATE SET plan = EXCLUDED.plan, "
                "checksum = EXCLUDED.checksum, status = 'running', phase = NULL, "
                "steps_done = '[]', for_app = EXCLUDED.for_app, "
                "for_version = EXCLUDED.for_version, error = NULL, finished_at = NULL, "
                "updated_at = now()"
            ),
            (migration, json.dumps(plan), checksum, for_app, for_version),
        )

    def step_done(self, migration: str, step: int) -> None:
        self.conn.execute(
            self._q(
                "UPDATE {s}.migrations SET steps_done = steps_done || to_jsonb(%s::int), "
                "updated_at = now() WHERE migration = %s AND NOT steps_done @> to_jsonb(%s::int)"
            ),
            (step, migration, step),
        )

    def set_phase(self, migration: str, phase: str | None, status: str,
                  error: str | None = None) -> None:  # fmt: skip
        self.conn.execute(
            self._q(
                "UPDATE {s}.migrations SET phase = %s, status = %s, error = %s, "
                "updated_at = now(), finished_at = CASE WHEN %s IN ('done', 'rolled_back') "
                "THEN now() ELSE NULL END WHERE migration = %s"
            ),
            (phase, status, error, status, migration),
        )

    def clear_steps(self, migration: str) -> None:
        self.conn.execute(
            self._q("UPDATE {s}.migrations SET steps_done = '[]' WHERE migration = %s"),
            (migration,),
        )
        self.conn.execute(
            self._q("DELETE FROM {s}.backfill_progress WHERE migration = %s"), (migration,)
        )

    def event(self, migration: str | None, phase: str | None, action: str,
              detail: dict[str, Any] | None = None, *, forced: bool = False,
              reason: str | None = None) -> None:  # fmt: skip
        self.conn.execute(
            self._q(
                "INSERT INTO {s}.events (migration, phase, action, detail, forced, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s)"
            ),
            (migration, phase, action, json.dumps(detail or {}), forced, reason),
        )

    def last_event(self, migration: str) -> tuple[datetime, str, str | None] | None:
        row = self.conn.execute(
            self._q(
                "SELECT at, action, phase FROM {s}.events WHERE migration = %s "
                "ORDER BY id DESC LIMIT 1"
            ),
            (migration,),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def backfill_progress(self, migration: str) -> list[tuple[int, int, int | None]]:
        rows = self.conn.execute(
            self._q(
                "SELECT step, rows_done, rows_total_estimate FROM {s}.backfill_progress "
                "WHERE migration = %s ORDER BY step"
            ),
            (migration,),
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]


def _row(row: Any) -> MigrationRow:
    plan = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    steps = row[5] if isinstance(row[5], list) else json.loads(row[5] or "[]")
    return MigrationRow(row[0], plan, row[2], row[3], row[4], tuple(steps), row[6], row[7],
                        row[8], row[9], row[10], row[11])  # fmt: skip
