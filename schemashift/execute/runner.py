"""Run a plan's phases on a live PostgreSQL, MySQL/MariaDB or SQLite database, safely and
resumably.

- Phases run in order (expand → backfill → verify → contract); out of order is refused
  (``GateRefused``, exit 3) naming the phase that comes next. Re-running a finished phase
  does nothing; a phase that failed half-way resumes at its first unfinished step.
- Two runs never interleave: a run lock (PostgreSQL advisory lock, MySQL ``GET_LOCK``,
  SQLite a pid row in the meta table) is held for the whole command.
- Every DDL statement runs with a lock timeout (default 1 s; ``lock_timeout`` on
  PostgreSQL, ``lock_wait_timeout`` in whole seconds on MySQL) so it never queues behind a
  long transaction and stalls other traffic; on timeout it is retried with exponential
  backoff, jitter and a cap.
- ``concurrent`` steps run outside a transaction; an INVALID index a failed concurrent
  build left behind is dropped before the retry (PostgreSQL).
- MySQL has no transactional DDL: a step's statement groups commit one by one and each is
  recorded, so a retry or a later run resumes at the first group not done, and a rollback
  also undoes a step that stopped half way.
- What differs between databases lives in execute/backends.py.
- The plan's checksum is pinned at expand: later phases refuse a changed plan.
- Every step is recorded in the state tables, every phase run in the events log.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from schemashift.config import Config
from schemashift.execute.backends import RUN_LOCK, Backend, backend_for
from schemashift.execute.database import DatabaseError, Target, parse_url
from schemashift.execute.retry import backoff_delay
from schemashift.execute.state import DeploymentRow, MigrationRow, State
from schemashift.model import Phase
from schemashift.phases.model import PHASE_ORDER, Plan, Step

ADVISORY_KEY = RUN_LOCK
_PLACEHOLDER = re.compile(r"\{(type|pk):([^{}]+)\}")


class GateRefused(RuntimeError):
    """A phase may not run now (order, checksum, live versions): exit 3."""


class VerifyFailed(GateRefused):
    """A verify step found offending rows: contract stays blocked."""

    def __init__(self, description: str, keys: list[Any]) -> None:
        shown = ", ".join(str(k) for k in keys[:10])
        super().__init__(f"verify failed: {description}; first offending keys: {shown}")
        self.keys = keys


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


@dataclass(frozen=True)
class PhaseResult:
    migration: str
    phase: Phase
    steps_run: int
    steps_skipped: int
    already_done: bool = False


class Runner:
    def __init__(self, database_url: str, config: Config, options: RunOptions | None = None):
        self.target: Target = parse_url(database_url)
        self.backend: Backend = backend_for(self.target, config.state_schema)
        self.config = config
        self.options = options or RunOptions()
        self._conn: Any = None

    # -- connection, lock, state ------------------------------------------------------

    def __enter__(self) -> Runner:
        self._conn = self.backend.connect()
        try:
            got = self.backend.try_lock(self._conn)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise
        if not got:
            self._conn.close()
            self._conn = None
            raise GateRefused(
                "another schemashift run holds the lock on this database; wait for it to finish"
            )
        self.state: State = self.backend.state(self._conn, self.config.state_schema)
        self.state.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self.backend.unlock(self._conn)
            finally:
                self._conn.close()
                self._conn = None

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            print(f"schemashift: {text}", file=self.options.out, flush=True)

    # -- phases -----------------------------------------------------------------------

    def run(self, plan: Plan, phase: Phase) -> PhaseResult:
        with self:
            return self._run(plan, phase)

    def _run(self, plan: Plan, phase: Phase) -> PhaseResult:
        row = self.state.get(plan.migration)
        self._check_order(plan, phase, row)
        if phase is Phase.EXPAND and (row is None or row.status == "rolled_back"):
            self.state.start(plan.migration, plan.to_json(), plan.checksum,
                             self.options.for_app, self.options.for_version)  # fmt: skip
            row = self.state.get(plan.migration)
        assert row is not None
        if row.phase is not None and _index(Phase(row.phase)) >= _index(phase):
            self._say(f"{plan.migration}: {phase.value} already done")
            return PhaseResult(plan.migration, phase, 0, 0, already_done=True)
        if phase is Phase.CONTRACT:
            self._gate_contract(plan, row)
        self.state.event(plan.migration, phase.value, "phase_start",
                         {"checksum": plan.checksum}, forced=self.options.force,
                         reason=self.options.reason)  # fmt: skip
        ran = skipped = 0
        steps = plan.phase(phase)
        try:
            for index, step in steps:
                if index in row.steps_done:
                    skipped += 1
                    continue
                self._say(f"{plan.migration}: {phase.value} step {index}: {step.description}")
                self._run_step(plan, index, step, row.groups_done.get(index, 0))
                self.state.step_done(plan.migration, index)
                ran += 1
        except Exception as exc:
            self.state.set_phase(plan.migration, row.phase, "failed", _first_line(exc))
            self.state.event(plan.migration, phase.value, "phase_failed",
                             {"error": _first_line(exc)})  # fmt: skip
            raise
        status = "done" if phase is PHASE_ORDER[-1] else "running"
        self.state.set_phase(plan.migration, phase.value, status)
        self.state.event(plan.migration, phase.value, "phase_done",
                         {"steps_run": ran, "steps_skipped": skipped})  # fmt: skip
        return PhaseResult(plan.migration, phase, ran, skipped)

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

    def gate_contract(self, plan: Plan) -> list[DeploymentRow]:
        """Whether contract may run now (order, checksum, live versions), without running
        it: the blockers (empty: it may). Order problems raise GateRefused."""
        with self:
            row = self.state.get(plan.migration)
            self._check_order(plan, Phase.CONTRACT, row)
            assert row is not None
            if row.phase == Phase.CONTRACT.value:
                return []
            blockers = self._blockers(row)
            from schemashift.deploy import blocker_json

            self.state.event(plan.migration, "gate",
                             "gate_refused" if blockers else "gate_allowed",
                             {"for_app": row.for_app, "for_version": row.for_version,
                              "blockers": blocker_json(blockers), "check_only": True})  # fmt: skip
            return blockers

    def rollback(self, plan: Plan) -> int:
        """Undo the expand (drop the new columns, triggers, indexes). Refused after contract."""
        with self:
            row = self.state.get(plan.migration)
            if row is None:
                raise GateRefused(f"{plan.migration} was never expanded: nothing to roll back")
            if row.status == "rolled_back":
                self._say(f"{plan.migration}: already rolled back")
                return 0
            contracting = any(i in row.steps_done or i in row.groups_done
                              for i, _ in plan.phase(Phase.CONTRACT))  # fmt: skip
            if row.phase == Phase.CONTRACT.value or row.status == "done" or contracting:
                raise GateRefused(
                    f"{plan.migration} is contracted: the old schema is gone, rollback is "
                    "refused; fix forward with a new migration"
                )
            undone = 0
            for index, step in reversed(plan.phase(Phase.EXPAND)):
                # A step that stopped half way (MySQL: no transactional DDL) has effects too.
                started = index in row.steps_done or index in row.groups_done
                if not started or not step.rollback:
                    continue
                self._say(f"{plan.migration}: rollback step {index}: {step.description}")
                self._execute(step.rollback, concurrent=step.concurrent)
                undone += 1
            self.state.clear_steps(plan.migration)
            self.state.set_phase(plan.migration, None, "rolled_back")
            self.state.event(plan.migration, "rollback", "rolled_back", {"steps": undone})
            return undone

    def status(self) -> list[MigrationRow]:
        with self:
            return self.state.all()

    # -- steps ------------------------------------------------------------------------

    def _run_step(self, plan: Plan, index: int, step: Step, groups_done: int = 0) -> None:
        if step.sql:
            self._execute(step.sql, concurrent=step.concurrent,
                          record=(plan.migration, index), start=groups_done)  # fmt: skip
        if step.backfill is not None:
            from schemashift.execute.backfill import Progress

            backfill = step.backfill
            key = self._resolve(backfill.key.replace("{pk:table}", f"{{pk:{backfill.table}}}"))
            resolved = type(backfill)(
                table=backfill.table,
                assignments=self._resolve(backfill.assignments),
                pending=self._resolve(backfill.pending),
                key=key,
            )
            self.backend.backfill(
                resolved,
                migration=plan.migration,
                step=index,
                batch_size=self.options.batch_size,
                rows_per_second=self.options.rows_per_second,
                statement_timeout_ms=self.options.statement_timeout_ms,
                lock_timeout_ms=self.options.lock_timeout_ms,
                progress=None if self.options.quiet else Progress(),
                state_schema=self.config.state_schema,
            )
        if step.verify is not None:
            sql = self._resolve(step.verify.sql)
            rows = self.backend.query(self._conn, f"SELECT * FROM ({sql}) AS offending LIMIT 10")
            if rows:
                raise VerifyFailed(
                    step.verify.description, [r[0] if len(r) == 1 else r for r in rows]
                )

    def _execute(self, statements: tuple[str, ...], *, concurrent: bool,
                 record: tuple[str, int] | None = None, start: int = 0) -> None:  # fmt: skip
        """Run statements group by group (see Backend.groups), each with retries. Without
        transactional DDL, ``record`` (migration, step) notes each committed group, and the
        groups before ``start`` (committed by an earlier run) are skipped. Placeholders are
        resolved group by group, against the catalog as the groups before left it."""
        groups = self.backend.groups(statements, concurrent=concurrent)
        track = record is not None and not self.backend.transactional_ddl
        if track and start == 0:
            assert record is not None
            self.state.step_started(*record)
        for number, raw in enumerate(groups):
            if track and number < start:
                continue
            group = [self._resolve(s) for s in raw]

            def run(group: list[str] = group) -> None:
                self.backend.run_group(self._conn, group, concurrent=concurrent, say=self._say,
                                       lock_timeout_ms=self.options.lock_timeout_ms)  # fmt: skip

            self._with_retries(run, "; ".join(group))
            if track:
                assert record is not None
                self.state.groups_done(*record, number + 1)

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
                          f"{self.options.retries} in {delay:.2f} s: {what[:80]}")  # fmt: skip
                time.sleep(delay)

    # -- placeholders -----------------------------------------------------------------

    def _resolve(self, sql: str) -> str:
        return _PLACEHOLDER.sub(self._lookup, sql)

    def _lookup(self, m: re.Match[str]) -> str:
        kind, ref = m.group(1), m.group(2)
        if kind == "type":
            table, _, column = ref.rpartition(".")
            found = self.backend.column_type(self._conn, table, column)
            if found is None:
                raise DatabaseError(f"column {ref} not found: cannot resolve its type")
            return found
        key = self.backend.primary_key(self._conn, ref)
        if key is None:
            raise DatabaseError(f"table {ref} has no single-column primary key to page on")
        return key


def _index(phase: Phase) -> int:
    return PHASE_ORDER.index(phase)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
