"""Verdicts on statements nobody wrote for this test suite.

``tests/corpus/real_world.json`` holds statements copied from public projects' migration
files (source repository, path, line and commit named in each entry), each with a verdict
checked by hand against docs/hazards.md and the server documentation, and for PostgreSQL and
MariaDB re-checked on a real server (tests/corpus/verify_*.py / .sh). See its README.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemashift.analysis.engine import lint_text
from schemashift.sqltext.names import TableName

CORPUS = json.loads((Path(__file__).parent / "corpus" / "real_world.json").read_text())


def test_corpus_is_big_and_sourced() -> None:
    assert len(CORPUS) >= 30
    for entry in CORPUS:
        assert "/" in entry["source"] and entry["why"], entry["id"]


@pytest.mark.parametrize("entry", CORPUS, ids=[e["id"] for e in CORPUS])
def test_real_world_verdict(entry: dict[str, Any]) -> None:
    context = entry.get("context") or ""
    sql = f"{context.rstrip().rstrip(';')};\n{entry['sql']}" if context else entry["sql"]
    report = lint_text(
        sql,
        file="corpus.sql",
        dialect=entry["dialect"],
        server_version=entry["server_version"],
        schema=entry.get("schema"),
    )
    statement = report.statements[-1]
    assert statement.changes, entry["id"]
    change = statement.changes[0]
    expect = entry["expect"]
    got = {
        "kind": change.kind,
        # PostgreSQL keeps the case of quoted names ("EventType"); the corpus is lower-case.
        "table": TableName.parse(change.table, "postgres").name.lower() if change.table
        else change.table,
        "compatibility": change.compatibility.value,
        "lock": change.lock,
        "rewrites_table": change.rewrites_table,
        "scans_table": change.scans_table,
    }
    if change.kind == "raw":  # an unknown statement: only its kind and verdict are promised
        expect = {k: v for k, v in expect.items() if k in ("kind", "compatibility")}
    want = {k: v for k, v in expect.items() if k in got}
    if isinstance(want.get("table"), str):
        want["table"] = want["table"].lower()
    assert {k: got[k] for k in want} == want, f"{entry['id']}: {entry['why']}"
