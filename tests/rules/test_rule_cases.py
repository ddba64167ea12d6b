"""Every rule's cases, from its data file ``tests/rules/SSNNN.toml``: SQL where it fires and
near misses where it must stay quiet.

A ``[[fires]]`` case names the statement the rule reports (``at``, 0 by default: the index
in the file); a ``[[quiet]]`` case must get no finding of the rule anywhere. ``dialect``
defaults to postgres and ``version`` to 15. Multi-statement SQL is written one statement per
line (finishers such as SS307 report by line). A case whose expectation is right but the
code is not carries ``bug = "..."``: it runs as a strict xfail, so fixing the bug turns it
into a failure that asks for the marker to go.

The rendered finding (severity, message and fix) of every firing case is snapshotted in
``tests/rules/snapshots/SSNNN.txt``; a change fails with a diff. After a deliberate change
regenerate them: ``SCHEMASHIFT_UPDATE_SNAPSHOTS=1 python -m pytest tests/rules``.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schemashift.analysis.engine import lint_text
from schemashift.model import LintReport
from schemashift.rules.registry import all_rules

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES_DIR = Path(__file__).resolve().parent
SNAPSHOTS = CASES_DIR / "snapshots"
UPDATE = os.environ.get("SCHEMASHIFT_UPDATE_SNAPSHOTS") == "1"
KEYS = {"sql", "dialect", "version", "at", "bug", "note", "schema"}


@dataclass(frozen=True)
class Case:
    rule: str
    name: str  # "SS101-fires2"
    sql: str
    dialect: str = "postgres"
    version: str = "15"
    fires_at: int | None = None  # index of the statement the rule fires on; None: nowhere
    bug: str | None = None  # expectation is right, the code is not (strict xfail)
    note: str = ""
    schema: str | None = None  # DDL of the tables as they exist before (lint --schema)


def load_cases(path: Path) -> list[Case]:
    rule = path.stem
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"fires", "quiet"}
    assert not unknown, f"{path.name}: unknown tables {sorted(unknown)} (use [[fires]], [[quiet]])"
    cases = []
    for verb in ("fires", "quiet"):
        for n, entry in enumerate(data.get(verb, []), 1):
            assert set(entry) <= KEYS, f"{path.name} {verb} {n}: unknown keys {set(entry) - KEYS}"
            assert verb == "fires" or "at" not in entry, (
                f"{path.name} quiet {n}: 'at' in a quiet case"
            )
            cases.append(Case(
                rule, f"{rule}-{verb}{n}", entry["sql"], entry.get("dialect", "postgres"),
                str(entry.get("version", "15")),
                entry.get("at", 0) if verb == "fires" else None, entry.get("bug"),
                entry.get("note", ""), entry.get("schema"),
            ))  # fmt: skip
    return cases


def case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("SS[0-9][0-9][0-9].toml"))


ALL_CASES = [case for path in case_files() for case in load_cases(path)]


def _params() -> list[Any]:
    return [
        pytest.param(case, id=case.name,
                     marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [])
        for case in ALL_CASES
    ]  # fmt: skip


def _lint(case: Case) -> LintReport:
    return lint_text(case.sql, file="t.sql", dialect=case.dialect, server_version=case.version,
                     schema=case.schema)  # fmt: skip


def _describe(report: LintReport) -> str:
    return "\n".join(
        f"  [{i}] {s.statement.sql!r}: {[f.rule for f in s.findings]}"
        for i, s in enumerate(report.statements)
    )


@pytest.mark.parametrize("case", _params())
def test_rule_case(case: Case) -> None:
    report = _lint(case)
    hits = [
        i for i, s in enumerate(report.statements) if any(f.rule == case.rule for f in s.findings)
    ]
    expected = [] if case.fires_at is None else [case.fires_at]
    assert hits == expected, f"{case.name} on {case.dialect} {case.version}:\n{_describe(report)}"
    for statement in report.statements:
        for finding in statement.findings:
            if finding.rule == case.rule:
                assert finding.message.strip(), finding
                assert finding.fix.strip(), finding


def render_snapshot(rule_id: str, cases: list[Case]) -> str:
    """What the rule says on each of its firing cases: severity, message and fix."""
    out = [f"# {rule_id}: the findings of its firing cases (tests/rules/{rule_id}.toml)."]
    for case in cases:
        if case.fires_at is None or case.bug:
            continue
        out += ["", f"## {case.name} ({case.dialect} {case.version}, statement {case.fires_at})"]
        out += [f"| {line}" for line in case.sql.splitlines()]
        report = _lint(case)
        for finding in report.statements[case.fires_at].findings:
            if finding.rule == case.rule:
                out += [f"{finding.severity.value} {finding.rule}: {finding.message}",
                        f"fix: {finding.fix}"]  # fmt: skip
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_rule_snapshot(path: Path) -> None:
    rule_id = path.stem
    got = render_snapshot(rule_id, load_cases(path))
    snapshot = SNAPSHOTS / f"{rule_id}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        if not snapshot.is_file() or snapshot.read_text(encoding="utf-8") != got:
            snapshot.write_text(got, encoding="utf-8")
        return
    assert snapshot.is_file(), (
        f"no snapshot {snapshot.relative_to(CASES_DIR.parent.parent)}: "
        "run SCHEMASHIFT_UPDATE_SNAPSHOTS=1 python -m pytest tests/rules"
    )
    want = snapshot.read_text(encoding="utf-8")
    if got != want:
        diff = "".join(difflib.unified_diff(
            want.splitlines(keepends=True), got.splitlines(keepends=True),
            f"{snapshot.name} (snapshot)", f"{snapshot.name} (now)",
        ))  # fmt: skip
        pytest.fail(f"{rule_id}'s findings changed (if meant: SCHEMASHIFT_UPDATE_SNAPSHOTS=1 "
                    f"python -m pytest tests/rules):\n{diff}", pytrace=False)  # fmt: skip


def test_no_stale_snapshot() -> None:
    stale = {p.stem for p in SNAPSHOTS.glob("*.txt")} - {p.stem for p in case_files()}
    assert not stale, f"snapshots without a cases file: {sorted(stale)}"


def test_every_rule_has_a_firing_case_and_a_near_miss() -> None:
    rules = {r.id: r for r in all_rules()}
    files = {p.stem for p in case_files()}
    assert files <= set(rules), f"cases files of unknown rules: {sorted(files - set(rules))}"
    missing = [
        f"{rule_id}: no tests/rules/{rule_id}.toml" for rule_id in sorted(set(rules) - files)
    ]
    for rule_id, rule in sorted(rules.items()):
        working = [c for c in ALL_CASES if c.rule == rule_id and c.bug is None]
        if rule_id not in files:
            continue
        if not any(c.fires_at is not None and c.dialect in rule.dialects for c in working):
            missing.append(f"{rule_id}: no case where it fires")
        if not any(c.fires_at is None and c.dialect in rule.dialects for c in working):
            missing.append(f"{rule_id}: no near miss in a dialect it checks")
    assert not missing, "\n".join(missing)


def test_case_names_are_unique() -> None:
    counts = Counter(c.name for c in ALL_CASES)
    assert all(n == 1 for n in counts.values())
