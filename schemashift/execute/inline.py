"""Run one part of a change's plan on Alembic's connection: ``op.schemashift_change`` under
plain ``alembic upgrade`` (alembic/change_op.py), where there is no phase runner.

What the runner guarantees that matters inside a migration is kept: every DDL statement
waits for its lock at most ``lock_timeout_ms`` and is retried (with backoff) when it times
out, inside a savepoint on PostgreSQL so the migration's transaction survives; statements
PostgreSQL refuses in a transaction (``CONCURRENTLY``) run in Alembic's autocommit block;
the backfill pages through the table on its key in batches; a verify or a strategy's
check stops the migration with the offending keys; run-time references are read from the
catalog when first needed. What it cannot give: a record per step (Alembic's revision is
the unit) and the contract gate (plain Alembic does not know which app versions run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from schemashift.alembic.ops import VerificationError
from schemashift.execute.catalog import lookup, sql_literal
from schemashift.execute.retry import backoff_delay
from schemashift.phases.plan import PRIMARY_KEY, Backfill, Plan, Step, part_steps
from schemashift.sqltext import refs
from schemashift.sqltext.names import TableName

RETRIES = 5
BATCH_SIZE = 5000


class InlineCheckFailed(VerificationError):
    """A verify (or a strategy's precondition) found rows, or rollback is not safe: a
    :class:`~schemashift.alembic.ops.VerificationError`, as ``op.schemashift_verify``
    raises, so a migration's caller catches one exception for both."""


class _Inline:
    def __init__(self, operations: Any, plan: Plan, lock_timeout_ms: int) -> None:
        from schemashift.alembic.change_op import dialect_name
        from schemashift.execute.backends import backend_for
        from schemashift.execute.database import Target

        self.operations = operations
        self.bind = operations.get_bind()
        self.dialect = dialect_name(self.bind.dialect.name)
        self.plan = plan
        self.lock_timeout_ms = lock_timeout_ms
        target = Target(self.dialect, "", None, None, None, None, None, {})
        self.backend = backend_for(target)
        self.values: dict[str, str] = {}

    # -- references ------------------------------------------------------------------

    def _dbapi(self) -> Any:
        return self.bind.connection.dbapi_connection

    def resolve(self, sql: str) -> str:
        if not refs.has_refs(sql):
            return sql
        return refs.substitute(sql, self._value, lambda v: sql_literal(self.dialect, v))

    def _value(self, r: refs.Ref) -> str:
        if r.key not in self.values:
            self.values[r.key] = lookup(self.backend, self._dbapi(), self.dialect, r)
        return self.values[r.key]

    # -- statements ------------------------------------------------------------------

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.bind.exec_driver_sql(self._esc(self.resolve(sql)))]

    def execute(self, sql: str, *, concurrent: bool = False) -> None:
        # SQLAlchemy hands the drivers a parameter list even when there is none, so a
        # literal % (a trigger body, a LIKE) must be doubled for psycopg and PyMySQL.
        statement = self._esc(self.resolve(sql))
        if concurrent and self.dialect == "postgres":
            with self.operations.get_context().autocommit_block():
                self._with_retries(lambda: self._run_locked(statement, local=False))
            return
        self._with_retries(lambda: self._run_locked(statement, local=True))

    def _run_locked(self, statement: str, *, local: bool) -> None:
        if self.dialect == "postgres":
            if local:  # a savepoint: a timed-out statement must not end the migration
                with self.bind.begin_nested():
                    self.bind.exec_driver_sql(f"SET LOCAL lock_timeout = {self.lock_timeout_ms}")
                    self.bind.exec_driver_sql(statement)
                return
            self.bind.exec_driver_sql(f"SET lock_timeout = {self.lock_timeout_ms}")
            try:
                self.bind.exec_driver_sql(statement)
            finally:
                self.bind.exec_driver_sql("RESET lock_timeout")
            return
        if self.dialect == "mysql":
            from schemashift.execute.backends import mysql_lock_seconds

            seconds = mysql_lock_seconds(self.lock_timeout_ms)
            previous = self.bind.exec_driver_sql("SELECT @@SESSION.lock_wait_timeout").scalar()
            self.bind.exec_driver_sql(f"SET SESSION lock_wait_timeout = {seconds}")
            try:
                self.bind.exec_driver_sql(statement)
            finally:
                self.bind.exec_driver_sql(f"SET SESSION lock_wait_timeout = {int(previous)}")
            return
        self.bind.exec_driver_sql(statement)

    def _with_retries(self, action: Any) -> None:
        attempt = 0
        while True:
            try:
                action()
                return
            except Exception as exc:
                original = getattr(exc, "orig", exc)
                if self.backend.retryable(original) is None or attempt >= RETRIES:
                    raise
                attempt += 1
                time.sleep(backoff_delay(attempt, 0.2, 5.0))

    # -- steps -----------------------------------------------------------------------

    def check(self, description: str, sql: str) -> None:
        rows = self.query(f"SELECT * FROM ({sql}) AS offending ORDER BY 1 LIMIT 10")
        if rows:
            keys = ", ".join(str(r[0] if len(r) == 1 else r) for r in rows)
            raise InlineCheckFailed(f"{self.plan.migration}: {description} (keys: {keys})")

    def run(self, step: Step) -> None:
        for sql in step.sql:
            self.execute(sql, concurrent=step.concurrent)
        if step.backfill is not None:
            self.backfill(step.backfill)
        if step.verify is not None:
            self.check(step.verify.description, step.verify.sql)

    def undo(self, step: Step) -> None:
        if step.rollback_check is not None:
            self.check(f"rollback refused: {step.rollback_check.description}",
                       step.rollback_check.sql)  # fmt: skip
        for sql in step.rollback:
            self.execute(sql, concurrent=step.concurrent)

    def backfill(self, b: Backfill) -> None:
        """Keyset batches inside the migration's transaction (plain Alembic has no other)."""
        name = TableName.parse(b.table, self.dialect)
        table = self._esc(name.sql(self.dialect))
        raw_key = (self._value(refs.Ref("pk", name.canonical)) if b.key in ("", PRIMARY_KEY)
                   else self.resolve(b.key))  # fmt: skip
        key = self._esc(raw_key)
        assignments = self._esc(self.resolve(b.assignments))
        pending = self._esc(self.resolve(b.pending))
        for lower, upper in self._batches(table, key):
            above = "" if lower is None else f"{key} > {_param(self.dialect)} AND "
            params = (() if lower is None else (lower,)) + (upper,)
            sql = (f"UPDATE {table} SET {assignments} WHERE {above}{key} <= "
                   f"{_param(self.dialect)} AND ({pending})")  # fmt: skip
            self.bind.exec_driver_sql(sql, params)

    def _esc(self, text: str) -> str:
        """``%`` doubled where the driver formats parameters (psycopg, PyMySQL)."""
        return text if self.dialect == "sqlite" else text.replace("%", "%%")

    def _batches(self, table: str, key: str) -> Iterator[tuple[Any, Any]]:
        last: Any = None
        while True:
            where = "" if last is None else f" WHERE {key} > {_param(self.dialect)}"
            row = self.bind.exec_driver_sql(
                f"SELECT max(k) FROM (SELECT {key} AS k FROM {table}{where} ORDER BY {key} "
                f"LIMIT {BATCH_SIZE}) AS batch",
                () if last is None else (last,),
            ).fetchone()
            upper = None if row is None else row[0]
            if upper is None:
                return
            yield last, upper
            last = upper


def _param(dialect: str) -> str:
    return "?" if dialect == "sqlite" else "%s"


def run_part(operations: Any, plan: Plan, part: str, *, lock_timeout_ms: int = 1000) -> None:
    """Run ``part`` of ``plan`` on the migration's connection (see the module docstring)."""
    inline = _Inline(operations, plan, lock_timeout_ms)
    steps = part_steps(plan, part)
    if part == "rollback":
        for step in steps:
            inline.undo(step)
        return
    for step in steps:
        inline.run(step)
