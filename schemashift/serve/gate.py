"""The gate decisions ``schemashift serve`` answers, from the state rows alone.

The command line's ``gate contract TARGET`` plans the migration from its file; the server
only has the migration's name, so it asks the same ``Runner.gate_contract`` with the plan
pinned at expand (``migrations.plan``): the same order check, the same blockers, the same
audit event (plus who asked). The readiness gate is ``runtime.is_ready`` on the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemashift.config import Config

ALLOWED, BLOCKED, UNKNOWN = "allowed", "blocked", "unknown"


class UnknownMigration(LookupError):
    """The state tables hold no migration of that name (HTTP 404)."""


class Undecidable(RuntimeError):
    """The database could not be asked (HTTP 503); the message is masked."""


@dataclass(frozen=True)
class Decision:
    gate: str  # contract | ready
    migration: str
    decision: str  # allowed | blocked | unknown
    reason: str
    blockers: list[dict[str, Any]] = field(default_factory=list)
    phase: str | None = None
    status: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOWED

    def to_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "migration": self.migration, "allowed": self.allowed,
                "decision": self.decision, "reason": self.reason, "blockers": self.blockers,
                "phase": self.phase, "status": self.status}  # fmt: skip


def _row(url: str, config: Config, migration: str) -> Any:
    """The migration's row; UnknownMigration when there is none (or no state tables)."""
    from schemashift.deploy import StateMissing, open_state

    try:
        with open_state(url, config.state_schema, create=False, lock_timeout=2.0,
                        statement_timeout=5.0) as state:  # fmt: skip
            row = state.get(migration)
    except StateMissing:
        row = None
    if row is None:
        raise UnknownMigration(f"no migration {migration!r} in the state tables")
    return row


def contract_decision(url: str, config: Config, migration: str,
                      requested_by: dict[str, Any] | None = None) -> Decision:  # fmt: skip
    """May contract of ``migration`` run now? Records the audit event, as the CLI does."""
    from schemashift.deploy import blocker_json, describe
    from schemashift.execute.runner import GateRefused, Runner, RunOptions
    from schemashift.phases.plan import Plan

    def decide() -> Decision:
        row = _row(url, config, migration)
        plan = Plan.from_json(row.plan)
        runner = Runner(url, config, RunOptions(quiet=True, lock_timeout_ms=config.lock_timeout_ms))
        try:
            blockers = runner.gate_contract(plan, requested_by)
        except GateRefused as exc:  # out of order, rolled back, ...
            return Decision("contract", migration, BLOCKED, str(exc), [], row.phase, row.status)
        if blockers:
            reason = (f"{migration}: contract blocked by {len(blockers)} live instance(s) of "
                      f"{row.for_app} older than {row.for_version}:\n{describe(blockers)}")  # fmt: skip
            return Decision("contract", migration, BLOCKED, reason, blocker_json(blockers),
                            row.phase, row.status)  # fmt: skip
        return Decision("contract", migration, ALLOWED, f"{migration}: contract may run",
                        [], row.phase, row.status)  # fmt: skip

    return _guarded(decide)


def ready_decision(url: str, config: Config, migration: str) -> Decision:
    """Is ``migration`` backfilled and verified (what a new version's rollout waits for)?"""
    from schemashift.runtime import is_ready

    def decide() -> Decision:
        row = _row(url, config, migration)
        if is_ready(row):
            return Decision("ready", migration, ALLOWED,
                            f"{migration}: backfilled and verified", [], row.phase, row.status)  # fmt: skip
        done = row.phase or "nothing"
        why = ("rolled back" if row.status == "rolled_back"
               else f"{done} done, verify not yet" + (" (failed)" if row.status == "failed" else ""))  # fmt: skip
        return Decision("ready", migration, BLOCKED, f"{migration}: not ready: {why}", [],
                        row.phase, row.status)  # fmt: skip

    return _guarded(decide)


def _guarded(decide: Any) -> Decision:
    """Database failures become Undecidable (masked); UnknownMigration passes through."""
    from schemashift.execute.database import DatabaseError
    from schemashift.execute.runner import error_text

    try:
        result: Decision = decide()
        return result
    except DatabaseError as exc:
        raise Undecidable(str(exc)) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "pymysql", "sqlite3")):
            raise Undecidable(f"database error: {error_text(exc)}") from None
        raise
