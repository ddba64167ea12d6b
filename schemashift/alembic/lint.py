"""Lint an Alembic history revision by revision, through the one lint pipeline.

The history is read offline (``schemashift.alembic.history``); each revision's statements
become one ``LintInput`` of ``schemashift.analysis.pipeline``, linted from an empty file
state, with the revision's ``# schemashift: ignore`` ids and the column types its typed ops
state. This module depends on the pure core; the core never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from schemashift.alembic.history import RevisionSQL, read_history
from schemashift.analysis.pipeline import LintInput, LintPipeline
from schemashift.config import Config
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


def lint_history(
    config_path: Path,
    config: Config,
    *,
    revision: str | None = None,
    since: str | None = None,
    since_git: str | None = None,
    files: Sequence[Path] = (),
    pipeline: LintPipeline | None = None,
) -> LintReport:
    """Lint an Alembic history, oldest revision first (raises HistoryError); ``files``:
    only the revisions written in these files."""
    revisions = read_history(config_path, config.dialect, revision=revision, since=since,
                             since_git=since_git, files=files)  # fmt: skip
    return lint_revisions(revisions, pipeline or LintPipeline(config))


def lint_revisions(revisions: list[RevisionSQL], pipeline: LintPipeline) -> LintReport:
    statements: list[StatementReport] = []
    for rev in revisions:
        reports = pipeline.lint_input(
            LintInput(
                rev.info.file,
                rev.statements,
                revision=rev.info.revision,
                suppressed=rev.suppressed,
                column_types=rev.column_types,
            )
        )
        if rev.contract:
            reports = [_as_contract(r) for r in reports]
        reports = [_as_planned(r) if i in rev.planned else r for i, r in enumerate(reports)]
        statements.extend(r for i, r in enumerate(reports) if i not in rev.synthetic)
        unread = _unread(rev, pipeline.config)
        if unread is not None:
            statements.append(unread)
    files = tuple(dict.fromkeys(rev.info.file for rev in revisions))
    return LintReport(
        pipeline.config.dialect, tuple(statements), files, tuple(r.info for r in revisions)
    )


UNREAD_RULE = "SS001"  # not understood, treated as breaking: what an unread revision is


def _unread(rev: RevisionSQL, config: Config) -> StatementReport | None:
    """A revision that could not be read (whole or in part) as a finding at the line where
    reading stopped: its SQL was not checked, so it is unknown and treated as breaking,
    and the run fails like on SQL that cannot be parsed (``[tool.schemashift.severity]
    SS001 = "warning"`` makes it a warning; a ``# schemashift: ignore SS001`` comment in
    the revision suppresses it)."""
    info = rev.info
    if info.status == "analysed" or not config.rule_enabled(UNREAD_RULE):
        return None
    what = "could not be read" if info.status == "failed" else "was read only in part"
    statement = Statement(info.file, info.line or 1,
                          f"-- revision {info.revision} {what}: {info.error}")  # fmt: skip
    change = Change("raw", None, None, Compatibility.UNKNOWN, "unknown",
                    LockClass.BLOCKS_READS_AND_WRITES, False, False, True, Phase.CONTRACT)  # fmt: skip
    if UNREAD_RULE in rev.suppressed:
        return StatementReport(statement, (change,), (), (UNREAD_RULE,), info.revision)
    finding = Finding(
        UNREAD_RULE,
        config.severity.get(UNREAD_RULE, Severity.ERROR),
        f"Revision {info.revision} {what} offline, so its SQL was not checked and is treated "
        f"as breaking: {info.error}.",
        "Make the revision render offline (no database reads at import or in upgrade(); "
        "batch mode with copy_from on SQLite), lint it with --replay-database, or review it "
        "by hand and suppress this finding with a reason.",
    )
    return StatementReport(statement, (change,), (finding,), (), info.revision)


def _as_planned(report: StatementReport) -> StatementReport:
    """A change written as ``op.schemashift_change``: schemashift's strategy runs it in
    phases (a copy and a trigger, batches, NOT VALID then VALIDATE, CONCURRENTLY …), each
    step with a lock timeout, so the hazards of running the statement as written do not
    apply. What it changes is still reported (compatibility, locks), as info."""
    findings = tuple(
        replace(f, severity=Severity.INFO,
                message=f"{f.message} (planned by op.schemashift_change: its strategy runs it "
                        "in phases, each step with a lock timeout)")
        for f in report.findings
    )  # fmt: skip
    return replace(report, findings=findings)


def _as_contract(report: StatementReport) -> StatementReport:
    """In a revision on the contract branch, breaking the old app version is the point: the
    contract gate runs it only once no old version is live. Those findings become info."""
    findings = tuple(
        replace(f, severity=Severity.INFO,
                message=f"{f.message} (contract revision: runs only after the contract gate)")
        if f.rule.startswith("SS1") else f
        for f in report.findings
    )  # fmt: skip
    return replace(report, findings=findings)
