"""SARIF and GitHub Actions renderers, on reports built by hand from the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemashift.model import (
    Change,
    Compatibility,
    Finding,
    LintReport,
    LockClass,
    Phase,
    Severity,
    Statement,
    StatementReport,
)
from schemashift.report.github import escape_data, escape_property, render_github
from schemashift.report.sarif import FINGERPRINT_KEY, render_sarif
from schemashift.rules.base import Rule

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def _rule(rule_id: str, name: str, severity: Severity) -> Rule:
    return Rule(
        id=rule_id,
        name=name,
        title=f"{name.replace('-', ' ').capitalize()} breaks the old app",
        severity=severity,
        summary=f"Why {name} hurts during a rolling deploy.",
        fix=f"The safe way instead of {name}.",
        kinds=frozenset({"raw"}),
        check=lambda ctx: (),
    )


RULES = (
    _rule("SS101", "rename-column", Severity.ERROR),
    _rule("SS207", "set-not-null-scan", Severity.WARNING),
    _rule("SS601", "prefer-text", Severity.INFO),
)


def _change(kind: str, compatibility: Compatibility = Compatibility.BREAKING) -> Change:
    return Change(
        kind=kind,
        table="users",
        column="name",
        compatibility=compatibility,
        lock="ACCESS EXCLUSIVE",
        lock_class=LockClass.BLOCKS_READS_AND_WRITES,
        rewrites_table=False,
        scans_table=False,
        data_dependent=False,
        phase=Phase.CONTRACT,
    )


RENAME_SQL = "ALTER TABLE users RENAME COLUMN name TO full_name"
NOT_NULL_SQL = "ALTER TABLE users\n  ALTER COLUMN email\n  SET NOT NULL"
VARCHAR_SQL = "ALTER TABLE users\r\n  ADD COLUMN nick varchar(20)\r\n"


def _report() -> LintReport:
    return LintReport(
        dialect="postgres",
        statements=(
            StatementReport(
                statement=Statement(file="migrations/001_rename.sql", line=3, sql=RENAME_SQL),
                changes=(_change("rename_column"),),
                findings=(
                    Finding("SS101", Severity.ERROR, "Renaming breaks the old app.", "Add."),
                ),
            ),
            StatementReport(
                statement=Statement(file="migrations\\002_email.sql", line=10, sql=NOT_NULL_SQL),
                changes=(_change("set_not_null"),),
                findings=(
                    Finding("SS207", Severity.WARNING, "SET NOT NULL scans the table.", "Check."),
                    Finding("SS601", Severity.INFO, "Prefer text.", "Use text."),
                ),
                revision="abc123",
            ),
            StatementReport(
                statement=Statement(file="-", line=1, sql=VARCHAR_SQL),
                changes=(_change("add_column", Compatibility.COMPATIBLE),),
                findings=(Finding("SS601", Severity.INFO, "Prefer text.", "Use text."),),
            ),
            StatementReport(
                statement=Statement(file="migrations/001_rename.sql", line=5, sql="SELECT 1"),
                changes=(),
                findings=(),
            ),
        ),
    )


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _validate(document: dict[str, Any], schema: dict[str, Any]) -> None:
    # The official schema declares draft-04; validate with exactly that draft.
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    validator_cls = jsonschema.validators.validator_for(schema)
    assert validator_cls is jsonschema.Draft4Validator
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _sarif(report: LintReport | None = None) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(render_sarif(report or _report(), RULES, "0.1.0"))
    return loaded


# --- SARIF -------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(schema: dict[str, Any]) -> None:
    _validate(_sarif(), schema)


def test_sarif_without_findings_validates(schema: dict[str, Any]) -> None:
    document = json.loads(render_sarif(LintReport(dialect="sqlite", statements=()), (), "1.2"))
    _validate(document, schema)
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_schema_rejects_a_broken_document(schema: dict[str, Any]) -> None:
    # Guards the validation itself: a wrong level must not pass.
    document = _sarif()
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        _validate(document, schema)


def test_sarif_header_and_driver() -> None:
    document = _sarif()
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    assert len(document["runs"]) == 1
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["name"] == "schemashift"
    assert driver["version"] == "0.1.0"
    assert driver["informationUri"].startswith("https://")


def test_sarif_rule_metadata() -> None:
    descriptors = _sarif()["runs"][0]["tool"]["driver"]["rules"]
    assert [d["id"] for d in descriptors] == ["SS101", "SS207", "SS601"]
    for descriptor, rule in zip(descriptors, RULES, strict=True):
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"] == {"text": rule.title}
        assert descriptor["fullDescription"] == {"text": rule.summary}
        assert descriptor["helpUri"] == rule.docs_url
        assert rule.fix in descriptor["help"]["text"]
        assert rule.docs_url in descriptor["help"]["text"]
        assert rule.docs_url in descriptor["help"]["markdown"]
        assert "schemashift" in descriptor["properties"]["tags"]
    levels = [d["defaultConfiguration"]["level"] for d in descriptors]
    assert levels == ["error", "warning", "note"]


def test_sarif_rule_index_points_at_the_rule() -> None:
    run = _sarif()["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["SS101", "SS207", "SS601", "SS601"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_rule_index_follows_the_order_rules_are_given() -> None:
    document = json.loads(render_sarif(_report(), tuple(reversed(RULES)), "0.1.0"))
    run = document["runs"][0]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert run["results"][0]["ruleIndex"] == 2


def test_sarif_finding_of_an_unlisted_rule_has_no_rule_index(schema: dict[str, Any]) -> None:
    document = json.loads(render_sarif(_report(), RULES[:1], "0.1.0"))
    _validate(document, schema)
    results = document["runs"][0]["results"]
    assert results[0]["ruleIndex"] == 0
    assert all("ruleIndex" not in r for r in results[1:])
    assert results[1]["level"] == "warning"


def test_sarif_levels_and_messages() -> None:
    results = _sarif()["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note", "note"]
    assert results[0]["message"]["text"] == "Renaming breaks the old app. Fix: Add."
    assert results[1]["message"]["text"] == "SET NOT NULL scans the table. Fix: Check."


def test_sarif_locations_and_end_lines() -> None:
    results = _sarif()["runs"][0]["results"]
    locations = [r["locations"][0]["physicalLocation"] for r in results]
    uris = [loc["artifactLocation"]["uri"] for loc in locations]
    assert uris == [
        "migrations/001_rename.sql",
        "migrations/002_email.sql",
        "migrations/002_email.sql",
        "stdin",
    ]
    regions = [(loc["region"]["startLine"], loc["region"]["endLine"]) for loc in locations]
    # one line; three lines from line 10; CRLF statement with a trailing newline: two lines
    assert regions == [(3, 3), (10, 12), (10, 12), (1, 2)]
    assert locations[1]["region"]["snippet"]["text"] == NOT_NULL_SQL


def test_sarif_snippet_is_capped_at_200_characters() -> None:
    sql = "UPDATE t SET c = '" + "x" * 500 + "'"
    report = LintReport(
        dialect="postgres",
        statements=(
            StatementReport(
                statement=Statement(file="m.sql", line=1, sql=sql),
                changes=(),
                findings=(Finding("SS101", Severity.ERROR, "m", "f"),),
            ),
        ),
    )
    result = _sarif(report)["runs"][0]["results"][0]
    snippet = result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"]
    assert snippet == sql[:200]


def test_sarif_revision_is_a_result_property() -> None:
    results = _sarif()["runs"][0]["results"]
    assert results[1]["properties"] == {"revision": "abc123"}
    assert "properties" not in results[0]


def _one(file: str, line: int, sql: str, rule: str = "SS101") -> StatementReport:
    return StatementReport(
        statement=Statement(file=file, line=line, sql=sql),
        changes=(),
        findings=(Finding(rule, Severity.ERROR, "m", "f"),),
    )


def _fingerprints(*statements: StatementReport) -> list[str]:
    report = LintReport(dialect="postgres", statements=statements)
    return [r["partialFingerprints"][FINGERPRINT_KEY] for r in _sarif(report)["runs"][0]["results"]]


def test_sarif_fingerprint_is_stable_across_line_moves_and_whitespace() -> None:
    sql = "ALTER TABLE users RENAME COLUMN name TO full_name"
    [before] = _fingerprints(_one("m/001.sql", 3, sql))
    [after] = _fingerprints(
        _one("m/001.sql", 40, "ALTER TABLE users\n  RENAME COLUMN name TO full_name;")
    )
    assert before == after


def test_sarif_fingerprint_tells_rules_files_and_statements_apart() -> None:
    sql = "DROP TABLE users"
    base = _fingerprints(_one("m/001.sql", 1, sql))
    assert base != _fingerprints(_one("m/002.sql", 1, sql))
    assert base != _fingerprints(_one("m/001.sql", 1, sql, rule="SS104"))
    assert base != _fingerprints(_one("m/001.sql", 1, "DROP TABLE orders"))


def test_sarif_fingerprint_separates_repeated_statements() -> None:
    first, second = _fingerprints(
        _one("m.sql", 1, "DROP TABLE t"), _one("m.sql", 9, "DROP TABLE t")
    )
    assert first != second


def test_sarif_uri_of_a_path_with_spaces_is_encoded(schema: dict[str, Any]) -> None:
    report = LintReport(dialect="postgres", statements=(_one("my migrations/1 a.sql", 1, "x"),))
    document = _sarif(report)
    _validate(document, schema)
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "my%20migrations/1%20a.sql"


# --- GitHub Actions ----------------------------------------------------------------------


NAMES = {rule.id: rule.name for rule in RULES}


def test_github_one_line_per_finding_and_a_summary() -> None:
    lines = render_github(_report(), NAMES).splitlines()
    assert lines == [
        "::error file=migrations/001_rename.sql,line=3,endLine=3,title=SS101 rename-column"
        "::Renaming breaks the old app. Fix: Add.",
        "::warning file=migrations/002_email.sql,line=10,endLine=12,"
        "title=SS207 set-not-null-scan::SET NOT NULL scans the table. Fix: Check.",
        "::notice file=migrations/002_email.sql,line=10,endLine=12,title=SS601 prefer-text"
        "::Prefer text. Fix: Use text.",
        "::notice file=stdin,line=1,endLine=2,title=SS601 prefer-text::Prefer text. Fix: Use text.",
        "schemashift: 1 error, 1 warning, 2 notices in 4 statements (2 breaking, 0 unknown)",
    ]
    assert not lines[-1].startswith("::")


def test_github_title_without_names_is_the_rule_id() -> None:
    first = render_github(_report()).splitlines()[0]
    assert ",title=SS101::" in first


def test_github_escapes_message_and_properties() -> None:
    report = LintReport(
        dialect="postgres",
        statements=(
            StatementReport(
                statement=Statement(file="m/a,b:c%.sql", line=7, sql="ALTER TABLE t\nDROP c"),
                changes=(),
                findings=(
                    Finding(
                        "SS103",
                        Severity.ERROR,
                        "Drops c, used at 100%: old app\nfails.\r",
                        "Contract: later, after 1,2",
                    ),
                ),
            ),
        ),
    )
    out = render_github(report, {"SS103": "drop-column:x,y"})
    lines = out.split("\n")
    assert len(lines) == 2  # the newline in the message did not break the command
    assert lines[0] == (
        "::error file=m/a%2Cb%3Ac%25.sql,line=7,endLine=8,title=SS103 drop-column%3Ax%2Cy"
        "::Drops c, used at 100%25: old app%0Afails.%0D Fix: Contract: later, after 1,2"
    )
    assert lines[1] == (
        "schemashift: 1 error, 0 warnings, 0 notices in 1 statement (0 breaking, 0 unknown)"
    )


def test_github_escape_helpers() -> None:
    assert escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"
    # '%' goes first, so an escape already in the text is not decoded back by the runner
    assert escape_data("%0A") == "%250A"


def test_github_empty_report_is_just_the_summary() -> None:
    out = render_github(LintReport(dialect="mysql", statements=()))
    assert out == (
        "schemashift: 0 errors, 0 warnings, 0 notices in 0 statements (0 breaking, 0 unknown)"
    )
