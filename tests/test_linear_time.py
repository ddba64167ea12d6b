"""Lint time grows linearly with the input: long statements, long literals, deep nesting,
many statements, in every dialect. A pattern that backtracks over its input (a 50 KB
DEFAULT literal once took 24 s) shows as a time ratio far above the size ratio.

Each shape is linted at 8 KB and at 64 KB (8x the input): linear work takes ~8x the time,
quadratic ~64x. The bound, 24x, leaves room for a loaded machine and fixed costs, and
catches quadratic growth; an absolute bound per KB catches the rest."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from schemashift.analysis.engine import lint_text

SMALL, LARGE = 8_000, 64_000
MAX_RATIO = 24.0
MAX_MS_PER_KB = 25.0


def _literal(n: int) -> str:
    return "x" * n


SHAPES: dict[str, Callable[[int], str]] = {
    "insert literal": lambda n: f"INSERT INTO t (a) VALUES ('{_literal(n)}');",
    "default literal": lambda n: f"ALTER TABLE t ADD COLUMN c text DEFAULT '{_literal(n)}';",
    "default words": lambda n: "ALTER TABLE t ADD COLUMN c text DEFAULT '" + "ab " * (n // 3) + "';",
    "check literal": lambda n: f"ALTER TABLE t ADD CONSTRAINT c CHECK (a <> '{_literal(n)}');",
    "update literal": lambda n: f"UPDATE t SET a = '{_literal(n)}' WHERE id = 1;",
    "comment": lambda n: f"COMMENT ON COLUMN t.a IS '{_literal(n)}';",
    "long identifier run": lambda n: "SELECT " + "a" * n + ";",
    "deep nesting": lambda n: "SELECT " + "(" * (n // 4) + "1" + ")" * (n // 4) + ";",
    "long IN list": lambda n: "DELETE FROM t WHERE id IN (" + ",".join(
        str(i) for i in range(n // 6)) + ");",
    "many statements": lambda n: "ALTER TABLE t ADD COLUMN c int;\n" * (n // 32),
    "dollar body": lambda n: "DO $$ BEGIN " + "PERFORM 1; " * (n // 11) + "END $$;",
    "line comments": lambda n: "-- " + "z" * n + "\nSELECT 1;",
    "default function word": lambda n: "ALTER TABLE t ADD COLUMN c text DEFAULT "
                                       + "f" * n + "();",
}


def _time(sql: str, dialect: str) -> float:
    best = float("inf")
    for _ in range(2):  # the better of two: a scheduler hiccup is not the code's
        start = time.perf_counter()
        lint_text(sql, dialect=dialect)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_lint_time_is_linear_in_the_input(shape: str, dialect: str) -> None:
    make = SHAPES[shape]
    small, large = make(SMALL), make(LARGE)
    lint_text(make(100), dialect=dialect)  # imports and caches out of the timing
    t_small, t_large = _time(small, dialect), _time(large, dialect)
    ratio = t_large / max(t_small, 1e-4)
    per_kb = 1000 * t_large / (len(large) / 1000)
    assert ratio < MAX_RATIO or t_large < 0.05, (shape, dialect, t_small, t_large, ratio)
    assert per_kb < MAX_MS_PER_KB, (shape, dialect, per_kb)
