"""The status document: each migration's phase, backfill progress, last event and, for the
ones in flight, which live app instances run on the current and the next phase's schema.

The data of ``schemashift status`` (``--format json`` prints it as is; report/status.py
renders the text). Read-only: it needs no run lock, so status never waits for a phase.
"""

from __future__ import annotations

from typing import Any

from schemashift.deploy import compatibility, live, next_phase
from schemashift.execute.state import State

STATUS_VERSION = 1


def status_document(state: State, ttl_seconds: float) -> dict[str, Any]:
    """``{"version": 1, "migrations": [...], "live": [...]}`` (docs/design.md §6)."""
    live_rows = live(state, ttl_seconds=ttl_seconds)
    migrations: list[dict[str, Any]] = []
    for row in state.all():
        progress = state.backfill_progress(row.migration)
        last = state.last_event(row.migration)
        entry: dict[str, Any] = {
            "migration": row.migration,
            "phase": row.phase,
            "status": row.status,
            "checksum": row.checksum,
            "for_app": row.for_app,
            "for_version": row.for_version,
            "steps_done": list(row.steps_done),
            "backfill": [
                {"step": s, "rows_done": d, "rows_total_estimate": t} for s, d, t in progress
            ],
            "last_event": None
            if last is None
            else {"at": last[0].isoformat(), "action": last[1], "phase": last[2]},
            "error": row.error,
            "updated_at": row.updated_at.isoformat(),
        }
        if row.status not in ("done", "rolled_back"):  # in flight
            entry["next_phase"] = next_phase(row.phase)
            entry["compatibility"] = compatibility(
                row.phase, row.for_app, row.for_version, live_rows
            )
        migrations.append(entry)
    return {
        "version": STATUS_VERSION,
        "migrations": migrations,
        "live": [r.to_json() for r in live_rows],
    }
