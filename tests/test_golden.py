"""The JSON document of DESIGN §6, byte for byte, on files checked into tests/golden/.

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
    """The fields and types DESIGN §6 promises, independent of the golden values."""
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
