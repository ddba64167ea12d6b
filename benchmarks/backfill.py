#!/usr/bin/env python3
"""Backfill throughput and its cost to a live app, against one bulk UPDATE; sync trigger cost.

Run by hand (this is not a pytest test), from the repository root:

    .venv/bin/python benchmarks/backfill.py --repeats 3
    .venv/bin/python benchmarks/backfill.py --rows 200000 --with-trigger --json out.json

Needs a PostgreSQL login that may CREATE DATABASE: ``SCHEMASHIFT_BENCH_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``). The script creates its own
database ``ss_bench_<random>`` and drops it at the end.

What it measures, on a table of ``--rows`` rows (default 1,000,000; ``id bigserial``
primary key, ``a int``, ``b int`` to fill from ``a``, a 41-byte text payload), loaded
afresh (``VACUUM ANALYZE``, ``CHECKPOINT``) before each of (a) and (b):

- the app writer: a thread with its own autocommit connection doing single-row writes at
  ``--writer-rate`` a second, alternately ``UPDATE … SET hits = hits + 1 WHERE id =
  <random>`` and ``INSERT``. The updated ids are uniform over the whole key range as
  loaded (1..``--rows``): rows the backfill has done, rows of the batch it is updating
  (those wait for its commit) and rows it is about to touch; the inserts add keys past
  the end. It runs ``--idle-seconds`` alone first (the idle baseline), then on through (a)
  or (b); its p50/p99 latency and errors are taken over each window;
- (a) one bulk ``UPDATE bench SET b = a`` → rows/s;
- (b) ``run_backfill`` (``b = a`` where ``b IS DISTINCT FROM a``, batch ``--batch-size``,
  default 5000 as the CLI, the largest it may use; ``--batch-time-ms``, the time budget
  per batch, and ``--pause-ratio``, the pause after a batch in multiples of its duration,
  default run_backfill's) → rows/s; then the rows are checked one by one;
- (c) insert throughput into a table with and without the sync trigger of
  ``schemashift.sqltext.triggers.sync_trigger_sql`` (old → new): a bulk ``INSERT …
  SELECT generate_series`` (the trigger's worst case: nothing else per row) and app-style
  single-row ``INSERT`` statements (pipelined ``executemany``, 1000 per transaction),
  alternating ``--repeats`` times, medians.

(a) and (b) run in a child process, as a migration does in production: sharing the
writer's process (and GIL) alone adds ~2 ms to the writer's median. ``--repeats N`` (default
3) measures (a) and (b) N times each, alternating, and (c) N times each way, and reports the
median of the N runs for every figure (each run's figures are printed as it ends).

Targets: backfill ≥ 50% of the bulk UPDATE's rows/s; the writer's p99 during the backfill
≤ 2x its idle p99, with 0 errors; insert throughput without the trigger ≤ 1.5x that with
it. ``--with-trigger`` repeats (a) and (b) with the sync trigger installed on the table,
as it is during a real backfill. ``--rows-per-second`` and ``--[no-]synchronous-commit`` pass
on to run_backfill; ``--only-backfill`` skips (c). ``--strict`` exits 1 when a target is
missed. ``--calibrate SECONDS`` adds, to each run, the writer's latency while one server
backend spins on a CPU for that long writing nothing (a PL/pgSQL loop): the cost of any
CPU-bound work beside the writer on this machine, the floor under the backfill's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
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
from schemashift.execute.backfill.core import BackfillOptions  # noqa: E402
from schemashift.execute.backfill.postgres import POSTGRES_BATCH_TIME_MS  # noqa: E402
from schemashift.sqltext.triggers import sync_trigger_sql  # noqa: E402

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
from schemashift.phases.plan import Backfill
conninfo, mode, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
conn = psycopg.connect(conninfo, autocommit=True)
t0 = time.monotonic()
sizes = []
if mode == "bulk":
    rows = conn.execute("UPDATE bench SET b = a").rowcount
    batches = 1
elif mode == "cpu":  # one backend busy for a while, writing nothing: the floor (--calibrate)
    conn.execute("DO $$ DECLARE t timestamptz := clock_timestamp(); BEGIN "
                 "WHILE clock_timestamp() - t < make_interval(secs => %s) LOOP END LOOP; END $$"
                 % float(options["cpu_seconds"]))
    rows, batches = 0, 0
else:
    result = run_backfill(
        lambda: psycopg.connect(conninfo),
        Backfill("bench", "b = a", "b IS DISTINCT FROM a", key="id"),
        migration="bench", step=1, **options,
    )
    rows, batches, sizes = result.total_rows_done, result.batches, result.sizes
t1 = time.monotonic()
print(json.dumps({"t0": t0, "t1": t1, "rows": rows, "batches": batches, "sizes": sizes}))
"""


def migrate(conninfo: str, mode: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run the bulk UPDATE or the backfill in a process of its own, as in production: the
    writer thread must not share a GIL with it (that alone adds ~2 ms to every write)."""
    proc = subprocess.run(
        [sys.executable, "-c", MIGRATION_CHILD, conninfo, mode, json.dumps(options)],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def backfill_options(args: argparse.Namespace, what: str = "backfill") -> dict[str, Any]:
    if what == "cpu":
        return {"cpu_seconds": args.calibrate}
    options: dict[str, Any] = {"batch_size": args.batch_size}
    if args.batch_time_ms is not None:
        options["batch_time_ms"] = args.batch_time_ms
    if args.pause_ratio is not None:
        options["pause_ratio"] = args.pause_ratio
    if args.rows_per_second is not None:
        options["rows_per_second"] = args.rows_per_second
    if args.synchronous_commit is not None:
        options["synchronous_commit"] = args.synchronous_commit
    return options


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
    sizes: list[tuple[int, int]] = field(default_factory=list)  # backfill: (size, batches)

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
    writer: Writer | None = None
    try:
        load(conn, args.rows, trigger)
        writer = Writer(conninfo, "bench", args.rows, args.writer_rate, args.seed).start()
        time.sleep(0.5)  # warm-up, not counted
        idle_from = time.monotonic()
        time.sleep(args.idle_seconds)
        done = migrate(conninfo, what, backfill_options(args, what))
        time.sleep(0.5)
        writer.stop()
        wrong = conn.execute(
            "SELECT count(*) FROM bench WHERE id <= %s AND b IS DISTINCT FROM a", (args.rows,)
        ).fetchone()
    finally:
        if writer is not None:
            writer.stop()
        conn.close()
    run = Run(
        what, trigger, done["t1"] - done["t0"], int(done["rows"]), int(done["batches"]),
        writer.stats(idle_from, done["t0"]), writer.stats(done["t0"], done["t1"]),
        int(wrong[0]) if wrong else -1, [(int(a), int(b)) for a, b in done["sizes"]],
    )  # fmt: skip
    sizes = f", sizes {size_summary(run.sizes)}" if run.sizes else ""
    print(f"  {what}{' (sync trigger on)' if trigger else ''}: {run.seconds:.2f} s, "
          f"{run.rows_per_s:,.0f} rows/s, {run.batches} batches{sizes}; writer p99 idle "
          f"{run.writer_idle.p99_ms:.2f} ms, during {run.writer_during.p99_ms:.2f} ms "
          f"({run.p99_ratio:.2f}x), {run.writer_during.errors} errors", flush=True)  # fmt: skip
    return run


def size_summary(sizes: list[tuple[int, int]]) -> str:
    """Batch sizes as "5000x180" runs, the first and last few when there are many."""
    runs = [f"{size}x{count}" for size, count in sizes]
    return " ".join(runs if len(runs) <= 8 else [*runs[:4], "…", *runs[-3:]])


@dataclass
class InsertCost:
    bulk_rows: int
    bulk_without_rows_per_s: float  # medians over --repeats
    bulk_with_rows_per_s: float
    app_rows: int
    app_without_rows_per_s: float
    app_with_rows_per_s: float
    bulk_ratios: list[float] = field(default_factory=list)  # each run's
    app_ratios: list[float] = field(default_factory=list)

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
        [a / b for a, b in zip(results["bulk", False], results["bulk", True], strict=True)],
        [a / b for a, b in zip(results["app", False], results["app", True], strict=True)],
    )  # fmt: skip


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def median_stats(stats: list[WriterStats]) -> WriterStats:
    """Each figure the median of the runs' (of a single run: that run's)."""
    med = statistics.median
    return WriterStats(
        round(med(s.ops for s in stats)), round(med(s.due for s in stats)),
        round(med(s.errors for s in stats)), med(s.p50_ms for s in stats),
        med(s.p99_ms for s in stats), med(s.max_ms for s in stats),
        [e for s in stats for e in s.error_examples][:3],
    )  # fmt: skip


def each(values: list[float], fmt: str) -> str:
    """The runs' values, when there are several: " (runs: a, b, c)"."""
    return "" if len(values) < 2 else " (runs: " + ", ".join(format(v, fmt) for v in values) + ")"


def report(runs: list[Run], ins: InsertCost, args: Any) -> tuple[bool, dict[str, Any]]:
    """Print the table of medians (each run's figures in brackets); return whether every
    target is met, and the medians (for --json)."""
    rows: list[tuple[str, str, str, str]] = []
    medians: dict[str, Any] = {}
    all_met = True
    med = statistics.median

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
        bulks = [r for r in runs if r.trigger == trigger and r.what == "bulk"]
        bfs = [r for r in runs if r.trigger == trigger and r.what == "backfill"]
        shares = [bf.rows_per_s / bulk.rows_per_s for bulk, bf in zip(bulks, bfs, strict=True)]
        bulk_rate = med(r.rows_per_s for r in bulks)
        bf_rate = med(r.rows_per_s for r in bfs)
        share, ratio = med(shares), med(r.p99_ratio for r in bfs)
        bulk_ratio = med(r.p99_ratio for r in bulks)
        wrong = max(r.wrong_rows for r in bfs)
        during = median_stats([r.writer_during for r in bfs])
        budget = (f"{POSTGRES_BATCH_TIME_MS:g} ms (default)" if args.batch_time_ms is None
                  else f"{args.batch_time_ms:g} ms")  # fmt: skip
        sync = (BackfillOptions().synchronous_commit if args.synchronous_commit is None
                else args.synchronous_commit)  # fmt: skip
        budget += f", synchronous_commit {'on' if sync else 'off'}"
        if args.pause_ratio is not None:
            budget += f", pause {args.pause_ratio:g}x"
        add(f"bulk UPDATE{tag}", f"{bulk_rate:,.0f} rows/s ({med(r.seconds for r in bulks):.2f} s)"
            + each([r.rows_per_s for r in bulks], ",.0f"))  # fmt: skip
        add(f"backfill, batch <= {args.batch_size}, budget {budget}{tag}",
            f"{bf_rate:,.0f} rows/s ({med(r.seconds for r in bfs):.2f} s, "
            f"{round(med(r.batches for r in bfs))} batches) = {share:.0%} of bulk"
            + each(shares, ".0%"), ">= 50% of bulk", share >= 0.5)  # fmt: skip
        add("  rows wrong after it", f"{wrong}", "0", wrong == 0)
        idle_bulk = median_stats([r.writer_idle for r in bulks])
        add("  writer idle, before the bulk UPDATE", w(idle_bulk))
        during_bulk = median_stats([r.writer_during for r in bulks])
        add("  writer during the bulk UPDATE", w(during_bulk) + f"; p99 = {bulk_ratio:.1f}x idle")
        add("  writer idle, before the backfill", w(median_stats([r.writer_idle for r in bfs])))
        add("  writer during the backfill",
            w(during) + f"; p99 = {ratio:.2f}x idle" + each([r.p99_ratio for r in bfs], ".2f"),
            "p99 <= 2x idle, 0 errors", ratio <= 2.0 and during.errors == 0)  # fmt: skip
        cpus = [r for r in runs if r.trigger == trigger and r.what == "cpu"]
        if cpus:
            add("  writer during a server query busy on one CPU, writing nothing "
                f"({args.calibrate:g} s; the floor on this machine)",
                w(median_stats([r.writer_during for r in cpus]))
                + f"; p99 = {med(r.p99_ratio for r in cpus):.2f}x idle"
                + each([r.p99_ratio for r in cpus], ".2f"))  # fmt: skip
        medians[f"trigger={trigger}"] = {
            "bulk_rows_per_s": bulk_rate, "backfill_rows_per_s": bf_rate, "share": share,
            "writer_p99_ratio": ratio, "writer_p99_idle_ms": med(r.writer_idle.p99_ms for r in bfs),
            "writer_p99_during_ms": during.p99_ms, "writer_errors": during.errors,
        }  # fmt: skip
    if not ins.bulk_rows:  # --only-backfill
        print_table(rows, args)
        return all_met, medians
    add(f"insert, bulk INSERT…SELECT of {ins.bulk_rows:,}",
        f"{ins.bulk_without_rows_per_s:,.0f} rows/s without trigger, "
        f"{ins.bulk_with_rows_per_s:,.0f} with: cost {ins.bulk_ratio:.2f}x"
        + each(ins.bulk_ratios, ".2f"), "<= 1.5x", ins.bulk_ratio <= 1.5)  # fmt: skip
    add(f"insert, app-style single rows ({ins.app_rows:,})",
        f"{ins.app_without_rows_per_s:,.0f} rows/s without trigger, "
        f"{ins.app_with_rows_per_s:,.0f} with: cost {ins.app_ratio:.2f}x"
        + each(ins.app_ratios, ".2f"), "<= 1.5x", ins.app_ratio <= 1.5)  # fmt: skip
    medians["insert"] = {"bulk_ratio": ins.bulk_ratio, "app_ratio": ins.app_ratio}
    print_table(rows, args)
    return all_met, medians


def print_table(rows: list[tuple[str, str, str, str]], args: Any) -> None:
    head = ("figure" + (f" (median of {args.repeats} runs)" if args.repeats > 1 else ""),
            "result", "target", "")  # fmt: skip
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(4)]
    print()
    for r in (head, *rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=5000,
                   help="the backfill's first and largest batch")  # fmt: skip
    p.add_argument("--batch-time-ms", type=float, default=None,
                   help="the backfill's time budget a batch (default: run_backfill's)")  # fmt: skip
    p.add_argument("--pause-ratio", type=float, default=None,
                   help="the backfill's pause after a batch, times the batch's duration "
                        "(default: run_backfill's)")  # fmt: skip
    p.add_argument("--rows-per-second", type=float, default=None,
                   help="throttle the backfill (default: none)")  # fmt: skip
    p.add_argument("--synchronous-commit", action=argparse.BooleanOptionalAction, default=None,
                   help="the backfill's batches commit with synchronous_commit on or off "
                        "(default: run_backfill's, on)")  # fmt: skip
    p.add_argument("--writer-rate", type=float, default=200.0, help="writer ops a second")
    p.add_argument("--idle-seconds", type=float, default=5.0)
    p.add_argument("--insert-rows", type=int, default=500_000, help="bulk insert rows")
    p.add_argument("--app-rows", type=int, default=50_000, help="single-row inserts")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of every measurement; the figures are their medians")  # fmt: skip
    p.add_argument("--only-backfill", action="store_true",
                   help="skip the insert cost of the sync trigger (c)")  # fmt: skip
    p.add_argument("--with-trigger", action="store_true",
                   help="also compare with the sync trigger on the table")  # fmt: skip
    p.add_argument("--calibrate", type=float, default=None, metavar="SECONDS",
                   help="also measure the writer while one server backend spins on a CPU for "
                        "SECONDS writing nothing: what any CPU-bound work costs the writer "
                        "on this machine")  # fmt: skip
    p.add_argument("--seed", type=int, default=20261127)
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")

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
              f"{dbname}, writer {args.writer_rate:.0f} ops/s, {args.repeats} run(s) of each",
              flush=True)  # fmt: skip
        runs = []
        for n in range(args.repeats):
            for trigger in (False, True) if args.with_trigger else (False,):
                print(f"run {n + 1}/{args.repeats}: bulk UPDATE vs backfill"
                      f"{' (sync trigger on)' if trigger else ''} …", flush=True)  # fmt: skip
                for what in ("bulk", "backfill"):
                    runs.append(measure(conninfo, args, what, trigger))
                if args.calibrate and not trigger:
                    runs.append(measure(conninfo, args, "cpu", trigger))
        if args.only_backfill:
            ins = InsertCost(0, math.nan, math.nan, 0, math.nan, math.nan)
        else:
            print("insert cost of the sync trigger …", flush=True)
            ins = insert_cost(conninfo, args)
        met, medians = report(runs, ins, args)
        if args.json:
            Path(args.json).write_text(json.dumps({
                "rows": args.rows, "batch_size": args.batch_size,
                "batch_time_ms": args.batch_time_ms, "pause_ratio": args.pause_ratio,
                "repeats": args.repeats,
                "medians": medians,
                "runs": [asdict(r) | {"rows_per_s": r.rows_per_s, "p99_ratio": r.p99_ratio}
                         for r in runs],
                "insert": asdict(ins) | {"bulk_ratio": ins.bulk_ratio,
                                         "app_ratio": ins.app_ratio},
            }, indent=2))  # fmt: skip
    finally:
        with contextlib.suppress(psycopg.Error):
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
