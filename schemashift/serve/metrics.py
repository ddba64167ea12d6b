"""Prometheus metrics of ``schemashift serve``, read from the state tables at scrape time.

A custom collector (no background polling): each scrape reads the status document once.
Gate decisions are counted by this process (a counter cannot live in the database).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from schemashift.deploy import PHASE_NAMES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("schemashift_state_up",
                               "1 when the state tables could be read for this scrape")  # fmt: skip
        try:
            doc = self._snapshot()
        except Exception:  # the scrape still answers: up 0 says why the rest is missing
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        phase = GaugeMetricFamily(
            "schemashift_migration_phase",
            "1 for the last phase a migration completed (phase=\"none\" before expand)",
            labels=["migration", "phase", "status"])  # fmt: skip
        done = GaugeMetricFamily("schemashift_backfill_rows_done",
                                 "Rows a backfill step has updated", labels=["migration", "step"])  # fmt: skip
        total = GaugeMetricFamily("schemashift_backfill_rows_total_estimate",
                                  "Rows a backfill step expects to update",
                                  labels=["migration", "step"])  # fmt: skip
        for m in doc["migrations"]:
            for name in ("none", *PHASE_NAMES):
                current = (m["phase"] or "none") == name
                phase.add_metric([m["migration"], name, m["status"]], 1 if current else 0)
            for b in m["backfill"]:
                labels = [m["migration"], str(b["step"] + 1)]  # numbered as plan numbers steps
                done.add_metric(labels, b["rows_done"])
                if b["rows_total_estimate"] is not None:
                    total.add_metric(labels, b["rows_total_estimate"])
        live = GaugeMetricFamily("schemashift_live_instances",
                                 "Live app instances (not retired, heartbeat within the TTL)",
                                 labels=["app", "version"])  # fmt: skip
        for (app, version), count in sorted(Tally(
                (r["app"], r["version"]) for r in doc["live"]).items()):  # fmt: skip
            live.add_metric([app, version], count)
        yield from (phase, done, total, live)


class Metrics:
    """One registry per app (tests run several apps in one process)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StateCollector(snapshot))
        self.gate_decisions = Counter(
            "schemashift_gate_decisions", "Gate decisions answered by this server",
            ["gate", "decision"], registry=self.registry)  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)
