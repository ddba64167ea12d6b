"""Lint: split → parse → price per dialect → rules → suppressions, statement by statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from schemashift.analysis.context import StatementContext
from schemashift.analysis.file_state import FileState
from schemashift.analysis.suppress import file_ids, statement_ids
from schemashift.config import Config
from schemashift.dialects.base import get_dialect, parse_version
from schemashift.model import Change, Finding, LintReport, Severity, StatementReport
from schemashift.rules.registry import Rule, RuleIndex, all_rules, rules_for
from schemashift.sql.actions import Action, raw
from schemashift.sql.parse import parse_statement
from schemashift.sql.split import SplitStatement, split_sql

UNUSED = "SS003"  # unused-suppression, raised here (rules/ss003_unused_suppression.py)
_NONE: frozenset[str] = frozenset()


def _named(fix: str, actions: Sequence[Action]) -> str:
    """A rule's fix with ``{table}`` / ``{column}`` replaced by the statement's own names
    (generic words where the statement names none)."""
    if "{" not in fix:
        return fix
    first = actions[0] if actions else None
    table = (first.table if first else None) or "the table"
    column = (first.column if first else None) or "col"
    return fix.replace("{table}", table).replace("{column}", column)


class InputError(ValueError):
    """Bad input (missing file, binary file, …): one line on stderr, exit 2."""


@dataclass(frozen=True, slots=True)
class Source:
    """A migration's text and the name it is reported under."""

    name: str
    text: str
    revision: str | None = None


def suppressed_ids(comments: str) -> frozenset[str]:
    """Rule ids a statement's ``schemashift: ignore`` comments suppress (analysis/suppress.py)."""
    if "schemashift" not in comments:
        return frozenset()
    return statement_ids(comments)


class Linter:
    """Lints sources with one configuration; reusable across files."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.dialect = get_dialect(config.dialect)
        self.version = parse_version(config.server_version or self.dialect.default_version)
        self._rules = rules_for(config.dialect, config)
        # The rules to run for a statement's action kinds, worked out once per kind tuple
        # (only kinds this dialect has get an entry: others are turned into raw first).
        self._by_kinds: dict[str | tuple[str, ...], list[Rule]] = {}
        self._severities = {rule.id: self._severity(rule) for rule in all_rules()}
        self._fixes = {rule.id: rule.fix_for(config.dialect) for rule in all_rules()}
        # SS003 (unused suppression), when enabled: the rules it never reports, those whose
        # findings come at the end of the file (apply_finish suppresses them there).
        self._unused: frozenset[str] | None = (
            frozenset(r.id for r in self._rules.finishers)
            if config.rule_enabled(UNUSED) else None
        )  # fmt: skip

    def lint_source(
        self,
        source: Source,
        extra_suppressed: frozenset[str] = frozenset(),
        schema: str | None = None,
    ) -> list[StatementReport]:
        split = split_sql(source.text, source.name, self.config.dialect)
        return self.lint_statements(split, source.revision, extra_suppressed, schema)

    def known_column_types(self, schema: str, base: dict[tuple[str, str], str] | None = None
                           ) -> dict[tuple[str, str], str]:  # fmt: skip
        """Column types declared by ``schema`` (DDL of what already exists, or earlier
        migrations of a history, on top of ``base``): they tell type changes whether they
        rewrite, without making those tables count as new."""
        return self._schema_state(schema, base).column_types

    def _schema_state(self, schema: str,
                      base: dict[tuple[str, str], str] | None = None) -> FileState:  # fmt: skip
        """What ``schema``'s DDL declares (column types, nullability), on top of ``base``."""
        state = FileState(mysql=self.config.dialect == "mysql")
        if base:
            state.column_types.update(base)
        for item in split_sql(schema, "<schema>", self.config.dialect):
            for action in parse_statement(item.statement.sql, self.config.dialect):
                state.record(item.statement, action)
        return state

    def new_state(
        self, schema: str | None = None, column_types: dict[tuple[str, str], str] | None = None
    ) -> FileState:
        state = FileState(mysql=self.config.dialect == "mysql")
        if schema:
            known = self._schema_state(schema)
            state.column_types.update(known.column_types)
            state.not_null.update(known.not_null)
            state.key_columns.update(known.key_columns)
            state.charsets.update(known.charsets)
            state.table_charsets.update(known.table_charsets)
            state.primary_keys.update(known.primary_keys)
            state.expression_indexes.update(known.expression_indexes)
        if column_types:
            state.column_types.update(column_types)
        return state

    def ignored_in(self, split: Sequence[SplitStatement], extra: frozenset[str]) -> frozenset[str]:
        file_ignores = self.config.ignored_in(split[0].statement.file) if split else frozenset()
        # Validates every suppression comment of the file (SuppressionError: exit 2).
        return file_ignores | extra | file_ids(split)

    def lint_statements(
        self,
        split: Sequence[SplitStatement],
        revision: str | None = None,
        extra_suppressed: frozenset[str] = frozenset(),
        schema: str | None = None,
        column_types: dict[tuple[str, str], str] | None = None,
    ) -> list[StatementReport]:
        """Lint one file's statements (one Alembic revision's, or one SQL file's)."""
        state = self.new_state(schema, column_types)
        ignored = self.ignored_in(split, extra_suppressed)
        parsed = parse_all([item.statement.sql for item in split], self.config.dialect)
        out = self.lint_range(split, parsed, state, ignored, revision)
        self.apply_finish(self.finish_hits(state), out, 0, ignored)
        return out

    def _supported(self, actions: list[Action]) -> tuple[list[Action], list[Rule]]:
        """Actions with kinds this dialect lacks turned into raw, and the rules to run."""
        kinds = actions[0].kind if len(actions) == 1 else tuple(a.kind for a in actions)
        candidates = self._by_kinds.get(kinds)
        if candidates is None:
            dialect_kinds = self.dialect.kinds
            if any(a.kind not in dialect_kinds and a.kind != "raw" for a in actions):
                name = self.config.dialect
                actions = [a if a.kind in dialect_kinds or a.kind == "raw" else raw(
                    f"{a.kind.replace('_', ' ')} is not {name} SQL") for a in actions]  # fmt: skip
                kinds = tuple(a.kind for a in actions)
            candidates = self._by_kinds.get(kinds)
            if candidates is None:
                candidates = self._by_kinds[kinds] = _candidates(self._rules, actions)
        return actions, candidates

    def carry_state(
        self, state: FileState, split: Sequence[SplitStatement], parsed: Sequence[list[Action]]
    ) -> None:
        """Advance ``state`` over statements without linting them.

        This is the one hand-over between statements: everything a statement leaves for
        the ones after it (tables created, column types, NOT VALID constraints waiting,
        lock_timeout and other settings, the open transaction and the strong locks it
        holds, the DDL count) lives in ``FileState`` and is advanced here exactly as
        ``lint_range`` advances it, minus the rules. Rules keep no state of their own (the
        end-of-file ones read ``FileState`` too). The two-core path of
        ``schemashift.analysis.pipeline`` uses it to start the second part of a file from
        the state the first part leaves.
        """
        for item, parsed_actions in zip(split, parsed, strict=True):
            actions, _ = self._supported(parsed_actions)
            stmt = item.statement
            state.before(stmt)
            # FileState.after reads the prices only inside an explicit transaction (the
            # strong locks held until COMMIT); outside one it is given none.
            changes = (
                self._assess(actions, state) if stmt.in_transaction else []
            )
            state.after(stmt, actions, changes)

    def lint_range(
        self,
        split: Sequence[SplitStatement],
        parsed: Sequence[list[Action]],
        state: FileState,
        ignored: frozenset[str],
        revision: str | None = None,
    ) -> list[StatementReport]:
        """Lint consecutive statements; ``state`` is the file's state before the first."""
        config = self.config
        name = config.dialect
        version = self.version
        severity = self._severities
        fixes = self._fixes
        supported = self._supported
        out: list[StatementReport] = []
        for item, parsed_actions in zip(split, parsed, strict=True):
            stmt = item.statement
            state.before(stmt)
            actions, candidates = supported(parsed_actions)
            changes = self._assess(actions, state)
            ctx = StatementContext(stmt, actions, changes, state, name, version, config)
            findings: list[Finding] = []
            for rule in candidates:
                for message, fix in rule.check(ctx):
                    if not fix:
                        fix = fixes[rule.id]
                        if "{" in fix:
                            fix = _named(fix, actions)
                    findings.append(Finding(rule.id, severity[rule.id], message, fix))
            suppressed: tuple[str, ...] = ()
            here = suppressed_ids(stmt.leading_comments) if stmt.leading_comments else _NONE
            if findings:
                skip = ignored | here
                if skip:
                    suppressed = tuple(f.rule for f in findings if f.rule in skip)
                    findings = [f for f in findings if f.rule not in skip]
            if here and self._unused is not None:
                unused = here - set(suppressed) - self._unused
                if unused and UNUSED not in ignored | here:
                    findings.append(self._unused_finding(sorted(unused)))
            out.append(StatementReport(stmt, tuple(changes), tuple(findings), suppressed, revision))
            state.after(stmt, actions, changes)
        return out

    def _unused_finding(self, unused: list[str]) -> Finding:
        from schemashift.rules.ss003_unused_suppression import RULE

        ids = ", ".join(unused)
        return Finding(UNUSED, self._severities[UNUSED],
                       f"`schemashift: ignore {ids}` suppresses nothing: {ids} did not fire on "
                       "this statement, and would hide a later finding nobody reviewed.",
                       RULE.fix)  # fmt: skip

    def finish_hits(self, state: FileState) -> list[tuple[str, int, str, str]]:
        """End-of-file findings (a NOT VALID never validated, …): (rule, statement index,
        message, fix)."""
        return [
            (rule.id, i, message, fix or _named(rule.fix_for(self.config.dialect), []))
            for rule in self._rules.finishers
            for i, message, fix in rule.finish(state)  # type: ignore[misc]
        ]

    def apply_finish(
        self,
        hits: Iterable[tuple[str, int, str, str]],
        reports: list[StatementReport],
        offset: int,
        ignored: frozenset[str],
    ) -> None:
        """Attach end-of-file findings to the reports they name (``reports[0]`` is the
        statement at index ``offset``); others are left for whoever holds them."""
        for rule_id, i, message, fix in hits:
            if not offset <= i < offset + len(reports):
                continue
            report = reports[i - offset]
            skip = ignored | suppressed_ids(report.statement.leading_comments)
            if rule_id in skip:
                reports[i - offset] = replace(report, suppressed=(*report.suppressed, rule_id))
                continue
            finding = Finding(rule_id, self._severities[rule_id], message, fix)
            reports[i - offset] = replace(report, findings=(*report.findings, finding))

    def _assess(self, actions: list[Action], state: FileState) -> list[Change]:
        """Each action priced by the dialect; MySQL prices a statement as a whole (one
        algorithm and lock for all the clauses of an ALTER, the strongest they need)."""
        whole = getattr(self.dialect, "assess_statement", None)
        if whole is not None and len(actions) > 1:
            return whole(actions, state, self.version)  # type: ignore[no-any-return]
        return [self.dialect.assess(a, state, self.version) for a in actions]

    def _severity(self, rule: Rule) -> Severity:
        return self.config.severity_of(rule.id, rule.severity)


def _candidates(rules: RuleIndex, actions: list[Action]) -> list[Rule]:
    out = list(rules.every)
    for action in actions:
        out.extend(r for r in rules.by_kind.get(action.kind, ()) if r not in out)
    return out


def parse_all(sqls: Sequence[str], dialect: str) -> list[list[Action]]:
    """Parse every statement (the per-statement cache is in schemashift.sql.parse)."""
    return [parse_statement(sql, dialect) for sql in sqls]


def lint_text(
    text: str,
    file: str = "-",
    config: Config | None = None,
    *,
    dialect: str | None = None,
    server_version: str | None = None,
    schema: str | None = None,
) -> LintReport:
    """Lint one migration's SQL text. The library entry point tests and tools use.

    ``schema`` is optional DDL of the tables as they already exist (column types), so a
    type change can be priced exactly instead of assumed to rewrite.
    """
    cfg = (config or Config()).with_overrides(dialect=dialect, server_version=server_version)
    statements = Linter(cfg).lint_source(Source(file, text), schema=schema)
    return LintReport(cfg.dialect, tuple(statements), (file,))


def read_sources(paths: Sequence[str], stdin_text: str | None = None) -> list[Source]:
    """Expand PATHS (files, directories of *.sql, "-" for stdin) into sources, in order."""
    sources: list[Source] = []
    for p in paths:
        if p == "-":
            sources.append(Source("-", stdin_text if stdin_text is not None else ""))
            continue
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*.sql") if f.is_file())
            if not files:
                raise InputError(f"{p}: directory contains no .sql files")
            sources.extend(_read(f, str(f)) for f in files)
        elif path.is_file():
            sources.append(_read(path, p))
        elif path.exists():
            raise InputError(f"{p}: not a regular file")
        else:
            raise InputError(f"{p}: no such file or directory")
    return sources


def _read(path: Path, name: str) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: binary file, not SQL")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return Source(name, text)
