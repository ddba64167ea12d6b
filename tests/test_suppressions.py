"""Suppression comments as users write them: before the statement or trailing it on its
line, by id or by rule name, file-wide with ignore-file; a typo or a bare ignore is an
error naming the file and line, never a silent no-op or a blanket suppression."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemashift.analysis.engine import lint_text
from schemashift.analysis.suppress import SuppressionError


def findings(sql: str) -> list[tuple[int, list[str], list[str]]]:
    report = lint_text(sql)
    return [(s.statement.line, sorted(f.rule for f in s.findings), sorted(s.suppressed))
            for s in report.statements]  # fmt: skip


def test_trailing_comment_suppresses_its_own_statement_not_the_next() -> None:
    out = findings("ALTER TABLE t DROP COLUMN a; -- schemashift: ignore SS103 unused since v2\n"
                   "ALTER TABLE t DROP COLUMN b;\n")  # fmt: skip
    assert out[0][2] == ["SS103"] and "SS103" not in out[0][1]
    assert "SS103" in out[1][1] and out[1][2] == []


def test_comment_before_and_rule_names() -> None:
    out = findings("-- schemashift: ignore drop-column, SS501 reviewed in SHOP-142\n"
                   "ALTER TABLE t DROP COLUMN a;\nALTER TABLE t DROP COLUMN b;\n")  # fmt: skip
    assert out[0][1] == [] and out[0][2] == ["SS103", "SS501"]
    assert out[1][1] == ["SS103", "SS405", "SS501"]  # SS405: a second DDL, no transaction


def test_ignore_file_covers_every_statement() -> None:
    out = findings("ALTER TABLE t DROP COLUMN a;\n"
                   "-- schemashift: ignore-file SS103 a cleanup migration, reviewed\n"
                   "ALTER TABLE t DROP COLUMN b;\n")  # fmt: skip
    assert all("SS103" not in rules and "SS103" in sup for _, rules, sup in out)


@pytest.mark.parametrize(("comment", "message"), [
    ("-- schemashift: ignore SS999 typo", "SS999: no rule has this id"),
    ("-- schemashift: ignore drop-colum typo", "drop-colum: no rule has this name"),
    ("-- schemashift: ignore", "needs the rule(s) it suppresses"),
    ("-- schemashift: ignore because I said so", "needs the rule(s) it suppresses"),
    ("ALTER TABLE t ADD COLUMN x int; -- schemashift: ignore-file SS1O3", "needs the rule"),
])  # fmt: skip
def test_bad_suppressions_are_errors(comment: str, message: str) -> None:
    with pytest.raises(SuppressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lint_text(f"{comment}\nALTER TABLE t DROP COLUMN c;\n")


def test_cli_exits_2_with_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "m.sql"
    path.write_text("ALTER TABLE t ADD COLUMN x int;\n-- schemashift: ignore SS999 typo\n"
                    "ALTER TABLE t DROP COLUMN c;\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "schemashift", "lint", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (f"schemashift: error: {path}:3: schemashift: ignore SS999: "
                                   "no rule has this id (schemashift rules lists them)")  # fmt: skip
