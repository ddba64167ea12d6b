"""The data every reader shares: changes, findings and the lint report.

Pure values (frozen dataclasses, str enums): no database, no I/O. The rules, the
renderers (text, JSON, SARIF, GitHub) and later the phase engine all read these.
Field names and values are the contract of docs/design.md §2 and §6.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Compatibility(str, Enum):
    """Whether the *old* application version keeps working after the change."""

    COMPATIBLE = "compatible"
    BREAKING = "breaking"
    UNKNOWN = "unknown"


class LockClass(str, Enum):
    """The portable meaning of a lock for live traffic."""

    NONE = "none"
    BLOCKS_WRITES = "blocks_writes"
    BLOCKS_READS_AND_WRITES = "blocks_reads_and_writes"

    @property
    def rank(self) -> int:
        return _LOCK_RANK[self]


_LOCK_RANK = {
    LockClass.NONE: 0,
    LockClass.BLOCKS_WRITES: 1,
    LockClass.BLOCKS_READS_AND_WRITES: 2,
}


class Phase(str, Enum):
    EXPAND = "expand"
    BACKFILL = "backfill"
    VERIFY = "verify"
    CONTRACT = "contract"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}

# Plain module names for the members: attribute access on an Enum class is slow on 3.11,
# and lint touches these for every statement.
COMPATIBLE, BREAKING, UNKNOWN = (
    Compatibility.COMPATIBLE,
    Compatibility.BREAKING,
    Compatibility.UNKNOWN,
)
ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


# The change kinds of docs/design.md §2.2, among them the statement kinds a migration holds
# (session settings, transaction control, schema-level objects).
CHANGE_KINDS = frozenset(
    {
        "create_table", "drop_table", "rename_table", "add_column", "drop_column",
        "rename_column", "alter_column_type", "set_not_null", "drop_not_null", "set_default",
        "drop_default", "add_constraint", "drop_constraint", "validate_constraint",
        "rename_constraint", "create_index", "drop_index", "rename_index", "reindex",
        "create_view", "drop_view", "alter_enum", "create_type", "drop_type",
        "create_trigger", "drop_trigger", "data_update", "data_delete", "data_insert",
        "truncate", "rewrite_table", "alter_table_option", "detach_partition",
        "attach_partition", "create_schema", "drop_schema", "rename_schema",
        "create_extension", "create_function", "create_sequence", "comment", "grant",
        "select", "set_option", "transaction", "raw",
    }
)  # fmt: skip

CONSTRAINT_TYPES = frozenset({"check", "unique", "foreign_key", "primary_key", "exclusion"})


@dataclass(frozen=True, slots=True)
class Change:
    """One schema change and what it costs live traffic (docs/design.md §2)."""

    kind: str
    table: str | None
    column: str | None
    compatibility: Compatibility
    lock: str
    lock_class: LockClass
    rewrites_table: bool
    scans_table: bool
    data_dependent: bool
    phase: Phase
    # Only for add_constraint / drop_constraint / validate_constraint: check, unique, …
    constraint: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "table": self.table,
            "column": self.column,
            # str-valued enums serialise as their value; .value is slow on 3.11.
            "compatibility": self.compatibility,
            "lock": self.lock,
            "lock_class": self.lock_class,
            "rewrites_table": self.rewrites_table,
            "scans_table": self.scans_table,
            "data_dependent": self.data_dependent,
            "phase": self.phase,
        }
        if self.constraint is not None:
            out["constraint"] = self.constraint
        return out


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's verdict on one statement."""

    rule: str
    severity: Severity
    message: str
    fix: str

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement as it stands in its source, with its 1-based first line."""

    file: str
    line: int
    sql: str
    index: int = 0
    # Comments directly above the statement: where suppressions live.
    leading_comments: str = ""
    # True when an explicit BEGIN (or START TRANSACTION) is open around this statement.
    in_transaction: bool = False


@dataclass(frozen=True, slots=True)
class StatementReport:
    statement: Statement
    changes: tuple[Change, ...]
    findings: tuple[Finding, ...]
    suppressed: tuple[str, ...] = ()
    revision: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "file": self.statement.file,
            "line": self.statement.line,
            "sql": self.statement.sql,
        }
        if self.revision is not None:
            out["revision"] = self.revision
        out["changes"] = [c.to_json() for c in self.changes]
        out["findings"] = [f.to_json() for f in self.findings]
        return out


@dataclass(frozen=True, slots=True)
class Summary:
    statements: int
    breaking: int
    unknown: int
    errors: int
    warnings: int

    def to_json(self) -> dict[str, int]:
        return {
            "statements": self.statements,
            "breaking": self.breaking,
            "unknown": self.unknown,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    """How one Alembic revision was read (docs/design.md §6 ``revisions``)."""

    revision: str
    file: str
    status: str  # "analysed" | "partial" | "failed"
    statements: int
    error: str | None = None
    line: int | None = None  # where reading stopped, in the revision file
    # How it was read when not plainly offline: database reads answered from the schema
    # model of the revisions before (alembic/inspector.py), or replayed on a database.
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "revision": self.revision,
            "file": self.file,
            "status": self.status,
            "statements": self.statements,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.line is not None:
            out["line"] = self.line
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class LintReport:
    dialect: str
    statements: tuple[StatementReport, ...]
    files: tuple[str, ...] = field(default=())
    # Set when an Alembic history was linted: one entry per revision walked, oldest first.
    revisions: tuple[RevisionInfo, ...] | None = None

    @property
    def summary(self) -> Summary:
        breaking = unknown = errors = warnings = 0
        for s in self.statements:
            for c in s.changes:
                if c.compatibility is BREAKING:
                    breaking += 1
                elif c.compatibility is UNKNOWN:
                    unknown += 1
            for f in s.findings:
                if f.severity is ERROR:
                    errors += 1
                elif f.severity is WARNING:
                    warnings += 1
        return Summary(len(self.statements), breaking, unknown, errors, warnings)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"version": 1, "dialect": self.dialect}
        if self.revisions is not None:
            out["revisions"] = [r.to_json() for r in self.revisions]
        out["statements"] = [s.to_json() for s in self.statements]
        out["summary"] = self.summary.to_json()
        return out
