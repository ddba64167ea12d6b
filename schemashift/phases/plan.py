"""A plan: the ordered steps a change becomes, each tagged with its phase (docs/design.md §3).

Pure values, like ``schemashift.model``: the planner builds them, the executor runs them,
the renderers print them. SQL in a step may hold run-time references
(``schemashift.sqltext.refs``: a column's type, a table's primary key, a MySQL column's
definition) that the runner captures from the catalog when expand starts, because a
migration file does not say everything a safe recipe needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from schemashift.model import Phase

PHASE_ORDER = (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT)
# Backfill.key: page on the table's primary key (or a unique NOT NULL column).
PRIMARY_KEY = "{pk:table}"


@dataclass(frozen=True)
class Backfill:
    """Copy or compute values for existing rows, in keyset-paginated batches."""

    table: str  # canonical name (sqltext/names.py) or the table as SQL
    assignments: str  # the SET clause: "full_name = name"
    pending: str  # rows that still need it: "full_name IS DISTINCT FROM name"
    key: str = "{pk:table}"  # the column the batches page on, as SQL, or PRIMARY_KEY


@dataclass(frozen=True)
class Verify:
    """A check that must hold before contract: ``sql`` returns the offending keys."""

    description: str
    sql: str  # SELECT <key> FROM … WHERE <violation> (the runner adds LIMIT)


@dataclass(frozen=True)
class Step:
    phase: Phase
    description: str
    sql: tuple[str, ...] = ()
    # Runs outside a transaction (CREATE INDEX CONCURRENTLY, VALIDATE in its own commit).
    concurrent: bool = False
    # Undoes this step (expand steps): run in reverse order by `rollback`.
    rollback: tuple[str, ...] = ()
    backfill: Backfill | None = None
    verify: Verify | None = None
    # Why the step exists, for `plan` output and generated revisions.
    why: str = ""
    # Rollback is refused while this query returns a row (e.g. the old column of a rename
    # is gone: dropping the new one would lose the only copy of the values).
    rollback_check: Verify | None = None
    # Why running this step would hurt live traffic (a table rewrite, a long lock) when no
    # strategy could make it safe: the runner refuses it unless --force --reason.
    hazard: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["phase"] = self.phase.value
        return {k: v for k, v in out.items() if v not in (None, (), "", False) or k == "phase"}


@dataclass(frozen=True)
class Plan:
    migration: str  # revision id, or the .sql file's name without .sql
    dialect: str
    steps: tuple[Step, ...]
    source: str = ""  # the SQL (or revision file) it was planned from
    strategies: tuple[str, ...] = field(default=())  # which strategy produced what

    def phase(self, phase: Phase) -> list[tuple[int, Step]]:
        """(step index, step) of one phase, in plan order."""
        return [(i, s) for i, s in enumerate(self.steps) if s.phase is phase]

    @property
    def checksum(self) -> str:
        """Pinned at expand: contract refuses if the plan changed since."""
        body = json.dumps([s.to_json() for s in self.steps], sort_keys=True)
        return hashlib.sha256(f"{self.dialect}\n{body}".encode()).hexdigest()[:16]

    @property
    def phases_present(self) -> tuple[Phase, ...]:
        return tuple(p for p in PHASE_ORDER if any(s.phase is p for s in self.steps))

    def texts(self) -> list[str]:
        """Every SQL text of the plan (for its run-time references)."""
        out: list[str] = []
        for s in self.steps:
            out.extend(s.sql)
            out.extend(s.rollback)
            for v in (s.verify, s.rollback_check):
                if v is not None:
                    out.append(v.sql)
            if s.backfill is not None:
                out.extend((s.backfill.assignments, s.backfill.pending, s.backfill.key))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "migration": self.migration,
            "dialect": self.dialect,
            "checksum": self.checksum,
            "strategies": list(self.strategies),
            "steps": [s.to_json() for s in self.steps],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        steps = []
        for raw in data["steps"]:
            raw = dict(raw)
            raw["phase"] = Phase(raw["phase"])
            for key in ("sql", "rollback"):
                raw[key] = tuple(raw.get(key, ()))
            if raw.get("backfill"):
                raw["backfill"] = Backfill(**raw["backfill"])
            for key in ("verify", "rollback_check"):
                if raw.get(key):
                    raw[key] = Verify(**raw[key])
            steps.append(Step(**raw))
        return Plan(data["migration"], data["dialect"], tuple(steps),
                    strategies=tuple(data.get("strategies", ())))  # fmt: skip


# The parts of a plan an Alembic revision pair runs (alembic/change_op.py): the expand
# revision the expand and backfill steps, the contract revision verify and contract.
PARTS = {
    "expand": (Phase.EXPAND, Phase.BACKFILL),
    "contract": (Phase.VERIFY, Phase.CONTRACT),
}


def part_steps(plan: Plan, part: str) -> list[Step]:
    """The steps ``part`` runs, in order (``rollback``: the expand steps, last first)."""
    if part == "rollback":
        return [s for s in reversed(plan.steps) if s.phase is Phase.EXPAND]
    phases = PARTS[part]
    return [s for s in plan.steps if s.phase in phases]
