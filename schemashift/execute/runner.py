"""Run a plan's phases on a live PostgreSQL, MySQL/MariaDB or SQLite database, safely and
resumably (docs/phases.md).

- Phases run in order (expand → backfill → verify → contract); out of order is refused
  (``GateRefused``, exit 3) naming the phase that comes next. Re-running a finished phase
  does nothing; a phase that failed half-way resumes at its first unfinished step.
- Nothing is lost to a kill at any instant. On PostgreSQL and SQLite a step's statements
  and its record commit in one transaction. A step that cannot (``concurrent`` steps
  outside a transaction, every MySQL statement group: DDL commits on its own) is recorded
  as started before its first statement and group by group as they commit; its statements
  are re-runnable (``IF [NOT] EXISTS``, catalog guards), and the one group that may have
  committed just before a kill is allowed to find its effect already there.
- Run-time references (a column's type, a key, a MySQL column definition) are captured
  from the catalog when expand starts and stored with the migration: no later step re-reads
  a definition the migration itself changes.
- Contract is marked started before its first statement: from then on rollback is refused
  and contract can always be run again to finish (the deployment gate is not asked twice).
- Rollback runs the plan pinned at expand, never the file as it is now, and refuses while a
  step's rollback check finds the data would be lost (the old column of a rename is gone).
- Two runs of one migration never interleave: a run lock per migration (PostgreSQL advisory
  lock, MySQL ``GET_LOCK``, SQLite a pid row), checked alive between steps and backfill
  batches (a run whose lock session died stops). ``status`` and the gate take no lock.
- Every DDL statement runs with a lock timeout (default 1 s; ``lock_timeout`` on
  PostgreSQL, ``lock_wait_timeout`` in whole seconds on MySQL, where less than 1 s is
  refused) and is retried on timeout with exponential backoff, jitter and a cap.
- A step with a hazard (a rewrite or long lock no strategy avoids) is refused unless
  ``--force --reason``, which is recorded in the events log.
- What differs between databases lives in execute/backends.py.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from schemashift.config import Config
from schemashift.execute.backends import (
    Backend,
    backend_for,
    check_lock_timeout,
    pg_error_text,
    run_lock_key,
)
from schemashift.execute.catalog import lookup, sql_literal
from schemashift.execute.database import DatabaseError, Target, mask_secret, parse_url
from schemashift.execute.retry import backoff_delay
from schemashift.execute.state import DeploymentRow, MigrationRow, State
from schemashift.model import Phase
from schemashift.phases.plan import PHASE_ORDER, PRIMARY_KEY, Backfill, Plan, Step
from schemashift.sqltext import refs
from schemashift.sqltext.names import BadName, TableName
from schemashift.strategies.common import is_check

if TYPE_CHECKING:
    from schemashift.execute.backfill.core import BackfillOptions

# Tests only: called at the instants a kill is most dangerous, ``(point, migration, step,
# group)``: "before_record" (a step's or group's statements ran, its record did not; on
# PostgreSQL inside the step's transaction), "after_record", and on MySQL
# "after_statement" (each statement of a group committed, ``group * 100 + statement``).
FAULT_HOOK: Callable[[str, str, int, int], None] | None = None
# How often the backfill asks whether the run lock's session is still alive.
_ALIVE_EVERY_S = 0.5


class GateRefused(RuntimeError):
    """A phase may not run now (order, checksum, live versions, hazard): exit 3."""


class VerifyFailed(GateRefused):
    """A verify step found offending rows: contract stays blocked."""

    def __init__(self, description: str, keys: list[Any]) -> None:
        shown = ", ".join(str(k) for k in keys[:10])
        advice = ("" if "again" in description or "fix these rows" in description
                  else " (run backfill again: it fixes the rows still pending; then verify)")
        super().__init__(f"verify failed: {description}; first offending keys: {shown}{advice}")
        self.keys = keys


class RunLockLost(DatabaseError):
    """The session holding the run lock is gone: another run may start, so this one stops."""


class OptionError(ValueError):
    """An option the database cannot honour (exit 2)."""


@dataclass
class RunOptions:
    lock_timeout_ms: int = 1000
    retries: int = 8
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 10.0
    batch_size: int = 5000
    rows_per_second: float | None = None
    statement_timeout_ms: int = 30_000
    force: bool = False
    reason: str | None = None
    for_app: str | None = None
    for_version: str | None = None
    quiet: bool = False
    out: TextIO = field(default_factory=lambda: sys.stderr)

    def backfill_options(self, state_schema: str) -> BackfillOptions:
        """What the backfill takes from the run's options: one object, down to the driver."""
        from schemashift.execute.backfill.core import BackfillOptions

        return BackfillOptions(batch_size=self.batch_size, rows_per_second=self.rows_per_second,
                               statement_timeout_ms=self.statement_timeout_ms,
                               lock_timeout_ms=self.lock_timeout_ms,
                               state_schema=state_schema)  # fmt: skip


@dataclass(frozen=True)
class PhaseResult:
    migration: str
    phase: Phase
    steps_run: int
    steps_skipped: int
    already_done: bool = False


def error_text(exc: BaseException) -> str:
    """One line for an error, with the server's DETAIL when there is one."""
    if type(exc).__module__.startswith("psycopg"):
        return pg_error_text(exc)
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Runner:
    def __init__(self, database_url: str, config: Config, options: RunOptions | None = None):
        self.target: Target = parse_url(database_url)
        self.backend: Backend = backend_for(self.target, config.state_schema)
        self.config = config
        self.options = options or RunOptions()
        problem = check_lock_timeout(self.target.dialect, self.options.lock_timeout_ms)
        if problem:
            raise OptionError(problem)
        self._conn: Any = None
        self._lock_key: str | None = None
        self._migration: str | None = None
        self._captured: dict[str, str] = {}
        self._alive_checked = 0.0

    @property
    def dialect(self) -> str:
        return self.target.dialect

    # -- connection, lock, state ------------------------------------------------------

    @contextlib.contextmanager
    def session(self, lock_key: str | None = None) -> Iterator[State]:
        """A connection and the state tables; with ``lock_key``, that run lock held (or
        GateRefused when another run holds it)."""
        conn = self.backend.connect()
        locked = False
        try:
            if lock_key is not None:
                locked = self.backend.try_lock(conn, lock_key)
                if not locked:
                    raise GateRefused(
                        f"another schemashift run of {lock_key.rsplit(':', 1)[-1]} holds its "
                        "lock on this database; wait for it to finish"
                    )
            self._conn, self._lock_key = conn, lock_key
            self.state: State = self.backend.state(conn, self.config.state_schema)
            self.state.ensure()
            yield self.state
        finally:
            self._conn, self._lock_key, self._migration = None, None, None
            try:
                if locked and lock_key is not None:
                    with contextlib.suppress(Exception):
                        self.backend.unlock(conn, lock_key)
            finally:
                conn.close()

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            print(f"schemashift: {text}", file=self.options.out, flush=True)

    def _check_alive(self) -> None:
        """Stop when the session holding the run lock is gone: the lock went with it, and a
        second run may already be going."""
        self._alive_checked = time.monotonic()
        if self._lock_key is not None and not self.backend.lock_alive(self._conn, self._lock_key):
            raise RunLockLost(
                f"lost the run lock of {self._migration} (its database session ended): "
                "stopped; run the phase again to resume"
            )

    def _check_alive_now_and_then(self) -> None:
        if time.monotonic() - self._alive_checked >= _ALIVE_EVERY_S:
            self._check_alive()

    @staticmethod
    def _fault(point: str, migration: str, step: int, group: int = 0) -> None:
        if FAULT_HOOK is not None:
            FAULT_HOOK(point, migration, step, group)

    # -- phases -----------------------------------------------------------------------

    def run(self, plan: Plan, phase: Phase) -> PhaseResult:
        with self.session(run_lock_key(plan.migration)):
            return self._run(plan, phase)

    def _run(self, plan: Plan, phase: Phase) -> PhaseResult:
        m = plan.migration
        row = self.state.get(m)
        self._check_order(plan, phase, row)
        self._migration = m
        if phase is Phase.EXPAND and (row is None or row.status == "rolled_back"):
            self._captured = {}
            captured = self._capture(plan)
            # Preconditions, before the migration is recorded or anything changes.
            self._captured = dict(captured)
            for _, check in _leading_checks(plan, Phase.EXPAND):
                self._check(plan, check)
            self._check_keys(plan)
            self.state.start(m, plan.to_json(), plan.checksum, self.options.for_app,
                             self.options.for_version, captured)  # fmt: skip
            row = self.state.get(m)
        assert row is not None
        if (phase is Phase.BACKFILL and row.status == "failed" and row.contract_started_at is None
                and row.phase in (Phase.BACKFILL.value, Phase.VERIFY.value)):
            # Verify (or contract's re-check) found rows the backfill must fix: rows the
            # old app wrote meanwhile. Run every backfill step again from the start: it
            # updates only the rows still pending.
            steps = [i for i, _ in plan.phase(Phase.BACKFILL)]
            self._say(f"{m}: verify failed before: running the backfill again")
            self.state.redo_steps(m, steps, Phase.EXPAND.value)
            self.state.event(m, phase.value, "backfill_again", {"steps": steps})
            row = self.state.get(m)
            assert row is not None
        if row.phase is not None and _index(Phase(row.phase)) >= _index(phase):
            self._say(f"{m}: {phase.value} already done")
            return PhaseResult(m, phase, 0, 0, already_done=True)
        self._captured = dict(row.captured)
        self._check_hazards(plan, phase, row)
        if phase is Phase.CONTRACT:
            if row.contract_started_at is None:
                self._gate_contract(plan, row)
                # Re-checks (late writes of the old app), before contract is marked
                # started: a refusal here leaves rollback open.
                for index, check in _leading_checks(plan, Phase.CONTRACT):
                    if index not in row.steps_done:
                        self._check(plan, check)
                self.state.contract_started(m)
            else:  # the schema is half contracted: finishing is the only way forward
                self._say(f"{m}: contract was started before: finishing it")
                self.state.event(m, phase.value, "contract_resumed", {})
        self.state.event(m, phase.value, "phase_start", {"checksum": plan.checksum},
                         forced=self.options.force, reason=self.options.reason)  # fmt: skip
        # A clean failure is recorded as such; a kill leaves the status "running": then the
        # last statement group of an unfinished step may have committed without its record.
        resumable = row.status != "failed"
        ran = skipped = 0
        leading = {i for i, _ in _leading_checks(plan, phase)}
        try:
            for index, step in plan.phase(phase):
                if index in row.steps_done:
                    skipped += 1
                    continue
                if index in leading:  # checked before the phase changed anything
                    self.state.step_done(m, index)
                    ran += 1
                    continue
                self._check_alive()
                self._say(f"{m}: {phase.value} step {index + 1}: {step.description}")  # as plan numbers
                self._run_step(plan, index, step, row, resumable)
                ran += 1
        except Exception as exc:
            # Record the failure when the session still can; the error itself comes first
            # (a dead session is often why we are here).
            error = mask_secret(error_text(exc), self.target)  # status shows it
            with contextlib.suppress(Exception):
                self.state.set_phase(m, row.phase, "failed", error)
                self.state.event(m, phase.value, "phase_failed", {"error": error})
            raise
        status = "done" if phase is PHASE_ORDER[-1] else "running"
        self.state.set_phase(m, phase.value, status)
        self.state.event(m, phase.value, "phase_done",
                         {"steps_run": ran, "steps_skipped": skipped})  # fmt: skip
        return PhaseResult(m, phase, ran, skipped)

    def _check_order(self, plan: Plan, phase: Phase, row: MigrationRow | None) -> None:
        if phase is Phase.EXPAND:
            if row is not None and row.status == "done":
                raise GateRefused(f"{plan.migration} is already contracted; nothing to expand")
            if row is not None and row.status != "rolled_back" and row.checksum != plan.checksum:
                raise GateRefused(
                    f"{plan.migration}: the plan changed since it was expanded "
                    f"(checksum {row.checksum} → {plan.checksum}); roll back first"
                )
            return
        if row is None or row.status == "rolled_back":
            raise GateRefused(f"{plan.migration} is not expanded: run expand first")
        if row.checksum != plan.checksum:
            raise GateRefused(
                f"{plan.migration}: the plan changed since expand (checksum {row.checksum} "
                f"→ {plan.checksum}); roll back and expand again, or restore the migration"
            )
        done = Phase(row.phase) if row.phase else None
        # The phase this one must follow: the nearest earlier phase the plan has steps in
        # (a plan without a backfill goes from expand straight to verify).
        present = plan.phases_present
        earlier = [p for p in PHASE_ORDER[: _index(phase)] if p in present or p is Phase.EXPAND]
        needed = earlier[-1]
        if done is None or _index(done) < _index(needed):
            later = [p for p in PHASE_ORDER if (done is None or _index(p) > _index(done))
                     and (p in present or p is Phase.EXPAND)]  # fmt: skip
            nxt = later[0] if later else needed
            raise GateRefused(
                f"{plan.migration}: {phase.value} comes after {needed.value}; run {nxt.value} first"
            )

    def _check_hazards(self, plan: Plan, phase: Phase, row: MigrationRow) -> None:
        """Steps that would hurt live traffic with no strategy to avoid it run only with
        --force --reason (recorded)."""
        hazards = [(i, s) for i, s in plan.phase(phase) if s.hazard and i not in row.steps_done]
        if not hazards:
            return
        listed = "\n".join(f"  step {i + 1} ({s.description}): {s.hazard}" for i, s in hazards)
        if not (self.options.force and self.options.reason):
            raise GateRefused(
                f"{plan.migration}: {phase.value} refused: {len(hazards)} step(s) would rewrite "
                "or long-lock a live table and no strategy makes them safe; rewrite them, or "
                f"run with --force --reason TEXT:\n{listed}"
            )
        self.state.event(plan.migration, phase.value, "hazard_forced",
                         {"steps": [i for i, _ in hazards]}, forced=True,
                         reason=self.options.reason)  # fmt: skip
        self._say(f"{plan.migration}: running {len(hazards)} hazardous step(s), forced: "
                  f"{self.options.reason}")  # fmt: skip

    def _blockers(self, row: MigrationRow) -> list[DeploymentRow]:
        from schemashift.deploy import contract_blockers

        return contract_blockers(self.state, row, self.config.heartbeat_ttl)

    def _gate_contract(self, plan: Plan, row: MigrationRow) -> None:
        """The deployment gate: no live instance of ``for_app`` older than ``for_version``.
        Every decision (allowed, refused, forced) goes to the events log."""
        from schemashift.deploy import blocker_json, describe

        blockers = self._blockers(row)
        detail: dict[str, Any] = {"for_app": row.for_app, "for_version": row.for_version,
                                  "blockers": blocker_json(blockers)}  # fmt: skip
        if not blockers:
            self.state.event(plan.migration, Phase.CONTRACT.value, "gate_allowed", detail)
            return
        if self.options.force:
            self.state.event(plan.migration, Phase.CONTRACT.value, "gate_forced", detail,
                             forced=True, reason=self.options.reason)  # fmt: skip
            self._say(f"{plan.migration}: contract forced past {len(blockers)} live older "
                      f"instance(s) of {row.for_app}: {self.options.reason}")  # fmt: skip
            return
        self.state.event(plan.migration, Phase.CONTRACT.value, "gate_refused", detail)
        raise GateRefused(self._refusal(plan, row, blockers) + "\n" + describe(blockers))

    @staticmethod
    def _refusal(plan: Plan, row: MigrationRow, blockers: list[DeploymentRow]) -> str:
        return (
            f"{plan.migration}: contract refused: {len(blockers)} live instance(s) of "
            f"{row.for_app} run a version older than {row.for_version} (retire them with "
            "`schemashift deploy retire`, or --force --reason TEXT):"
        )

    def gate_contract(self, plan: Plan,
                      requested_by: dict[str, Any] | None = None) -> list[DeploymentRow]:  # fmt: skip
        """Whether contract may run now (order, checksum, live versions), without running
        it: the blockers (empty: it may). Order problems raise GateRefused. Takes no run
        lock: a gate check never waits for (or blocks) a running phase. ``requested_by``
        (who asked, e.g. over ``schemashift serve``) goes into the audit event."""
        with self.session():
            row = self.state.get(plan.migration)
            self._check_order(plan, Phase.CONTRACT, row)
            assert row is not None
            if row.phase == Phase.CONTRACT.value or row.contract_started_at is not None:
                return []
            blockers = self._blockers(row)
            from schemashift.deploy import blocker_json

            self.state.event(plan.migration, "gate",
                             "gate_refused" if blockers else "gate_allowed",
                             {"for_app": row.for_app, "for_version": row.for_version,
                              "blockers": blocker_json(blockers), "check_only": True,
                              **({"requested_by": requested_by} if requested_by else {})})  # fmt: skip
            return blockers

    def rollback(self, plan: Plan) -> int:
        """Undo the expand (drop the new columns, triggers, indexes) with the plan pinned at
        expand. Refused once contract started, and while a rollback check fails."""
        with self.session(run_lock_key(plan.migration)):
            m = plan.migration
            self._migration = m
            row = self.state.get(m)
            if row is None:
                raise GateRefused(f"{m} was never expanded: nothing to roll back")
            if row.status == "rolled_back":
                self._say(f"{m}: already rolled back")
                return 0
            pinned = Plan.from_json(row.plan)
            contracting = any(i in row.steps_done or i in row.groups_done
                              for i, _ in pinned.phase(Phase.CONTRACT))  # fmt: skip
            if row.status == "done":
                raise GateRefused(f"{m}: contract is done, so rollback is refused: the old "
                                  "schema is gone; fix forward with a new migration")
            if row.contract_started or contracting:
                raise GateRefused(
                    f"{m}: contract has started: the old schema is (partly) gone, rollback is "
                    f"refused; run `schemashift contract` again to finish, then fix forward"
                )
            if pinned.checksum != plan.checksum:
                self._say(f"{m}: the migration changed since expand: rolling back the plan "
                          f"pinned at expand (checksum {pinned.checksum})")  # fmt: skip
            self._captured = dict(row.captured)
            started = [(i, s) for i, s in pinned.phase(Phase.EXPAND)
                       if i in row.steps_done or i in row.groups_done]  # fmt: skip
            for index, step in started:
                check = step.rollback_check
                if check is not None and self.backend.query(
                    self._conn, f"SELECT * FROM ({self._resolve(check.sql)}) AS failing LIMIT 1"
                ):
                    raise GateRefused(
                        f"{m}: rollback refused: step {index + 1} needs {check.description}"
                    )
            undone = 0
            for index, step in reversed(started):
                if not step.rollback:
                    continue
                self._check_alive()
                self._say(f"{m}: rollback step {index + 1}: {step.description}")
                self._execute_plain(step.rollback, concurrent=step.concurrent)
                undone += 1
            self.state.clear_steps(m)
            self.state.set_phase(m, None, "rolled_back")
            self.state.event(m, "rollback", "rolled_back",
                             {"steps": undone, "checksum": pinned.checksum})  # fmt: skip
            return undone

    def status(self) -> list[MigrationRow]:
        """Every migration's row (no run lock: never waits for a running phase)."""
        with self.session():
            return self.state.all()

    # -- steps ------------------------------------------------------------------------

    def _run_step(self, plan: Plan, index: int, step: Step, row: MigrationRow,
                  resumable: bool) -> None:  # fmt: skip
        m = plan.migration
        if is_check(step):
            self._check(plan, step)
            self.state.step_done(m, index)
            return
        atomic = self.backend.transactional_ddl and not step.concurrent
        sql_only = step.backfill is None and step.verify is None
        recorded = False
        if step.sql:
            if atomic:
                self._execute_atomic(step.sql, m, index, record=sql_only)
                recorded = sql_only
            else:
                started = index in row.groups_done
                self._execute_tracked(step.sql, m, index, start=row.groups_done.get(index, 0),
                                      started=started, concurrent=step.concurrent,
                                      tolerate=resumable and started)  # fmt: skip
        if step.backfill is not None:
            self._backfill(plan, index, step.backfill)
        if step.verify is not None:
            sql = self._resolve(step.verify.sql)
            rows = self.backend.query(
                self._conn, f"SELECT * FROM ({sql}) AS offending ORDER BY 1 LIMIT 10")
            if rows:
                raise VerifyFailed(
                    step.verify.description, [r[0] if len(r) == 1 else r for r in rows]
                )
        if not recorded:
            self._fault("before_record", m, index)
            self.state.step_done(m, index)
        self._fault("after_record", m, index)

    def _check(self, plan: Plan, step: Step) -> None:
        """A precondition (strategies/common.py ``is_check``): GateRefused with
        one line naming what is wrong. An expand check's rows are the messages; a contract
        check's rows are the offending keys. A check whose query itself fails (a USING
        expression that does not compile) refuses with the server's error."""
        assert step.verify is not None
        what = f"{plan.migration}: {step.phase.value} refused (nothing changed)"
        try:
            sql = self._resolve(step.verify.sql)
            order = "" if step.phase is Phase.EXPAND else " ORDER BY 1"  # messages keep theirs
            rows = self.backend.query(self._conn,
                                      f"SELECT * FROM ({sql}) AS failing{order} LIMIT 10")  # fmt: skip
        except (DatabaseError, RunLockLost):
            raise
        except Exception as exc:
            error = mask_secret(error_text(exc), self.target)
            raise GateRefused(f"{what}: {step.verify.description}: {error}") from None
        if not rows:
            return
        found = [str(r[0]) if len(r) == 1 else str(r) for r in rows]
        if step.phase is Phase.EXPAND:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise GateRefused(f"{what}: {found[0]}{more}")
        raise GateRefused(f"{what}: {step.verify.description}; offending keys: "
                          f"{', '.join(found)}")  # fmt: skip

    def _check_keys(self, plan: Plan) -> None:
        """A backfill pages on the table's single-column primary key (or a unique NOT NULL
        column): refuse at expand when an existing table has none, rather than fail at
        backfill with the expand done."""
        for step in plan.steps:
            b = step.backfill
            if b is None or b.key not in ("", PRIMARY_KEY):
                continue
            try:
                t = TableName.parse(b.table, self.dialect)
            except BadName:
                continue
            if not self.backend.table_exists(self._conn, t):
                continue  # created by the migration itself: resolved when first used
            if self.backend.primary_key(self._conn, t) is None:
                raise GateRefused(
                    f"{plan.migration}: expand refused (nothing changed): table {t} has no "
                    "single-column primary key or unique NOT NULL column for the backfill to "
                    "page on; add one (e.g. ALTER TABLE … ADD PRIMARY KEY / a unique index on "
                    "a NOT NULL column) and run expand again"
                )

    def _backfill(self, plan: Plan, index: int, backfill: Backfill) -> None:
        from schemashift.execute.backfill import Progress

        try:
            t = TableName.parse(backfill.table, self.dialect)
        except BadName as exc:
            raise DatabaseError(f"backfill: {exc}") from None
        key = (self._resolve(backfill.key) if backfill.key not in ("", PRIMARY_KEY)
               else self._ref_value(refs.Ref("pk", t.canonical)))  # fmt: skip
        resolved = Backfill(
            table=t.sql(self.dialect),
            assignments=self._resolve(backfill.assignments),
            pending=self._resolve(backfill.pending),
            key=key,
        )
        self.backend.backfill(
            resolved,
            migration=plan.migration,
            step=index,
            options=self.options.backfill_options(self.config.state_schema),
            progress=None if self.options.quiet else Progress(),
            check_alive=self._check_alive_now_and_then,
        )

    def _execute_atomic(self, statements: tuple[str, ...], migration: str, index: int, *,
                        record: bool) -> None:  # fmt: skip
        """The step in one transaction; with ``record`` its record commits in it too."""
        groups = self.backend.groups(statements, concurrent=False)
        for number, raw in enumerate(groups):
            group = [self._resolve(s) for s in raw]
            last = number == len(groups) - 1

            def finish(number: int = number) -> None:
                self._fault("before_record", migration, index, number)
                self.state.step_done(migration, index)

            def run(group: list[str] = group, last: bool = last) -> None:
                self.backend.run_group(self._conn, group, concurrent=False, say=self._say,
                                       lock_timeout_ms=self.options.lock_timeout_ms,
                                       finish=finish if record and last else None)  # fmt: skip

            self._with_retries(run, "; ".join(group))

    def _execute_tracked(self, statements: tuple[str, ...], migration: str, index: int, *,
                         start: int, started: bool, concurrent: bool,
                         tolerate: bool) -> None:  # fmt: skip
        """Group by group, each recorded as it commits; the groups before ``start`` are
        done. ``tolerate``: the group at ``start`` may have committed before a kill (its
        record lost), so an error saying its effect is there already means it is done."""
        groups = self.backend.groups(statements, concurrent=concurrent)
        if not started:
            self.state.step_started(migration, index)
        for number, raw in enumerate(groups):
            if number < start:
                continue
            group = [self._resolve(s) for s in raw]

            def run(group: list[str] = group) -> None:
                self.backend.run_group(self._conn, group, concurrent=concurrent, say=self._say,
                                       lock_timeout_ms=self.options.lock_timeout_ms)  # fmt: skip

            if FAULT_HOOK is not None and hasattr(self.backend, "on_statement"):
                self.backend.on_statement = (
                    lambda i, n=number: self._fault("after_statement", migration, index, n * 100 + i))
            try:
                self._with_retries(run, "; ".join(group))
            except Exception as exc:
                if not (tolerate and number == start and self.backend.already_applied(exc)):
                    raise
                self._say(f"{migration}: step {index + 1} group {number + 1} was applied by the "
                          f"interrupted run ({error_text(exc)}): going on")  # fmt: skip
            self._fault("before_record", migration, index, number)
            self.state.groups_done(migration, index, number + 1)

    def _execute_plain(self, statements: tuple[str, ...], *, concurrent: bool) -> None:
        """Rollback statements: each idempotent (IF EXISTS, catalog guards), so a rollback
        killed half way is simply run again."""
        for raw in self.backend.groups(statements, concurrent=concurrent):
            group = [self._resolve(s) for s in raw]

            def run(group: list[str] = group) -> None:
                self.backend.run_group(self._conn, group, concurrent=concurrent, say=self._say,
                                       lock_timeout_ms=self.options.lock_timeout_ms)  # fmt: skip

            self._with_retries(run, "; ".join(group))

    def _with_retries(self, action: Callable[[], None], what: str) -> None:
        attempt = 0
        while True:
            try:
                action()
                return
            except Exception as exc:
                code = self.backend.retryable(exc)
                if code is None or attempt >= self.options.retries:
                    raise
                attempt += 1
                delay = backoff_delay(attempt, self.options.backoff_base_s,
                                      self.options.backoff_cap_s)  # fmt: skip
                self._say(f"lock not available ({code}), retry {attempt}/"
                          f"{self.options.retries} in {delay:.2f} s: {refs.render(what)[:80]}")  # fmt: skip
                time.sleep(delay)
                self._check_alive()

    # -- run-time references ----------------------------------------------------------

    def _capture(self, plan: Plan) -> dict[str, str]:
        """Every reference the plan makes, as the catalog answers now (before expand's
        first statement). Objects the migration creates itself are resolved when first
        used, and stored then."""
        wanted = refs.find(plan.texts())
        for step in plan.steps:
            if step.backfill is not None and step.backfill.key in ("", PRIMARY_KEY):
                with contextlib.suppress(BadName):
                    table = TableName.parse(step.backfill.table, self.dialect).canonical
                    wanted.append(refs.Ref("pk", table))
        out: dict[str, str] = {}
        for r in wanted:
            with contextlib.suppress(DatabaseError):
                out[r.key] = self._lookup(r)
        return out

    def _resolve(self, sql: str) -> str:
        if not refs.has_refs(sql):
            return sql
        return refs.substitute(sql, self._ref_value, self._literal)

    def _literal(self, value: str) -> str:
        return sql_literal(self.dialect, value)

    def _ref_value(self, r: refs.Ref) -> str:
        value = self._captured.get(r.key)
        if value is None:
            value = self._lookup(r)
            self._captured[r.key] = value
            if self._migration is not None:
                self.state.capture(self._migration, {r.key: value})
        return value

    def _lookup(self, r: refs.Ref) -> str:
        return lookup(self.backend, self._conn, self.dialect, r)


def _leading_checks(plan: Plan, phase: Phase) -> list[tuple[int, Step]]:
    """The checks (verify-only steps) a phase starts with: run before it changes anything."""
    out = []
    for index, step in plan.phase(phase):
        if not is_check(step):
            break
        out.append((index, step))
    return out


def _index(phase: Phase) -> int:
    return PHASE_ORDER.index(phase)
