"""SARIF 2.1.0 output (``lint --format sarif``), for GitHub code scanning and other viewers.

One run, the driver's ``rules`` carrying the metadata of every rule given (so a viewer can
show the title, the why and the fix of a rule before any finding of it appears), one
result per finding. ``partialFingerprints`` hash the rule, the file and the statement's
normalised text, not its line, so a finding keeps its identity when lines above it move.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from schemashift.model import LintReport, Severity, Statement, StatementReport
from schemashift.rules.base import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/schemashift/schemashift"
# Versioned so that a change to what is hashed can start a new series of fingerprints
# instead of silently re-identifying every open alert.
FINGERPRINT_KEY = "schemashift/statementHash/v1"
SNIPPET_CHARS = 200

LEVELS: Mapping[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}

# Rule ids are grouped by area (docs/design.md §8): the hundreds digit names it.
_AREA_TAGS: Mapping[str, str] = {
    "0": "parsing",
    "1": "compatibility",
    "2": "locking",
    "3": "constraints",
    "4": "indexes",
    "5": "transactions",
    "6": "style",
    "7": "mysql",
    "8": "sqlite",
}

_NEWLINE = re.compile(r"\r\n|\r|\n")
_WHITESPACE = re.compile(r"\s+")
_DRIVE = re.compile(r"^[A-Za-z]:/")
# RFC 3986 characters a path may keep as they are; everything else is percent-encoded.
_URI_SAFE = "/-._~!$&'()*+,;=:@"


def render_sarif(report: LintReport, rules: Sequence[Rule], tool_version: str) -> str:
    """The SARIF log for ``report`` as JSON text; ``rules`` become the driver's rules."""
    index: dict[str, int] = {}
    for rule in rules:
        index.setdefault(rule.id, len(index))
    by_id = {rule.id: rule for rule in rules}
    descriptors = [_rule_descriptor(by_id[rule_id]) for rule_id in index]

    results: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for stmt_report in report.statements:
        for finding_no in range(len(stmt_report.findings)):
            results.append(_result(stmt_report, finding_no, index, by_id, seen))

    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "schemashift",
                        "informationUri": INFORMATION_URI,
                        "version": tool_version,
                        "rules": descriptors,
                    }
                },
                "results": results,
                "properties": {"dialect": report.dialect},
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


def artifact_path(file: str) -> str:
    """The statement's file as reported: forward slashes, ``-`` (stdin) as ``stdin``."""
    if file == "-":
        return "stdin"
    path = file.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def artifact_uri(file: str) -> str:
    """The file as a URI reference: relative paths stay relative, absolute become file:."""
    path = artifact_path(file)
    if path.startswith("/"):
        return "file://" + quote(path, safe=_URI_SAFE)
    if _DRIVE.match(path):
        return "file:///" + path[:2] + quote(path[2:], safe=_URI_SAFE)
    return quote(path, safe=_URI_SAFE)


def statement_end_line(statement: Statement) -> int:
    """The 1-based line on which the statement's SQL ends."""
    sql = statement.sql.rstrip("\r\n")
    return statement.line + len(_NEWLINE.split(sql)) - 1


def fingerprint(rule_id: str, file: str, sql: str) -> str:
    """A hash that survives edits elsewhere in the file: no line number, whitespace folded."""
    normalised = _WHITESPACE.sub(" ", sql).strip().rstrip(";").rstrip()
    material = "\x00".join((rule_id, artifact_path(file), normalised))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _rule_descriptor(rule: Rule) -> dict[str, object]:
    tags = ["schemashift"]
    area = _AREA_TAGS.get(rule.id[2:3]) if rule.id.startswith("SS") else None
    if area is not None:
        tags.append(area)
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.summary},
        "help": {
            "text": f"{rule.fix}\n\nSee {rule.docs_url}",
            "markdown": (
                f"**{rule.id} {rule.name}**: {rule.title}\n\n"
                f"{rule.summary}\n\n"
                f"**Safe alternative:** {rule.fix}\n\n"
                f"[{rule.docs_ref}]({rule.docs_url})"
            ),
        },
        "helpUri": rule.docs_url,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": tags},
    }


def _result(
    stmt_report: StatementReport,
    finding_no: int,
    index: Mapping[str, int],
    by_id: Mapping[str, Rule],
    seen: dict[str, int],
) -> dict[str, object]:
    finding = stmt_report.findings[finding_no]
    statement = stmt_report.statement
    rule = by_id.get(finding.rule)
    fix = finding.fix or (rule.fix if rule is not None else "")
    text = f"{finding.message} Fix: {fix}" if fix else finding.message

    # The same statement text can occur twice in one file (and fire the same rule); a
    # running count keeps those fingerprints apart while staying stable across line moves.
    digest = fingerprint(finding.rule, statement.file, statement.sql)
    occurrence = seen.get(digest, 0)
    seen[digest] = occurrence + 1
    if occurrence:
        digest = f"{digest}:{occurrence + 1}"

    result: dict[str, object] = {"ruleId": finding.rule}
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    result["level"] = LEVELS[finding.severity]
    result["message"] = {"text": text}
    result["locations"] = [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(statement.file)},
                "region": {
                    "startLine": max(1, statement.line),
                    "endLine": max(1, statement_end_line(statement)),
                    "snippet": {"text": statement.sql[:SNIPPET_CHARS]},
                },
            }
        }
    ]
    result["partialFingerprints"] = {FINGERPRINT_KEY: digest}
    if stmt_report.revision is not None:
        result["properties"] = {"revision": stmt_report.revision}
    return result
