#!/usr/bin/env python3
"""Start-up time: how long ``schemashift --help`` takes, and which imports cost it.

Run by hand (this is not a pytest test):

    python benchmarks/help_time.py              # 20 runs, top 10 imports
    python benchmarks/help_time.py --runs 50 --top 20

Prints the median and minimum wall time of ``schemashift --help`` in milliseconds (target:
median under 150 ms), the bare interpreter start-up for comparison, and the 10 imports with
the largest cumulative time in ``python -X importtime -c "import schemashift.cli"``: the
place to look when the CLI gets slow to start (a heavy library imported at module level
that only one subcommand needs, say).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_speed import SetupError, find_schemashift

TARGET_MS = 150.0


def time_runs(argv: list[str], runs: int, env: dict[str, str] | None) -> list[float]:
    """Wall times in ms, after one untimed warm-up run."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        out.append((time.perf_counter() - start) * 1000)
    return out


def import_times(module: str, env: dict[str, str] | None) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, name with its nesting indent) from -X importtime."""
    argv = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    subprocess.run(argv, capture_output=True, env=env)  # warm-up: write .pyc files
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
        raise SetupError(f"import {module} failed:\n" + "\n".join(tail[-10:]))
    rows = []
    for line in proc.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|", 2)
        rows.append((int(self_us), int(cum_us), name.rstrip()[1:]))  # keep the indent
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=20, help="timed runs of schemashift --help")
    p.add_argument("--top", type=int, default=10, help="imports to list")
    p.add_argument("--schemashift", metavar="CMD", help="command that runs schemashift")
    p.add_argument(
        "--strict",
        action="store_true",
        help=f"exit 1 when the median is {TARGET_MS:.0f} ms or more",
    )
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be positive")

    try:
        tool = find_schemashift(args.schemashift, hint="")
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = tool.argv[:-3]  # without "lint --format json"

    help_ms = time_runs([*base, "--help"], args.runs, tool.env)
    bare_ms = time_runs([sys.executable, "-c", "pass"], args.runs, None)
    med = statistics.median(help_ms)
    verdict = "met" if med < TARGET_MS else "MISSED"
    print(f"{' '.join(base)} --help, {args.runs} runs after one warm-up\n")
    print(f"{'':24}{'median':>10}{'min':>10}")
    print(f"{'schemashift --help':24}{med:>8.1f}ms{min(help_ms):>8.1f}ms")
    print(
        f"{'python -c pass':24}{statistics.median(bare_ms):>8.1f}ms{min(bare_ms):>8.1f}ms"
        "   (interpreter start-up, for comparison)"
    )
    print(f"\ntarget: median < {TARGET_MS:.0f} ms: {verdict}\n")

    try:
        rows = import_times("schemashift.cli", tool.env)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = max((cum for _, cum, _ in rows), default=0)
    print(
        f'python -X importtime -c "import schemashift.cli": {total / 1000:.1f} ms, '
        f"{len(rows)} modules imported; top {args.top} by cumulative time:\n"
    )
    print(f"{'cumulative':>11}{'self':>9}  module (indent = import depth)")
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    for self_us, cum_us, name in sorted(rows, key=lambda r: r[1], reverse=True)[: args.top]:
        top_level = name.strip().split(".")[0]
        third_party = top_level not in stdlib and top_level != "schemashift"
        tag = "  [3rd party]" if third_party else ""
        print(f"{cum_us / 1000:>9.1f}ms{self_us / 1000:>7.1f}ms  {name}{tag}")

    if args.strict and med >= TARGET_MS:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
