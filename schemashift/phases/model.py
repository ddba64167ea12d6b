"""A plan: the ordered steps a change becomes, each tagged with its phase (DESIGN §3).

Pure values, like ``schemashift.model``: the planner builds them, the executor runs them,
the renderers print them. SQL in a step may hold placeholders the executor resolves
against the live catalog at run time, because a migration file does not say everything a
safe recipe needs:

- ``{type:table.column}``: the column's current type (a renamed column's copy needs it);
- ``{pk:table}``: the table's primary-key column (backfills page on it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from schemashift.model import Phase

PHASE_ORDER = (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT)


@dataclass(frozen=True)
class Backfill:
    """Copy or compute values for existing rows, in keyset-paginated batches."""

    table: str
    assignments: str  # the SET clause: "full_name = name"
    pending: str  # rows that still need it: "full_name IS DISTINCT FROM name"
    key: str = "{pk:table}"  # the column the batches page on


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
            if raw.get("verify"):
                raw["verify"] = Verify(**raw["verify"])
            steps.append(Step(**raw))
        return Plan(data["migration"], data["dialect"], tuple(steps),
                    strategies=tuple(data.get("strategies", ())))  # fmt: skip
