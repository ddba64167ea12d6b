"""GitHub Actions output (``lint --format github``): one workflow command per finding.

GitHub turns ``::error file=…,line=…::message`` lines in a step's log into annotations on
the pull request's diff. Values are escaped the way the Actions runner unescapes them
(``@actions/core`` ``escapeData`` / ``escapeProperty``); otherwise a newline would end the
command early and a comma or colon in a file name would split its properties.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemashift.model import LintReport, Severity
from schemashift.report.sarif import artifact_path, statement_end_line

COMMANDS: Mapping[Severity, str] = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
}


def escape_data(value: str) -> str:
    """Escape a command's message (what follows the second ``::``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a property value (``file=``, ``title=`` …)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render_github(report: LintReport, names: Mapping[str, str] | None = None) -> str:
    """Workflow command lines for ``report``, then one plain summary line.

    ``names`` maps a rule id to its name (``SS101`` → ``rename-column``) for the title.
    """
    lines: list[str] = []
    notices = 0
    for stmt_report in report.statements:
        statement = stmt_report.statement
        for finding in stmt_report.findings:
            notices += finding.severity is Severity.INFO
            name = names.get(finding.rule) if names is not None else None
            title = f"{finding.rule} {name}" if name else finding.rule
            message = f"{finding.message} Fix: {finding.fix}" if finding.fix else finding.message
            properties = ",".join(
                f"{key}={escape_property(value)}"
                for key, value in (
                    ("file", artifact_path(statement.file)),
                    ("line", str(statement.line)),
                    ("endLine", str(statement_end_line(statement))),
                    ("title", title),
                )
            )
            command = COMMANDS[finding.severity]
            lines.append(f"::{command} {properties}::{escape_data(message)}")
    lines.append(_summary_line(report, notices))
    return "\n".join(lines)


def _summary_line(report: LintReport, notices: int) -> str:
    summary = report.summary
    return (
        f"schemashift: {_count(summary.errors, 'error')}, "
        f"{_count(summary.warnings, 'warning')}, {_count(notices, 'notice')} "
        f"in {_count(summary.statements, 'statement')} "
        f"({summary.breaking} breaking, {summary.unknown} unknown)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
