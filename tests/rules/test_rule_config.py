"""Suppression comments, disabled rules and severity overrides, across rules (each rule's
own cases are in tests/rules/SSNNN.toml)."""

from __future__ import annotations

from schemashift.analysis.engine import lint_text
from schemashift.config import Config
from schemashift.model import LintReport, Severity
from schemashift.rules.registry import all_rules

PG = "postgres"
TIMEOUT = "SET lock_timeout = '1s';"
FK = "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)"

RENAMES = "\n".join([
    TIMEOUT,
    "-- schemashift: ignore SS101 the app reads both names already",
    "ALTER TABLE t RENAME COLUMN a TO b;",
    "ALTER TABLE t RENAME COLUMN c TO d;",
])  # fmt: skip


def _rules_at(report: LintReport, i: int) -> list[str]:
    return [f.rule for f in report.statements[i].findings]


def test_ignore_comment_suppresses_only_the_next_statement() -> None:
    report = lint_text(RENAMES, file="t.sql", dialect=PG, server_version="15")
    assert "SS101" not in _rules_at(report, 1)
    assert report.statements[1].suppressed == ("SS101",)
    assert _rules_at(report, 2) == ["SS101"]
    assert report.statements[2].suppressed == ()


def test_ignore_comment_names_several_rules_and_leaves_the_others() -> None:
    sql = "-- schemashift: ignore SS101, SS501 reviewed\nALTER TABLE t RENAME COLUMN a TO b;"
    report = lint_text(sql, file="t.sql", dialect=PG, server_version="15")
    assert _rules_at(report, 0) == []
    assert set(report.statements[0].suppressed) == {"SS101", "SS501"}
    report = lint_text("-- schemashift: ignore SS501 ok\nALTER TABLE t RENAME COLUMN a TO b;")
    assert _rules_at(report, 0) == ["SS101"]


def test_ignore_comment_suppresses_a_finisher() -> None:
    sql = "-- schemashift: ignore SS307 validated next release\n" + f"{FK} NOT VALID;"
    report = lint_text(sql, file="t.sql", dialect=PG, server_version="15")
    assert "SS307" not in _rules_at(report, 0)
    assert report.statements[0].suppressed == ("SS307",)


def test_disabled_rule_does_not_run() -> None:
    config = Config(disable=frozenset({"SS101"}))
    report = lint_text("ALTER TABLE t RENAME COLUMN a TO b;", file="t.sql", config=config,
                       dialect=PG, server_version="15")  # fmt: skip
    assert _rules_at(report, 0) == ["SS501"]
    assert report.statements[0].suppressed == ()


def test_severity_override() -> None:
    rule = next(r for r in all_rules() if r.id == "SS402")
    assert rule.severity is Severity.WARNING
    sql = "SET lock_timeout = '1s';\nDROP INDEX i;"  # SS501 aside: the override is the point
    default = lint_text(sql, file="t.sql", dialect=PG, server_version="15")
    assert [f.severity for f in default.statements[1].findings] == [Severity.WARNING]
    config = Config(severity={"SS402": Severity.ERROR})
    report = lint_text(sql, file="t.sql", config=config, dialect=PG, server_version="15")
    assert [(f.rule, f.severity) for f in report.statements[1].findings] == [
        ("SS402", Severity.ERROR)
    ]
    assert report.summary.errors == 1 and report.summary.warnings == 0


def test_unknown_warn_turns_unparsable_sql_into_a_warning() -> None:
    default = lint_text("SELECTT 1;", file="t.sql", dialect=PG, server_version="15")
    assert [(f.rule, f.severity) for f in default.statements[0].findings] == [
        ("SS001", Severity.ERROR)
    ]
    report = lint_text("SELECTT 1;", file="t.sql", config=Config(unknown="warn"), dialect=PG,
                       server_version="15")  # fmt: skip
    assert [(f.rule, f.severity) for f in report.statements[0].findings] == [
        ("SS001", Severity.WARNING)
    ]
    # Only SS001: the dynamic-SQL rule keeps its own severity.
    dynamic = lint_text("EXECUTE 'DROP TABLE t';", config=Config(unknown="warn"))
    assert [(f.rule, f.severity) for f in dynamic.statements[0].findings] == [
        ("SS002", Severity.ERROR)
    ]
