"""The lint pipeline: sources → statements → one ``LintReport`` that every format renders.

Every way into ``schemashift lint`` ends here: files and stdin (``lint_sources``), and an
Alembic history's rendered revisions (``schemashift.alembic.lint`` builds the
``LintInput``s and calls ``LintPipeline.lint_input``). The output formats only render the
report this returns, and the exit code comes from its ``Outcome``, so text, JSON, SARIF
and GitHub annotations always agree.

Two cores: a big file (``parallel.MIN_ITEMS`` statements or more), when a core is idle, is
linted by the parent from the start and by a forked child from a split point to the end.
The child first carries the file state over the statements before the split
(``Linter.carry_state``, the one hand-over of state between statements) and lints only the
rest. The split point is not a tuned share: the two processes meet in the middle. The
parent lints in chunks of ``CHUNK`` statements and reports how far it got; the child,
which carries state faster than the parent lints, claims the rest of the file from where
it stands as soon as the statements left after it are no more than the parent still has
to do before it. A child that never gets a CPU never claims anything, and the parent
simply lints the whole file, as on one core. The child sends back its statements'
verdicts and the end-of-file findings; the result is identical to the one-process run.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import struct
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemashift import parallel
from schemashift.analysis.engine import Linter, Source
from schemashift.analysis.file_state import FileState
from schemashift.config import Config
from schemashift.model import (
    Change,
    Compatibility,
    Finding,
    LintReport,
    LockClass,
    Phase,
    RevisionInfo,
    Severity,
    Statement,
    StatementReport,
    Summary,
)
from schemashift.sql.parse import parse_statement
from schemashift.sql.split import SplitStatement, split_sql

CHUNK = 256  # statements the parent lints between two looks at the child
# Sending a verdict back and rebuilding it in the parent, relative to linting it: the child
# claims a little less than half of what is left to make up for it.
TRANSFER_OVERHEAD = 0.15


@dataclass(frozen=True)
class LintInput:
    """One file's (or one Alembic revision's) statements and what it is linted with."""

    name: str
    statements: Sequence[SplitStatement]
    revision: str | None = None
    suppressed: frozenset[str] = frozenset()  # rule ids ignored in the whole input
    column_types: Mapping[tuple[str, str], str] | None = None  # types known beforehand
    schema: str | None = None  # DDL of the tables as they already exist


@dataclass(frozen=True)
class Outcome:
    """What the exit code needs from a run: the summary and which levels were reached."""

    summary: Summary
    severities: frozenset[Severity]
    compatibilities: frozenset[Compatibility]

    @staticmethod
    def of(report: LintReport) -> Outcome:
        statements = report.statements
        return Outcome(
            report.summary,
            frozenset(f.severity for s in statements for f in s.findings),
            frozenset(c.compatibility for s in statements for c in s.changes),
        )


@dataclass
class LintPipeline:
    """Lints inputs with one configuration.

    ``parallel``: None decides per file (size, fork, an idle core); False never forks;
    True forks for any file of two statements or more (tests). ``split_at`` fixes the
    split point instead of letting the processes meet (tests).
    """

    config: Config
    parallel: bool | None = None
    split_at: int | None = None
    schema: str | None = None  # DDL of the existing tables, for every input
    # The live catalog (lint --database-url): column types and NOT NULL, and each table's
    # (estimated rows, bytes), which findings on it state and size their severity by.
    catalog_types: Mapping[tuple[str, str], str] | None = None
    catalog_not_null: Mapping[tuple[str, str], bool] | None = None
    table_sizes: Mapping[str, tuple[int, int]] | None = None
    linter: Linter = field(init=False)
    # Where the last file was split between the processes (None: one process).
    last_split: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.linter = Linter(self.config)

    def inputs(self, sources: Iterable[Source]) -> Iterable[LintInput]:
        """One input per source. Files of one directory are one history, in name order:
        each sees the column types the earlier ones declared (``005`` changing a column
        ``001`` created as ``integer`` is priced on ``integer``), while its tables stay
        existing ones (an earlier migration ran long ago: its tables have rows)."""
        dialect = self.config.dialect
        folder: str | None = None
        known: dict[tuple[str, str], str] = {}
        previous: Source | None = None
        for source in sources:
            parent = str(Path(source.name).parent) if source.name != "-" else None
            if parent != folder:
                folder, known = parent, {}
            elif previous is not None and parent is not None:
                # Only a later file of the same folder needs what the earlier one declared:
                # a lone file (the common case) is not read twice.
                known.update(self.linter.known_column_types(previous.text, base=known))
            split = split_sql(source.text, source.name, dialect)
            yield LintInput(source.name, split, source.revision,
                            column_types=dict(known) if known else None,
                            schema=self.schema)  # fmt: skip
            previous = source

    def run(
        self,
        inputs: Iterable[LintInput],
        revisions: tuple[RevisionInfo, ...] | None = None,
    ) -> LintReport:
        statements: list[StatementReport] = []
        names: list[str] = []
        for item in inputs:
            names.append(item.name)
            statements.extend(self.lint_input(item))
        return LintReport(self.config.dialect, tuple(statements), tuple(names), revisions)

    def lint_input(self, item: LintInput) -> list[StatementReport]:
        """Every statement of one input, linted in order from an empty file state."""
        linter = self.linter
        split = item.statements
        types = {**(self.catalog_types or {}), **(item.column_types or {})}
        state = linter.new_state(item.schema, types or None)
        if self.catalog_not_null:
            state.not_null.update(self.catalog_not_null)
        ignored = linter.ignored_in(split, item.suppressed)
        self.last_split = None
        if self._fork(len(split)):
            return self._sized(self._two_cores(item, state, ignored))
        reports = self._lint(split, 0, len(split), state, ignored, item.revision)
        linter.apply_finish(linter.finish_hits(state), reports, 0, ignored)
        return self._sized(reports)

    def _sized(self, reports: list[StatementReport]) -> list[StatementReport]:
        """With the catalog known, each finding on a table says how big it is, and a lock
        or rewrite finding on a table under ``small-table-rows`` rows is a warning, not an
        error: it is over in moments (sizes from the catalog's estimates)."""
        if not self.table_sizes:
            return reports
        small = self.config.small_table_rows
        out = []
        for report in reports:
            tables = {c.table.rsplit(".", 1)[-1] for c in report.changes if c.table}
            sized = [(t, self.table_sizes[t]) for t in tables if t in self.table_sizes]
            if not sized or not report.findings:
                out.append(report)
                continue
            rows = max(r for _, (r, _b) in sized)
            note = "; ".join(f"{t}: ~{r:,} rows, {_bytes(b)}" for t, (r, b) in sorted(sized))
            findings = []
            for f in report.findings:
                severity = f.severity
                if (severity is Severity.ERROR and rows < small
                        and f.rule.startswith(("SS2", "SS3", "SS4", "SS7", "SS8"))):  # fmt: skip
                    severity = Severity.WARNING
                findings.append(replace(f, severity=severity, message=f"{f.message} ({note})"))
            out.append(replace(report, findings=tuple(findings)))
        return out

    def _fork(self, n: int) -> bool:
        if self.parallel is False or n < 2 or not parallel.can_fork():
            return False
        if self.split_at is not None and not 0 < self.split_at < n:
            return False
        if self.parallel:
            return True
        return parallel.enabled(n)

    def _lint(
        self,
        split: Sequence[SplitStatement],
        start: int,
        end: int,
        state: FileState,
        ignored: frozenset[str],
        revision: str | None,
    ) -> list[StatementReport]:
        dialect = self.config.dialect
        part = split[start:end]
        parsed = [parse_statement(item.statement.sql, dialect) for item in part]
        return self.linter.lint_range(part, parsed, state, ignored, revision)

    # -- two cores --------------------------------------------------------------------

    def _two_cores(
        self, item: LintInput, state: FileState, ignored: frozenset[str]
    ) -> list[StatementReport]:
        linter, split, n = self.linter, item.statements, len(item.statements)
        progress_r, progress_w = os.pipe()  # parent → child: (position, time) after each chunk
        claim_r, claim_w = os.pipe()  # child → parent: the first statement it takes
        result_r, result_w = os.pipe()  # child → parent: its verdicts, marshalled
        pid = os.fork()
        if pid == 0:  # the child never returns: it sends what it did and leaves
            status = 1
            try:
                for fd in (progress_w, claim_r, result_r):
                    os.close(fd)
                self._child(item, state, ignored, progress_r, claim_w, result_w)
                status = 0
            finally:
                os._exit(status)
        for fd in (progress_r, claim_w, result_w):
            os.close(fd)
        os.set_blocking(progress_w, False)
        limit = n if self.split_at is None else self.split_at
        claimed = self.split_at is not None
        reports: list[StatementReport] = []
        position = 0
        try:
            while position < limit:
                if not claimed and select.select([claim_r], [], [], 0)[0]:
                    data = os.read(claim_r, 8)
                    if len(data) == 8:
                        (claim,) = struct.unpack("<q", data)
                        if position <= claim < n:
                            limit, claimed = claim, True
                    if not claimed:
                        break  # a claim we cannot honour (or a dead child): lint it all here
                end = min(position + CHUNK, limit)
                reports.extend(self._lint(split, position, end, state, ignored, item.revision))
                position = end
                if not claimed:
                    with contextlib.suppress(BlockingIOError, BrokenPipeError):
                        os.write(progress_w, struct.pack("<qd", position, time.monotonic()))
        finally:
            os.close(progress_w)
            os.close(claim_r)
        if claimed:
            tail = self._collect(pid, result_r, limit, item)
        else:
            tail = None
            _stop(pid)
            os.close(result_r)
        if tail is None:  # one process after all: finish the file here
            reports.extend(self._lint(split, position, n, state, ignored, item.revision))
            linter.apply_finish(linter.finish_hits(state), reports, 0, ignored)
            return reports
        tail_reports, hits = tail
        self.last_split = limit
        linter.apply_finish(hits, reports, 0, ignored)  # those about the parent's statements
        reports.extend(tail_reports)
        return reports

    def _child(
        self,
        item: LintInput,
        state: FileState,
        ignored: frozenset[str],
        progress_r: int,
        claim_w: int,
        result_w: int,
    ) -> None:
        linter, split, n = self.linter, item.statements, len(item.statements)
        dialect = self.config.dialect
        os.set_blocking(progress_r, False)
        first: tuple[int, float] | None = None
        last: tuple[int, float] | None = None
        buffered = b""
        position = 0
        claim: int | None = self.split_at
        while claim is None and position < n:
            end = min(position + CHUNK, n)
            part = split[position:end]
            linter.carry_state(
                state, part, [parse_statement(i.statement.sql, dialect) for i in part]
            )
            position = end
            with contextlib.suppress(BlockingIOError):
                buffered += os.read(progress_r, 1 << 16)
            while len(buffered) >= 16:
                last = struct.unpack("<qd", buffered[:16])
                buffered = buffered[16:]
                first = first or last
            if first is None or last is None or last[1] <= first[1] or position >= n:
                continue
            rate = (last[0] - first[0]) / (last[1] - first[1])  # the parent's statements/s
            parent_at = last[0] + rate * (time.monotonic() - last[1])
            # Safe: the parent may be up to two chunks past its last report when it reads
            # the claim. Balanced: what is left after us ≈ what the parent has before us.
            if (
                position >= last[0] + 2 * CHUNK
                and (n - position) * (1 + TRANSFER_OVERHEAD) <= position - parent_at
            ):
                claim = position
        if claim is None:
            return
        if self.split_at is not None:  # a fixed split: carry the state up to it
            part = split[:claim]
            linter.carry_state(
                state, part, [parse_statement(i.statement.sql, dialect) for i in part]
            )
        else:  # the parent takes it at its next chunk (if it has finished, it stops us)
            os.write(claim_w, struct.pack("<q", claim))
        reports = self._lint(split, claim, n, state, ignored, item.revision)
        hits = linter.finish_hits(state)
        linter.apply_finish(hits, reports, claim, ignored)
        data = marshal.dumps(([_pack(r) for r in reports], [h for h in hits if h[1] < claim]))
        with os.fdopen(result_w, "wb") as out:
            out.write(data)

    def _collect(
        self, pid: int, result_r: int, claim: int, item: LintInput
    ) -> tuple[list[StatementReport], list[tuple[str, int, str, str]]] | None:
        """The child's verdicts, rebuilt on the parent's statements (None: it failed)."""
        try:
            data = parallel.read_all(result_r)
        finally:
            os.close(result_r)
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            return None
        packed, hits = marshal.loads(data)
        split = item.statements
        if len(packed) != len(split) - claim:
            return None
        revision = item.revision
        reports = [_unpack(split[claim + i].statement, p, revision) for i, p in enumerate(packed)]
        return reports, [tuple(h) for h in hits]


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


# Verdicts cross the pipe as plain tuples (marshal: much cheaper than pickling dataclasses);
# the statements themselves are already in the parent.
_COMPAT = {m: m.value for m in Compatibility}
_LOCK = {m: m.value for m in LockClass}
_PHASE = {m: m.value for m in Phase}
_SEVERITY = {m: m.value for m in Severity}
_COMPAT_BACK = {v: m for m, v in _COMPAT.items()}
_LOCK_BACK = {v: m for m, v in _LOCK.items()}
_PHASE_BACK = {v: m for m, v in _PHASE.items()}
_SEVERITY_BACK = {v: m for m, v in _SEVERITY.items()}


def _pack(report: StatementReport) -> tuple[Any, ...]:
    changes = tuple(
        (c.kind, c.table, c.column, _COMPAT[c.compatibility], c.lock, _LOCK[c.lock_class],
         c.rewrites_table, c.scans_table, c.data_dependent, _PHASE[c.phase], c.constraint)
        for c in report.changes
    )  # fmt: skip
    findings = tuple((f.rule, _SEVERITY[f.severity], f.message, f.fix) for f in report.findings)
    return changes, findings, report.suppressed


def _unpack(statement: Statement, packed: Any, revision: str | None) -> StatementReport:
    changes, findings, suppressed = packed
    return StatementReport(
        statement,
        tuple(
            Change(
                k, t, col, _COMPAT_BACK[cp], lock, _LOCK_BACK[lc], rw, sc, dd, _PHASE_BACK[ph], cons
            )
            for k, t, col, cp, lock, lc, rw, sc, dd, ph, cons in changes
        ),
        tuple(Finding(rule, _SEVERITY_BACK[sev], msg, fix) for rule, sev, msg, fix in findings),
        tuple(suppressed),
        revision,
    )


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def lint_sources(sources: Iterable[Source], config: Config, schema: str | None = None,
                 catalog: Any = None) -> LintReport:  # fmt: skip
    """Lint SQL sources (files, stdin) in order: the report every format renders.
    ``schema``: DDL of the tables as they exist (their columns' types and nullability
    price type changes exactly; the tables count as existing, not new)."""
    pipeline = LintPipeline(config, schema=schema)
    if catalog is not None:  # execute.catalog_facts.CatalogFacts (the core does not import it)
        pipeline.catalog_types = catalog.column_types
        pipeline.catalog_not_null = catalog.not_null
        pipeline.table_sizes = catalog.sizes
    return pipeline.run(pipeline.inputs(sources))
