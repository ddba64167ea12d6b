"""``schemashift status`` as text: one line per migration, the live versions, and for each
migration in flight its compatibility matrix (the document: execute/status.py)."""

from __future__ import annotations

from typing import Any


def render_status(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    migrations, live_rows = doc["migrations"], doc["live"]
    if not migrations:
        lines.append("no migrations recorded yet")
    else:
        lines.append(f"{'migration':<32} {'phase':<9} {'status':<12} {'backfill':<20} last event")
        for m in migrations:
            rows = sum(b["rows_done"] for b in m["backfill"])
            total = sum(b["rows_total_estimate"] or 0 for b in m["backfill"])
            backfill = f"{rows:,}/{total:,} rows" if m["backfill"] else "-"
            last = m["last_event"]
            event = f"{last['action']} ({last['phase']}) {last['at'][:19]}" if last else "-"
            lines.append(f"{m['migration']:<32} {m['phase'] or '-':<9} {m['status']:<12} "
                         f"{backfill:<20} {event}")  # fmt: skip
            if m["error"]:
                lines.append(f"{'':<32} error: {m['error']}")
    lines.extend(_live(live_rows))
    for m in migrations:
        if "compatibility" in m:
            lines.extend(_matrix(m))
    return "\n".join(lines) + "\n"


def _live(live_rows: list[dict[str, Any]]) -> list[str]:
    if not live_rows:
        return ["", "live versions: none recorded"]
    return ["", "live versions:"] + [
        f"  {r['app']} {r['version']} instance {r['instance']} (slot {r['slot'] or '-'})"
        for r in live_rows
    ]


def _word(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "NO")


def _matrix(m: dict[str, Any]) -> list[str]:
    current, nxt = m["phase"] or "-", m["next_phase"] or "-"
    target = (f"for {m['for_app']} >= {m['for_version']}" if m["for_app"]
              else "no --for-app: compatibility unknown")  # fmt: skip
    lines = ["", f"compatibility of {m['migration']} ({target}):"]
    if not m["compatibility"]:
        return [*lines, "  no live instances"]
    lines.append(f"  {'app':<12} {'version':<12} {'instance':<24} "
                 f"{'current (' + current + ')':<20} next ({nxt})")  # fmt: skip
    for c in m["compatibility"]:
        lines.append(f"  {c['app']:<12} {c['version']:<12} {c['instance']:<24} "
                     f"{_word(c['current']):<20} {_word(c['next'])}")  # fmt: skip
    return lines
