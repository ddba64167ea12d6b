"""The JSON document of docs/design.md §6, byte for byte, on files checked into tests/golden/.

Regenerate after an intended change with: SCHEMASHIFT_UPDATE_GOLDEN=1 pytest tests/test_golden.py
and review the diff like code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent
CASES = sorted(p.name for p in GOLDEN.glob("*.sql"))


def run_json(*args: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "schemashift", "lint", "--format", "json", *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("name", CASES)
def test_golden_json(name: str) -> None:
    code, doc = run_json(f"tests/golden/{name}", "--dialect", "postgres", "--server-version", "15")
    expected_path = GOLDEN / name.replace(".sql", ".json")
    if os.environ.get("SCHEMASHIFT_UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(expected_path.read_text())
    assert doc == expected
    assert code == (1 if doc["summary"]["errors"] else 0)  # type: ignore[index]


def test_contract_shape() -> None:
    """The fields and types docs/design.md §6 promises, independent of the golden values."""
    _, doc = run_json("tests/golden/two_statements.sql")
    assert doc["version"] == 1 and doc["dialect"] == "postgres"
    statements = doc["statements"]
    assert isinstance(statements, list)
    assert [s["line"] for s in statements] == [2, 4, 5]  # 1-based, source order
    for s in statements:
        assert (
            list(s)[:3] == ["file", "line", "sql"]
            and s["file"] == "tests/golden/two_statements.sql"
        )
        for c in s["changes"]:
            assert {"kind", "table", "column", "compatibility", "lock", "lock_class",
                    "rewrites_table", "scans_table", "data_dependent", "phase"} <= set(c)  # fmt: skip
            assert c["compatibility"] in ("compatible", "breaking", "unknown")
            assert c["lock_class"] in ("none", "blocks_writes", "blocks_reads_and_writes")
            assert c["phase"] in ("expand", "backfill", "verify", "contract")
        for f in s["findings"]:
            assert set(f) == {"rule", "severity", "message", "fix"}
            assert f["severity"] in ("error", "warning", "info") and f["rule"].startswith("SS")
    rename = statements[1]
    assert rename["changes"][0]["kind"] == "rename_column"
    assert rename["changes"][0]["compatibility"] == "breaking"
    assert rename["changes"][0]["lock"] == "ACCESS EXCLUSIVE"
    assert [f["rule"] for f in rename["findings"]] == ["SS101"]
    assert doc["summary"] == {
        "statements": 3,
        "breaking": 1,
        "unknown": 0,
        "errors": 1,
        "warnings": 0,
    }


def test_json_rendering_is_the_documents_own_dump_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The two-core encoder must give exactly json.dumps(report.to_json()) (without orjson;
    with it, the same document, compact)."""
    from schemashift import parallel
    from schemashift.analysis.engine import lint_text
    from schemashift.report import json_output
    from schemashift.report.json_output import render_json

    report = lint_text("ALTER TABLE t ADD COLUMN c int;\n" * 3, file="f.sql")
    if json_output._orjson() is not None:
        assert json.loads(render_json(report)) == json.loads(json.dumps(report.to_json()))
    monkeypatch.setattr(json_output, "_orjson", lambda: None)  # the stdlib path

    sql = "".join(
        f"ALTER TABLE t{i} ADD COLUMN c{i} int;\nCREATE INDEX i{i} ON t{i} (c{i});\n"
        for i in range(60)
    )
    report = lint_text(sql, file="many.sql")
    expected = json.dumps(report.to_json(), ensure_ascii=False)
    assert render_json(report) == expected  # below the fork threshold
    monkeypatch.setattr(parallel, "MIN_ITEMS", 10)
    assert render_json(report) == expected  # forked: second half encoded by a child
    empty = lint_text("", file="empty.sql")
    assert render_json(empty) == json.dumps(empty.to_json(), ensure_ascii=False)


def test_two_core_pipeline_matches_the_one_process_report() -> None:
    """A file split across two processes (the state carried over the first part, end-of-file
    findings sent back) gives exactly the one-process report, wherever the split falls."""
    from schemashift.analysis.engine import Source
    from schemashift.analysis.pipeline import LintPipeline
    from schemashift.config import Config
    from schemashift.report.json_output import render_json

    sql = (
        "CREATE TABLE t0 (id int PRIMARY KEY);\n"
        "ALTER TABLE t ADD CONSTRAINT early FOREIGN KEY (a) REFERENCES t0 (id) NOT VALID;\n"
        "ALTER TABLE t ADD CONSTRAINT late FOREIGN KEY (b) REFERENCES t0 (id) NOT VALID;\n"
        + "".join(
            f"ALTER TABLE t{i} ADD COLUMN c int;\nCREATE INDEX i{i} ON t0 (id);\n"
            for i in range(25)
        )
        # a transaction that spans the point where the file is split between processes
        + "BEGIN;\n"
        + "".join(f"ALTER TABLE u{i} RENAME COLUMN a TO b;\n" for i in range(30))
        + "COMMIT;\n"
        + "ALTER TABLE t VALIDATE CONSTRAINT late;\n"
    )
    sources = [Source("a.sql", sql), Source("b.sql", "ALTER TABLE x RENAME TO y;")]
    serial = LintPipeline(Config(), parallel=False)
    expected = render_json(serial.run(serial.inputs(sources)))
    assert sum(f["rule"] == "SS502" for s in json.loads(expected)["statements"]
               for f in s["findings"]) == 29  # strong locks held across the split
    assert '"rule":"SS307"' in expected.replace('": "', '":"') and "early" in expected
    for split_at in (1, 3, 40, 70, 85):  # before, inside and after the transaction
        two = LintPipeline(Config(), parallel=True, split_at=split_at)
        report = two.run(two.inputs(sources[:1]))
        assert two.last_split == split_at
        assert render_json(report) == render_json(serial.run(serial.inputs(sources[:1])))
    two = LintPipeline(Config(), parallel=True, split_at=50)
    assert render_json(two.run(two.inputs(sources))) == expected
