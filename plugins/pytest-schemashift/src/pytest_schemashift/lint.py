"""Every revision reads and lints clean: ``schemashift lint --alembic-config`` as a
function that returns the failing findings instead of an exit code."""

from __future__ import annotations

from pathlib import Path

from schemashift.alembic.history import HistoryError
from schemashift.alembic.lint import lint_history
from schemashift.config import Config
from schemashift.model import BREAKING, ERROR, UNKNOWN, WARNING, LintReport, StatementReport


def _fails(report: StatementReport, fail_on: str, unknown: str) -> list[str]:
    """What in one statement reaches ``fail_on`` (the exit-1 rule of ``schemashift lint``)."""
    failing = {ERROR, WARNING} if fail_on == "warning" else {ERROR}
    out = [f"{f.severity.value} {f.rule}: {f.message}\n    fix: {f.fix}" for f in report.findings
           if f.severity in failing]  # fmt: skip
    if fail_on == "breaking":
        breaking = {BREAKING, UNKNOWN} if unknown == "breaking" else {BREAKING}
        out += [
            f"{c.compatibility.value} change: {c.kind} "
            + ".".join(p for p in (c.table, c.column) if p)
            for c in report.changes
            if c.compatibility in breaking and not out
        ]
    return out


def lint_problems(alembic_ini: Path, config: Config, fail_on: str,
                  since: str | None = None) -> list[str]:  # fmt: skip
    """One line per failing finding (``file:line revision: severity rule: message``);
    empty when the history is clean at ``fail_on``. Raises HistoryError."""
    report: LintReport = lint_history(alembic_ini, config, since=since)
    lines: list[str] = []
    for statement in report.statements:
        where = f"{statement.statement.file}:{statement.statement.line}"
        revision = f" ({statement.revision})" if statement.revision else ""
        lines += [f"{where}{revision}: {text}"
                  for text in _fails(statement, fail_on, config.unknown)]  # fmt: skip
    return lines


__all__ = ["HistoryError", "lint_problems"]
