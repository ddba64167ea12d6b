"""A directory of ordered .sql migrations is one history: each file sees the column types
the earlier ones declared (a type change is priced on the real old type), while the tables
they created stay existing ones (no lock finding is waived)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_json(*paths: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run([sys.executable, "-m", "schemashift", "lint", "--format", "json",
                           *paths], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_examples_sql_as_one_history_gives_005_no_narrowing() -> None:
    doc = lint_json("examples/sql")
    (amount,) = [s for s in doc["statements"] if s["file"].endswith("005_order_amount_decimal.sql")
                 and any(c["kind"] == "alter_column_type" for c in s["changes"])]  # fmt: skip
    assert [c["compatibility"] for c in amount["changes"]] == ["compatible"]
    rules = [f["rule"] for f in amount["findings"]]
    assert "SS106" not in rules  # narrowing-type-change
    assert "SS205" in rules and "from integer to numeric(12,2)" in " ".join(
        f["message"] for f in amount["findings"])  # fmt: skip
    # alone, 005 knows nothing of 001: the old type is unknown
    alone = lint_json("examples/sql/005_order_amount_decimal.sql")
    assert any(f["rule"] == "SS106" for s in alone["statements"] for f in s["findings"])


def test_tables_of_earlier_files_are_not_new(tmp_path: Path) -> None:
    (tmp_path / "001_create.sql").write_text("CREATE TABLE t (id bigint PRIMARY KEY, a int);\n")
    (tmp_path / "002_index.sql").write_text("CREATE INDEX ix_t_a ON t (a);\n")
    doc = lint_json(str(tmp_path))
    (index,) = [s for s in doc["statements"] if s["file"].endswith("002_index.sql")]
    assert any(f["rule"] == "SS401" for f in index["findings"])  # blocking CREATE INDEX


def test_a_lone_file_is_read_once(tmp_path: Path) -> None:
    """The history's carried column types come from re-reading a file only when a later
    file of its folder follows (a 20,000-statement file was parsed twice: 15% of lint)."""
    from schemashift.analysis.engine import Source
    from schemashift.analysis.pipeline import LintPipeline
    from schemashift.config import Config

    pipeline = LintPipeline(Config())
    calls: list[int] = []
    real = pipeline.linter.known_column_types
    pipeline.linter.known_column_types = lambda text, base=None: (  # type: ignore[method-assign]
        calls.append(1) or real(text, base))
    one = [Source(str(tmp_path / "001.sql"), "CREATE TABLE t (a int);")]
    assert len(list(pipeline.inputs(one))) == 1 and calls == []
    two = [*one, Source(str(tmp_path / "002.sql"), "ALTER TABLE t ALTER COLUMN a TYPE bigint;")]
    items = list(pipeline.inputs(two))
    assert calls == [1] and items[1].column_types == {("t", "a"): "int"}
