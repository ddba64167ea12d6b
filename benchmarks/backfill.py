#!/usr/bin/env python3
"""Backfill throughput and its cost to a live app, against one bulk UPDATE; sync trigger cost.

Run by hand (this is not a pytest test), from the repository root:

    .venv/bin/python benchmarks/backfill.py
    .venv/bin/python benchmarks/backfill.py --rows 200000 --with-trigger --json out.json

Needs a PostgreSQL login that may CREATE DATABASE: ``SCHEMASHIFT_BENCH_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``). The script creates its own
database ``ss_bench_<random>`` and drops it at the end.

What it measures, on a table of ``--rows`` rows (default 1,000,000; ``id bigserial``
primary key, ``a int``, ``b int`` to fill from ``a``, a 41-byte text payload), loaded
afresh (``VACUUM ANALYZE``, ``CHECKPOINT``) before each of (a) and (b):

- the app writer: a thread with its own autocommit connection doing single-row writes at
  ``--writer-rate`` a second, alternately ``UPDATE … SET hits = hits + 1 WHERE id =
  <random>`` and ``INSERT``. It runs ``--idle-seconds`` alone first (the idle baseline),
  then on through (a) or (b); its p50/p99 latency and errors are taken over each window;
- (a) one bulk ``UPDATE bench SET b = a`` → rows/s;
- (b) ``run_backfill`` (``b = a`` where ``b IS DISTINCT FROM a``, batch ``--batch-size``,
  default 5000 as the CLI) → rows/s; then the rows are checked one by one;
- (c) insert throughput into a table with and without the sync trigger of
  ``schemashift.execute.triggers.sync_trigger_sql`` (old → new): a bulk ``INSERT …
  SELECT generate_series`` (the trigger's worst case: nothing else per row) and app-style
  single-row ``INSERT`` statements (pipelined ``executemany``, 1000 per transaction),
  alternating ``--repeats`` times, medians.

(a) and (b) run in a child process, as a migration does in production: sharing the
writer's process (and GIL) alone adds ~2 ms to the writer's median.

Targets: backfill ≥ 50% of the bulk UPDATE's rows/s; the writer's p99 during the backfill
≤ 2x its idle p99, with 0 errors; insert throughput without the trigger ≤ 1.5x that with
it. ``--with-trigger`` repeats (a) and (b) with the sync trigger installed on the table,
as it is during a real backfill. ``--strict`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from schemashift.execute.triggers import sync_trigger_sql  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PAYLOAD = "'payload-' || md5(g::text)"  # 41 bytes


# --------------------------------------------------------------------------- the app writer


@dataclass
class Sample:
    start: float
    seconds: float
    ok: bool


@dataclass
class WriterStats:
    ops: int  # operations done
    due: int  # operations the schedule had in the window
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    error_examples: list[str] = field(default_factory=list)


class Writer:
    """Single-row writes at a fixed rate from a thread with its own autocommit connection."""

    def __init__(self, conninfo: str, table: str, max_id: int, rate: float, seed: int) -> None:
        self.conninfo, self.table, self.max_id = conninfo, table, max_id
        self.interval = 1.0 / rate
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Writer:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        conn = psycopg.connect(self.conninfo, autocommit=True)
        update = f"UPDATE {self.table} SET hits = hits + 1 WHERE id = %s"
        insert = f"INSERT INTO {self.table} (a, payload) VALUES (%s, 'payload-from-the-app')"
        n = 0
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    if n % 2:
                        conn.execute(update, (self.rng.randint(1, self.max_id),))
                    else:
                        conn.execute(insert, (self.rng.randint(1, 1_000_000),))
                    ok = True
                except psycopg.Error as exc:
                    ok = False
                    self.errors.append(str(exc).strip().splitlines()[0])
                    if conn.closed or conn.broken:
                        conn = psycopg.connect(self.conninfo, autocommit=True)
                self.samples.append(Sample(started, time.monotonic() - started, ok))
                next_at += self.interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_at = time.monotonic()  # behind (a wait): no burst to catch up
        finally:
            conn.close()

    def stats(self, since: float = -1.0, until: float = float("inf")) -> WriterStats:
        """Percentiles corrected for coordinated omission: an operation that took k writer
        intervals also stands for the k - 1 operations the schedule would have started
        while it waited (with what they would have waited), as HdrHistogram's
        recordValueWithExpectedInterval does. Without this a writer stuck for 5 s behind
        the bulk UPDATE's row locks counts as one slow operation among hundreds of fast
        ones, and the p99 hides it."""
        window = [s for s in self.samples if since <= s.start <= until]
        times: list[float] = []
        for sample in window:
            times.append(sample.seconds)
            missed = sample.seconds - self.interval
            while missed >= self.interval:
                times.append(missed)
                missed -= self.interval
        times = sorted(t * 1000 for t in times)
        errors = sum(1 for s in window if not s.ok)
        if not window:
            return WriterStats(0, 0, 0, float("nan"), float("nan"), float("nan"))
        last = self.samples[-1]
        span = min(until, last.start + last.seconds) - max(since, self.samples[0].start)
        due = round(span / self.interval)
        return WriterStats(
            len(window), max(due, len(window)), errors, percentile(times, 50),
            percentile(times, 99), times[-1], self.errors[:3],
        )  # fmt: skip


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --------------------------------------------------------------------------- database


def server_conninfo(url: str, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


def load(conn: psycopg.Connection[Any], rows: int, trigger: bool) -> None:
    conn.execute("DROP TABLE IF EXISTS bench")
    conn.execute("DROP SCHEMA IF EXISTS schemashift CASCADE")
    conn.execute(
        "CREATE TABLE bench (id bigserial PRIMARY KEY, a int, b int, hits int NOT NULL "
        "DEFAULT 0, payload text)"
    )
    conn.execute(
        f"INSERT INTO bench (a, payload) SELECT (g::bigint * 7919) % 1000003, {PAYLOAD} "
        f"FROM generate_series(1, {rows}) g"
    )
    if trigger:
        create, _ = sync_trigger_sql("bench", "a", "b")
        with conn.transaction():
            for statement in create:
                conn.execute(statement)
    conn.execute("VACUUM ANALYZE bench")
    conn.execute("CHECKPOINT")


def timed(action: Callable[[], Any]) -> tuple[float, float, Any]:
    started = time.perf_counter()
    result = action()
    return started, time.perf_counter(), result


# --------------------------------------------------------------------------- the runs


MIGRATION_CHILD = """
import json, sys, time
import psycopg
from schemashift.execute.backfill import run_backfill
from schemashift.phases.model import Backfill
conninfo, mode, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = psycopg.connect(conninfo, autocommit=True)
t0 = time.monotonic()
if mode == "bulk":
    rows = conn.execute("UPDATE bench SET b = a").rowcount
    batches = 1
else:
    result = run_backfill(
        lambda: psycopg.connect(conninfo),
        Backfill("bench", "b = a", "b IS DISTINCT FROM a"),
        migration="bench", step=1, batch_size=batch_size,
    )
    rows, batches = result.rows_done, result.batches
t1 = time.monotonic()
print(json.dumps({"t0": t0, "t1": t1, "rows": rows, "batches": batches}))
"""


def migrate(conninfo: str, mode: str, batch_size: int) -> dict[str, Any]:
    """Run the bulk UPDATE or the backfill in a process of its own, as in production: the
    writer thread must not share a GIL with it (that alone adds ~2 ms to every write)."""
    proc = subprocess.run(
        [sys.executable, "-c", MIGRATION_CHILD, conninfo, mode, str(batch_size)],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@dataclass
class Run:
    what: str  # bulk | backfill
    trigger: bool
    seconds: float
    rows: int
    batches: int
    writer_idle: WriterStats
    writer_during: WriterStats
    wrong_rows: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def p99_ratio(self) -> float:
        return self.writer_during.p99_ms / self.writer_idle.p99_ms


def measure(conninfo: str, args: argparse.Namespace, what: str, trigger: bool) -> Run:
    """Fresh table; the writer idle for --idle-seconds (the baseline), then the bulk UPDATE
    or the backfill while the writer goes on."""
    conn = psycopg.connect(conninfo, autocommit=True)
    try:
        load(conn, args.rows, trigger)
        writer = Writer(conninfo, "bench", args.rows, args.writer_rate, args.seed).start()
        time.sleep(0.5)  # warm-up, not counted
        idle_from = time.monotonic()
        time.sleep(args.idle_seconds)
        done = migrate(conninfo, what, args.batch_size)
        time.sleep(0.5)
        writer.stop()
        wrong = conn.execute(
            "SELECT count(*) FROM bench WHERE id <= %s AND b IS DISTINCT FROM a", (args.rows,)
        ).fetchone()
    finally:
        conn.close()
    run = Run(
        what, trigger, done["t1"] - done["t0"], int(done["rows"]), int(done["batches"]),
        writer.stats(idle_from, done["t0"]), writer.stats(done["t0"], done["t1"]),
        int(wrong[0]) if wrong else -1,
    )  # fmt: skip
    print(f"  {what}{' (sync trigger on)' if trigger else ''}: {run.seconds:.2f} s, "
          f"{run.rows_per_s:,.0f} rows/s; writer p99 idle {run.writer_idle.p99_ms:.2f} ms, "
          f"during {run.writer_during.p99_ms:.2f} ms", flush=True)  # fmt: skip
    return run


@dataclass
class InsertCost:
    bulk_rows: int
    bulk_without_rows_per_s: float
    bulk_with_rows_per_s: float
    app_rows: int
    app_without_rows_per_s: float
    app_with_rows_per_s: float

    @property
    def bulk_ratio(self) -> float:
        return self.bulk_without_rows_per_s / self.bulk_with_rows_per_s

    @property
    def app_ratio(self) -> float:
        return self.app_without_rows_per_s / self.app_with_rows_per_s


def insert_cost(conninfo: str, args: argparse.Namespace) -> InsertCost:
    conn = psycopg.connect(conninfo, autocommit=True)
    create, drop = sync_trigger_sql("ins", "old", "new")
    conn.execute("CREATE TABLE ins (id bigserial PRIMARY KEY, old int, new int, payload text)")

    def set_trigger(on: bool) -> None:
        with conn.transaction():
            for statement in create if on else drop:
                conn.execute(statement)

    def bulk() -> float:
        conn.execute("TRUNCATE ins")
        conn.execute("CHECKPOINT")
        t0, t1, _ = timed(
            lambda: conn.execute(
                f"INSERT INTO ins (old, payload) SELECT g, {PAYLOAD} "
                f"FROM generate_series(1, {args.insert_rows}) g"
            )
        )
        return float(args.insert_rows / (t1 - t0))

    def app() -> float:
        conn.execute("TRUNCATE ins")
        conn.execute("CHECKPOINT")
        rows = [(i, f"payload-{i:032d}") for i in range(args.app_rows)]
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows), 1000):
                with conn.transaction():
                    cur.executemany("INSERT INTO ins (old, payload) VALUES (%s, %s)",
                                    rows[i : i + 1000])  # fmt: skip
        return float(args.app_rows / (time.perf_counter() - started))

    results: dict[tuple[str, bool], list[float]] = {}
    try:
        for _ in range(args.repeats):  # alternate, so drift hits both alike
            for on in (False, True):
                set_trigger(on)
                results.setdefault(("bulk", on), []).append(bulk())
                results.setdefault(("app", on), []).append(app())
        # the last run had the trigger on: every row must be in sync
        bad = conn.execute("SELECT count(*) FROM ins WHERE new IS DISTINCT FROM old").fetchone()
        assert bad is not None and bad[0] == 0, "the sync trigger left rows out of sync"
    finally:
        conn.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    return InsertCost(
        args.insert_rows, med["bulk", False], med["bulk", True],
        args.app_rows, med["app", False], med["app", True],
    )  # fmt: skip


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(runs: list[Run], ins: InsertCost, args: Any) -> bool:
    rows: list[tuple[str, str, str, str]] = []
    all_met = True

    def add(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        nonlocal all_met
        if ok is not None:
            all_met = all_met and ok
        rows.append((figure, value, target, "" if ok is None else verdict(ok)))

    def w(s: WriterStats) -> str:
        return (f"p50 {s.p50_ms:.2f} ms, p99 {s.p99_ms:.2f} ms, max {s.max_ms:.0f} ms, "
                f"{s.ops} of {s.due} ops, {s.errors} errors")  # fmt: skip

    for trigger in sorted({r.trigger for r in runs}):
        tag = " (sync trigger on)" if trigger else ""
        bulk = next(r for r in runs if r.trigger == trigger and r.what == "bulk")
        bf = next(r for r in runs if r.trigger == trigger and r.what == "backfill")
        share = bf.rows_per_s / bulk.rows_per_s
        add(f"bulk UPDATE{tag}", f"{bulk.rows_per_s:,.0f} rows/s ({bulk.seconds:.2f} s)")
        add(f"backfill, batch {args.batch_size}{tag}",
            f"{bf.rows_per_s:,.0f} rows/s ({bf.seconds:.2f} s, {bf.batches} batches) "
            f"= {share:.0%} of bulk", ">= 50% of bulk", share >= 0.5)  # fmt: skip
        add("  rows wrong after it", f"{bf.wrong_rows}", "0", bf.wrong_rows == 0)
        add("  writer idle, before the bulk UPDATE", w(bulk.writer_idle))
        add("  writer during the bulk UPDATE",
            w(bulk.writer_during) + f"; p99 = {bulk.p99_ratio:.1f}x idle")  # fmt: skip
        add("  writer idle, before the backfill", w(bf.writer_idle))
        add("  writer during the backfill",
            w(bf.writer_during) + f"; p99 = {bf.p99_ratio:.2f}x idle",
            "p99 <= 2x idle, 0 errors",
            bf.p99_ratio <= 2.0 and bf.writer_during.errors == 0)  # fmt: skip
    add(f"insert, bulk INSERT…SELECT of {ins.bulk_rows:,}",
        f"{ins.bulk_without_rows_per_s:,.0f} rows/s without trigger, "
        f"{ins.bulk_with_rows_per_s:,.0f} with: cost {ins.bulk_ratio:.2f}x",
        "<= 1.5x", ins.bulk_ratio <= 1.5)  # fmt: skip
    add(f"insert, app-style single rows ({ins.app_rows:,})",
        f"{ins.app_without_rows_per_s:,.0f} rows/s without trigger, "
        f"{ins.app_with_rows_per_s:,.0f} with: cost {ins.app_ratio:.2f}x",
        "<= 1.5x", ins.app_ratio <= 1.5)  # fmt: skip

    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("figure", "result", "target", "")
    print()
    for r in (head, *rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    return all_met


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--writer-rate", type=float, default=200.0, help="writer ops a second")
    p.add_argument("--idle-seconds", type=float, default=5.0)
    p.add_argument("--insert-rows", type=int, default=500_000, help="bulk insert rows")
    p.add_argument("--app-rows", type=int, default=50_000, help="single-row inserts")
    p.add_argument("--repeats", type=int, default=3, help="insert runs each way (median)")
    p.add_argument("--with-trigger", action="store_true",
                   help="also compare with the sync trigger on the table")  # fmt: skip
    p.add_argument("--seed", type=int, default=20261127)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)

    url = os.environ.get("SCHEMASHIFT_BENCH_POSTGRES_URL", DEFAULT_URL)
    dbname = f"ss_bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(server_conninfo(url), autocommit=True)
    except psycopg.Error as exc:
        print(f"error: cannot connect to {url}: {exc}", file=sys.stderr)
        return 2
    admin.execute(f'CREATE DATABASE "{dbname}"')
    conninfo = server_conninfo(url, dbname)
    try:
        version = admin.execute("SHOW server_version").fetchone()
        print(f"PostgreSQL {version[0] if version else '?'}, {args.rows:,} rows, database "
              f"{dbname}, writer {args.writer_rate:.0f} ops/s", flush=True)  # fmt: skip
        runs = []
        for trigger in (False, True) if args.with_trigger else (False,):
            print(f"bulk UPDATE vs backfill{' (sync trigger on)' if trigger else ''} …",
                  flush=True)  # fmt: skip
            for what in ("bulk", "backfill"):
                runs.append(measure(conninfo, args, what, trigger))
        print("insert cost of the sync trigger …", flush=True)
        ins = insert_cost(conninfo, args)
        met = report(runs, ins, args)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "rows": args.rows, "batch_size": args.batch_size,
                "runs": [asdict(r) | {"rows_per_s": r.rows_per_s, "p99_ratio": r.p99_ratio}
                         for r in runs],
                "insert": asdict(ins) | {"bulk_ratio": ins.bulk_ratio,
                                         "app_ratio": ins.app_ratio},
            }, indent=2))  # fmt: skip
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid()",
            (dbname,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        admin.close()
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
