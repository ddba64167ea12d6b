"""A migration's SQL → a plan: each change through its strategy, or passed through as is.

The statements are classified by the lint engine (split, parse, dialect pricing: nothing
re-implemented here). For each action the first strategy in
``schemashift.strategies.STRATEGIES`` that applies writes the steps. A compatible change
without a strategy passes through as one step in the phase its pricing says (expand, or
backfill for data changes); a breaking one without a strategy runs at contract, once no old
app version is live. Tables created earlier in the same migration are new: no app version
uses them yet, so their changes always pass through.

A passed-through statement that lint calls an error for its locks or rewrites (a stored
generated column, SET TABLESPACE, CLUSTER, VACUUM FULL, an exclusion constraint …) on an
existing table has no safe recipe: its step carries the hazard, and the runner refuses it
unless ``--force --reason``. Statements PostgreSQL refuses inside a transaction block
(VACUUM, … CONCURRENTLY) are planned as steps that run outside one.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemashift.analysis.engine import Linter, parse_all
from schemashift.config import Config
from schemashift.model import COMPATIBLE, Change, Finding, LockClass, Phase, Severity, Statement
from schemashift.phases.plan import PHASE_ORDER, Plan, Step
from schemashift.sql.actions import Action
from schemashift.sql.split import split_sql
from schemashift.sqltext.names import BadName, TableName
from schemashift.strategies import StrategyError, find_strategy, strategy_name
from schemashift.strategies.common import (
    is_check,
    mysql_drop_column_if_exists,
    mysql_drop_index_if_exists,
    name_of,
    quote,
    statement_text,
)

# Session settings and transaction control are the runner's business (it sets lock_timeout
# and opens one transaction per step); copying them into steps would fight it.
SKIPPED_KINDS = frozenset({"transaction", "set_option"})
_PHASE_RANK = {phase: i for i, phase in enumerate(PHASE_ORDER)}
# Rule groups whose errors mean a long lock, a scan or a rewrite on live traffic (2xx locks
# and rewrites, 3xx constraints, 4xx indexes, 7xx MySQL online DDL, 8xx SQLite rebuilds).
HAZARD_RULE_GROUPS = ("SS2", "SS3", "SS4", "SS7", "SS8")
# Details of actions PostgreSQL refuses inside a transaction block.
_OUTSIDE_TRANSACTION = frozenset({"vacuum", "vacuum_full"})


class PlanError(ValueError):
    """A migration that cannot be planned: one line naming the file and line, exit 2."""


def plan_sql(sql: str, migration: str, config: Config, *, file: str | None = None,
             schema: str | None = None) -> Plan:  # fmt: skip
    """The plan for one migration's SQL. ``migration`` is its id (the .sql file's name
    without .sql, or the revision id); ``file`` names it in errors; ``schema`` is DDL of
    columns as they exist (their types), so a type change is priced exactly."""
    name = file or f"{migration}.sql"
    dialect = config.dialect
    linter = Linter(config)
    split = split_sql(sql, name, dialect)
    parsed = parse_all([item.statement.sql for item in split], dialect)
    state = linter.new_state(schema=schema)
    steps: list[tuple[Step, bool]] = []
    used: list[str] = []
    touched: set[str] = set()
    for item, actions in zip(split, parsed, strict=True):
        stmt = item.statement
        new_tables = {a.table for a in actions if a.table and state.is_new(a.table)}
        report = linter.lint_range([item], [actions], state, frozenset())[0]
        planned, label = _plan_statement(stmt, actions, report.changes, new_tables, dialect,
                                         report.findings)  # fmt: skip
        # A strategy's checks (verify-only expand / contract steps) go first in their phase,
        # so the runner checks them before the phase changes anything - except an expand
        # check of a table an earlier statement changes: it stays in place, after them.
        fresh = not any(a.table in touched for a in actions if a.table)
        steps.extend((s, is_check(s) and (fresh or s.phase is not Phase.EXPAND))
                     for s in planned)  # fmt: skip
        touched.update(a.table for a in actions if a.table)
        if label:
            used.append(f"{stmt.file}:{stmt.line} {label}")
    # stable: source order kept within a phase
    ordered = [s for s, _ in sorted(steps, key=lambda p: (_PHASE_RANK[p[0].phase], not p[1]))]
    return Plan(migration, dialect, tuple(ordered), source=sql, strategies=tuple(used))


def _plan_statement(
    stmt: Statement,
    actions: Sequence[Action],
    changes: Sequence[Change],
    new_tables: set[str],
    dialect: str,
    findings: Sequence[Finding] = (),
) -> tuple[list[Step], str | None]:
    where = f"{stmt.file}:{stmt.line}"
    for action, change in zip(actions, changes, strict=True):
        if action.kind == "raw" or change.kind == "raw":
            reason = action.reason or f"{action.kind.replace('_', ' ')} is not {dialect} SQL"
            raise PlanError(
                f"{where}: cannot plan a statement schemashift does not understand ({reason}); "
                "rewrite it as plain DDL, or run it outside schemashift"
            )
    if all(a.kind in SKIPPED_KINDS for a in actions):
        return [], None
    pairs = [(a, c) for a, c in zip(actions, changes, strict=True) if a.kind not in SKIPPED_KINDS]
    found = [
        (a, c, None if a.table in new_tables else find_strategy(a, c, dialect)) for a, c in pairs
    ]
    planned = [(a, s) for a, _, s in found if s is not None]
    if planned and len(pairs) > 1:
        kinds = ", ".join(a.kind for a, _ in pairs)
        raise PlanError(
            f"{where}: split this statement into one statement per change ({kinds}): "
            f"{strategy_name(planned[0][1])} needs steps of its own"
        )
    if planned:
        action, strategy = planned[0]
        try:
            return strategy.steps(action, dialect, stmt.sql), strategy_name(strategy)
        except StrategyError as exc:
            raise PlanError(f"{where}: {strategy_name(strategy)}: {exc}") from None
    return [_pass_through(stmt, pairs, new_tables, dialect, findings)], "as written"


def _phase_of(change: Change) -> Phase:
    return change.phase if change.compatibility is COMPATIBLE else Phase.CONTRACT


def _pass_through(
    stmt: Statement,
    pairs: Sequence[tuple[Action, Change]],
    new_tables: set[str],
    dialect: str,
    findings: Sequence[Finding] = (),
) -> Step:
    phases = {_phase_of(c) for _, c in pairs}
    if len(phases) > 1:
        kinds = ", ".join(f"{a.kind} ({_phase_of(c).value})" for a, c in pairs)
        raise PlanError(
            f"{stmt.file}:{stmt.line}: split this statement into one statement per change: "
            f"its changes belong to different phases ({kinds})"
        )
    phase = phases.pop()
    concurrent = dialect == "postgres" and any(
        a.concurrently or a.detail in _OUTSIDE_TRANSACTION
        or (a.kind == "alter_enum" and a.detail == "add_value")
        for a, _ in pairs
    )  # fmt: skip
    rollback: tuple[str, ...] = ()
    why = _why(pairs, phase, new_tables)
    if phase is Phase.EXPAND:
        undo = [_inverse(a, dialect) for a, _ in pairs]
        if all(u is not None for u in undo):
            rollback = tuple(sql for u in reversed(undo) for sql in u or ())
        else:
            why += "; rollback leaves it in place"
    return Step(
        phase,
        _describe(stmt.sql),
        sql=(statement_text(stmt.sql),),
        concurrent=concurrent,
        rollback=rollback,
        why=why,
        hazard=_hazard(pairs, new_tables, findings),
    )


def _hazard(pairs: Sequence[tuple[Action, Change]], new_tables: set[str],
            findings: Sequence[Finding]) -> str:  # fmt: skip
    """Why a passed-through statement would hurt live traffic, or "" when it would not."""
    tables = [a.table for a, _ in pairs if a.table]
    if tables and all(t in new_tables for t in tables):
        return ""
    errors = [f for f in findings
              if f.severity is Severity.ERROR and f.rule.startswith(HAZARD_RULE_GROUPS)]  # fmt: skip
    if errors:
        return "; ".join(f"{f.rule}: {f.message}" for f in errors)
    rewrites = [c.table for _, c in pairs if c.rewrites_table and c.table]
    if rewrites:
        return f"rewrites {', '.join(rewrites)} under {pairs[0][1].lock} with no strategy to avoid it"
    return ""


def _why(pairs: Sequence[tuple[Action, Change]], phase: Phase, new_tables: set[str]) -> str:
    kinds = ", ".join(sorted({a.kind.replace("_", " ") for a, _ in pairs}))
    tables = [a.table for a, _ in pairs if a.table]
    if tables and all(t in new_tables for t in tables):
        return f"{kinds} on a table this migration creates: no app version uses it yet"
    if any(c.compatibility is not COMPATIBLE for _, c in pairs):
        return f"{kinds} breaks the old app version: runs at contract, once no old version is live"
    locks = [
        f"{c.lock} on {c.table}"
        for _, c in pairs
        if c.lock_class is not LockClass.NONE and c.table is not None
    ]
    lock = f" (takes {', '.join(locks)})" if locks else ""
    if phase is Phase.BACKFILL:
        return f"{kinds}: a data change, run after expand while both versions run{lock}"
    if phase is Phase.CONTRACT:
        return f"{kinds}: removes what only old app versions may need{lock}"
    if phase is Phase.VERIFY:
        return f"{kinds}: checks existing rows before contract{lock}"
    return f"{kinds}: the old app version keeps working{lock}"


def _inverse(action: Action, dialect: str) -> tuple[str, ...] | None:
    """SQL undoing a passed-through expand action, when it is obvious; None otherwise."""
    kind = action.kind
    if kind in ("comment", "grant", "select", "validate_constraint"):
        return ()
    if not action.table:
        return None
    try:
        t = TableName.parse(action.table, dialect)
    except BadName:
        return None
    if kind in ("create_table", "create_view"):
        what = "TABLE" if kind == "create_table" else "VIEW"
        return (f"DROP {what} IF EXISTS {t.sql(dialect)}",)
    if kind == "add_column" and action.column_def is not None:
        column = action.column_def.name
        if dialect == "mysql":
            return mysql_drop_column_if_exists(t, column)
        return (f"ALTER TABLE {t.sql(dialect)} DROP COLUMN IF EXISTS {quote(column, dialect)}",)
    try:
        name = name_of(action.name, dialect)
    except StrategyError:
        return None
    if kind == "create_index" and name:
        if dialect == "mysql":
            return mysql_drop_index_if_exists(t, name)
        concurrently = " CONCURRENTLY" if action.concurrently else ""
        return (f"DROP INDEX{concurrently} IF EXISTS {t.sibling(name, dialect)}",)
    if kind == "add_constraint" and name and dialect == "postgres":
        return (f"ALTER TABLE {t.sql(dialect)} DROP CONSTRAINT IF EXISTS {quote(name, dialect)}",)
    return None


def _describe(sql: str) -> str:
    text = " ".join(statement_text(sql).split())
    return text if len(text) <= 72 else text[:71] + "…"


# --------------------------------------------------------------------------- rendering

# Strategies after whose contract a column's type has changed under live connections.
_TYPE_CHANGING = ("change_column_type", "bigint_primary_key")


def plan_warnings(plan: Plan) -> list[str]:
    """What an operator must know before running the plan (shown by plan and contract)."""
    from schemashift.strategies.change_column_type import PREPARED_WARNING

    out = []
    if plan.dialect == "postgres" and any(
        s.rsplit(" ", 1)[-1] in _TYPE_CHANGING for s in plan.strategies
    ):
        out.append(PREPARED_WARNING)
    hazards = [s for s in plan.steps if s.hazard]
    if hazards:
        out.append(
            f"{len(hazards)} step(s) have no safe strategy and are refused without "
            "--force --reason (see REFUSED below)"
        )
    return out
