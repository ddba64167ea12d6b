"""One lint pipeline for every output format: same counts, same exit code, and the two-core
path gives exactly the one-process result."""

from __future__ import annotations

import collections
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generated(statements: int) -> str:
    spec = importlib.util.spec_from_file_location("lint_speed", ROOT / "benchmarks/lint_speed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lint_speed"] = module
    spec.loader.exec_module(module)
    migration, _ = module.generate(statements, 20_240_601)
    return str(migration)


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemashift", "lint", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip


def _counts(fmt: str, out: str) -> tuple[int, int]:
    """(errors, warnings) as the format states them."""
    if fmt == "json":
        summary = json.loads(out)["summary"]
        return summary["errors"], summary["warnings"]
    if fmt == "sarif":
        levels = collections.Counter(r.get("level") for r in json.loads(out)["runs"][0]["results"])
        return levels["error"], levels["warning"]
    if fmt == "github":
        return out.count("\n::error "), out.count("\n::warning ")
    m = re.search(r"(\d+) errors?, (\d+) warnings?", out.strip().splitlines()[-1])
    assert m, out[-300:]
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("target", ["examples", "generated"])
def test_every_format_agrees(target: str, tmp_path: Path) -> None:
    if target == "examples":
        paths = ["examples/sql"]
    else:
        big = tmp_path / "big.sql"
        big.write_text(_generated(5000), encoding="utf-8")
        paths = [str(big)]
    results = {}
    for fmt in ("text", "json", "sarif", "github"):
        for fail_on in ("error", "breaking"):
            proc = _run([*paths, "--format", fmt, "--fail-on", fail_on])
            assert proc.returncode in (0, 1), proc.stderr
            out = "\n" + proc.stdout
            results[(fmt, fail_on)] = (_counts(fmt, out), proc.returncode)
    assert len({v for (_, f), v in results.items() if f == "error"}) == 1, results
    assert len({v for (_, f), v in results.items() if f == "breaking"}) == 1, results
    errors, warnings = results[("json", "error")][0]
    assert errors > 0 and warnings > 0


def test_two_core_and_one_process_give_identical_json(tmp_path: Path) -> None:
    from schemashift.analysis.engine import Source
    from schemashift.analysis.pipeline import LintPipeline
    from schemashift.config import Config
    from schemashift.report.json_output import render_json

    sources = [Source("big.sql", _generated(6000)), Source("small.sql", "DROP TABLE x;")]
    one = LintPipeline(Config(), parallel=False)
    expected = render_json(one.run(one.inputs(sources)))
    # The processes meet wherever they meet (or the child never claims): same document.
    two = LintPipeline(Config(), parallel=True)
    assert render_json(two.run(two.inputs(sources))) == expected
    for split_at in (1, 2999, 5999):
        fixed = LintPipeline(Config(), parallel=True, split_at=split_at)
        assert render_json(fixed.run(fixed.inputs(sources[:1]))) == render_json(
            one.run(one.inputs(sources[:1]))
        )
        assert fixed.last_split == split_at


def test_cli_json_is_the_same_with_and_without_a_second_core(tmp_path: Path) -> None:
    import os

    big = tmp_path / "big.sql"
    big.write_text(_generated(5000), encoding="utf-8")
    forked = _run([str(big), "--format", "json"])
    env = dict(os.environ, SCHEMASHIFT_NO_FORK="1")
    single = _run([str(big), "--format", "json"], env=env)
    assert forked.stdout == single.stdout and forked.returncode == single.returncode == 1


def test_the_core_imports_no_outer_layer() -> None:
    """schemashift.analysis (and the rest of the pure core) never imports alembic, execute,
    cli or report: Alembic history linting lives in schemashift.alembic.lint."""
    code = (
        "import sys, schemashift.analysis.pipeline, schemashift.analysis.engine\n"
        "bad = [m for m in sys.modules if m.startswith(('schemashift.alembic', "
        "'schemashift.execute', 'schemashift.cli', 'schemashift.report'))]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
