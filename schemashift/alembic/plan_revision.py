"""An Alembic revision pair as a phase plan (docs/design.md §3.5, §5): TARGET of the phase commands.

``schemashift revision`` writes a change as an expand revision and a contract revision
that ``depends_on`` it. TARGET may name either one; the plan is built by rendering both
offline (no env.py, no database) and recording each operation with its SQL:

- operations of the expand revision → EXPAND steps (consecutive transactional operations
  form one step, so on PostgreSQL they commit together; each operation inside
  ``autocommit_block()`` is a ``concurrent`` step). The expand revision's ``downgrade()``,
  rendered offline, is the rollback of the first expand step;
- ``schemashift_backfill`` → a BACKFILL step (batched by the runner, from the op's fields);
- ``schemashift_verify`` → a VERIFY step (the keys of the rows that violate it);
- the other operations of the contract revision → CONTRACT steps.

Alembic's bookkeeping rides along: the last EXPAND step writes the expand revision into
``alembic_version`` (its rollback takes it out again), the last CONTRACT step the contract
revision, as Alembic's own head bookkeeping would for whatever rows are there when it runs
(version_table.py), and checks the result, so a later ``alembic upgrade heads`` runs
nothing a second time.

The migration id is the contract revision id (the expand id for a lone expand revision).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from schemashift.alembic import version_table
from schemashift.alembic.history import HistoryError, load_config, script_directory
from schemashift.alembic.offline import ALEMBIC_DIALECTS, Invocation, Recorder, recording
from schemashift.alembic.phase_split import PLACEHOLDER
from schemashift.model import Phase
from schemashift.phases.plan import Backfill, Plan, Step, Verify
from schemashift.sql.split import split_sql
from schemashift.sqltext import refs
from schemashift.sqltext.names import canonical

_NO_EFFECT = ("CommentOp", "PassOp")


class RevisionPlanError(HistoryError):
    """TARGET is not a revision of the project, or cannot be planned."""


@dataclass
class _Rendered:
    invocations: list[Invocation]
    sql: str
    concurrent: list[tuple[int, int]] = field(default_factory=list)  # autocommit spans
    dialect: Any = None

    def op_sql(self, inv: Invocation, dialect: str) -> tuple[str, ...]:
        text = self.sql[inv.start : inv.end]
        return _statements(text, dialect)

    def is_concurrent(self, inv: Invocation) -> bool:
        return any(a <= inv.start < b for a, b in self.concurrent)


def _statements(text: str, dialect: str) -> tuple[str, ...]:
    out = []
    for item in split_sql(text, "-", dialect):
        sql = item.statement.sql.strip().rstrip(";").strip()
        if sql and sql.upper() not in ("BEGIN", "COMMIT"):
            out.append(sql)
    return tuple(out)


@contextmanager
def _tracking_autocommit(rendered: _Rendered, buffer: io.StringIO) -> Iterator[None]:
    """Note the buffer span of every ``autocommit_block()``: its operations run outside
    a transaction."""
    from alembic.runtime.migration import MigrationContext

    original = MigrationContext.autocommit_block

    @contextmanager
    def autocommit_block(self: Any) -> Iterator[None]:
        with original(self):
            start = buffer.tell()
            try:
                yield
            finally:
                rendered.concurrent.append((start, buffer.tell()))

    MigrationContext.autocommit_block = autocommit_block  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        MigrationContext.autocommit_block = original  # type: ignore[method-assign]


def _render(cfg: Any, script: Any, rev: Any, dialect: str, fn: str) -> _Rendered:
    """Run ``upgrade()`` or ``downgrade()`` of one revision offline, recording each op."""
    from alembic.operations import Operations
    from alembic.runtime.environment import EnvironmentContext

    func = getattr(rev.module, fn, None)
    if not callable(func):
        raise RevisionPlanError(f"revision {rev.revision}: no {fn}() function")
    recorder = Recorder(source_file=str(Path(rev.module.__file__ or rev.path)))
    rendered = _Rendered([], "")
    env = EnvironmentContext(cfg, script)
    try:
        with env:
            env.configure(dialect_name=ALEMBIC_DIALECTS.get(dialect, dialect), as_sql=True,
                          output_buffer=recorder.buffer, literal_binds=True,
                          dialect_opts={"paramstyle": "named"})  # fmt: skip
            context = env.get_context()
            rendered.dialect = context.dialect
            with Operations.context(context), recording(recorder), \
                    _tracking_autocommit(rendered, recorder.buffer):  # fmt: skip
                func()
    except RevisionPlanError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise RevisionPlanError(
            f"revision {rev.revision}: {fn}() cannot be rendered offline: {text[:200]}"
        ) from None
    rendered.invocations = sorted(recorder.invocations, key=lambda inv: inv.start)
    rendered.sql = recorder.sql
    return rendered


def _describe(op: Any) -> str:
    name = type(op).__name__
    table = getattr(op, "table_name", None)
    column = getattr(op, "column_name", None)
    if column is None and getattr(op, "column", None) is not None:
        column = getattr(op.column, "name", None)
    what = ".".join(str(x) for x in (table, column) if x)
    if name == "ExecuteSQLOp" or hasattr(op, "sqltext"):
        text = " ".join(str(getattr(op, "sqltext", "")).split())
        return f"execute {text[:60]}"
    return f"{name.removesuffix('Op')} {what}".strip()


def _quoter(dialect: Any) -> Any:
    from schemashift.alembic.ops import _Quoter

    return _Quoter(dialect)


def _change_steps(op: Any, dialect: str, revision: str) -> list[Step]:
    """The steps of one ``op.schemashift_change``: its part of the strategy's plan, with
    the strategy's run-time references left for the runner to capture at expand."""
    from schemashift.alembic.change_op import ChangeError, plan_change
    from schemashift.phases.plan import part_steps

    if op.part == "rollback":
        return []  # the expand steps carry their own rollback
    try:
        plan = plan_change(op.sql, dialect, revision, existing=op.existing)
    except ChangeError as exc:
        raise RevisionPlanError(f"revision {revision}: {exc}") from None
    why = f"revision {revision}: {', '.join(plan.strategies) or 'schemashift_change'}"
    return [replace(s, why=f"{s.why} ({why})" if s.why else why)
            for s in part_steps(plan, op.part)]  # fmt: skip


def _backfill_step(op: Any, dialect: Any, revision: str) -> Step:
    if op.expression.strip().upper() == PLACEHOLDER:
        # `schemashift revision` writes NULL where it cannot know the value (a new NOT NULL
        # column): running it would "fill" nothing and lock the later phases on a plan
        # that must change anyway.
        raise RevisionPlanError(
            f"revision {revision}: the backfill of {op.table_name}.{op.column_name} is still "
            f"the placeholder {PLACEHOLDER}: write the SQL expression that fills it (the TODO "
            "in the revision file), then run plan or expand again"
        )
    q = _quoter(dialect)
    table = q.table(op.table_name, op.schema)
    column = q(op.column_name)
    return Step(
        Phase.BACKFILL,
        f"backfill {op.table_name}.{op.column_name} = {op.expression}",
        backfill=Backfill(
            table=table,
            assignments=f"{column} = {op.expression}",
            pending=op.condition(dialect.name, column),
            key=q(op.key),
        ),
        why=f"schemashift_backfill in revision {revision}",
    )


def _verify_step(op: Any, dialect: Any, revision: str) -> Step:
    q = _quoter(dialect)
    table = q.table(op.table_name, op.schema)
    parts = (op.schema, op.table_name) if op.schema else (op.table_name,)
    sql = f"SELECT {refs.ref('pk', canonical(parts))} FROM {table} WHERE ({op.condition}) IS NOT TRUE"
    return Step(Phase.VERIFY, f"verify {op.table_name}: {op.message}",
                verify=Verify(op.message, sql),
                why=f"schemashift_verify in revision {revision}")  # fmt: skip


def _phase_steps(rendered: _Rendered, phase: Phase, dialect: str, revision: str) -> list[Step]:
    """Backfill / verify ops become their own steps; the others ``phase`` steps, consecutive
    transactional ones merged into one (one transaction on PostgreSQL)."""
    from schemashift.alembic.change_op import ChangeOp
    from schemashift.alembic.ops import BackfillOp, VerifyOp

    steps: list[Step] = []
    pending: list[tuple[str, tuple[str, ...]]] = []

    def flush() -> None:
        if pending:
            sql = tuple(s for _, part in pending for s in part)
            steps.append(Step(phase, "; ".join(d for d, _ in pending), sql,
                              why=f"revision {revision}"))  # fmt: skip
            pending.clear()

    for inv in rendered.invocations:
        op = inv.operation
        if isinstance(op, ChangeOp):
            flush()
            steps.extend(_change_steps(op, dialect, revision))
        elif isinstance(op, BackfillOp):
            flush()
            steps.append(_backfill_step(op, rendered.dialect, revision))
        elif isinstance(op, VerifyOp):
            flush()
            steps.append(_verify_step(op, rendered.dialect, revision))
        elif type(op).__name__ in _NO_EFFECT:
            continue
        else:
            sql = rendered.op_sql(inv, dialect)
            if not sql:
                continue
            if rendered.is_concurrent(inv):
                flush()
                steps.append(Step(phase, _describe(op), sql, concurrent=True,
                                  why=f"revision {revision} (autocommit block)"))  # fmt: skip
            else:
                pending.append((_describe(op), sql))
    flush()
    return steps


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _resolve(script: Any, revision_id: str) -> Any:
    try:
        rev = script.get_revision(revision_id)
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise RevisionPlanError(f"{revision_id}: not a revision of this Alembic project "
                                f"({text[:160]})") from None  # fmt: skip
    if rev is None or isinstance(rev, tuple):
        raise RevisionPlanError(f"{revision_id}: not a revision of this Alembic project")
    return rev


def _pair(script: Any, rev: Any) -> tuple[Any, Any | None]:
    """(expand, contract or None) for either revision of a pair."""
    deps = _tuple(getattr(rev, "dependencies", None))
    labels = set(rev.branch_labels or ())  # Alembic gives every revision its branch's labels
    if not labels & {"expand", "contract"}:
        raise RevisionPlanError(
            f"{rev.revision}: not on the expand or contract branch, so not something the "
            "phase commands run (they run the expand/contract pairs `schemashift revision` "
            "writes): apply it with `alembic upgrade`, or write the change again with "
            "`schemashift revision` (run `schemashift init` first if the project has no "
            "expand/contract branches)"
        )
    if "contract" in labels and not deps:
        raise RevisionPlanError(
            f"{rev.revision}: a contract revision must depends_on the expand revision of its "
            "pair; this one depends on none"
        )
    is_contract = bool(deps) and "expand" not in labels
    if is_contract:
        # The contract revision depends_on its expand revision (the one on the expand branch).
        expands = [script.get_revision(d) for d in deps]
        if len(expands) != 1 or expands[0] is None:
            raise RevisionPlanError(
                f"{rev.revision}: a contract revision must depends_on exactly one expand "
                f"revision, not {', '.join(deps)}"
            )
        return expands[0], rev
    partners = [
        r for r in script.walk_revisions("base", "heads")
        if rev.revision in _tuple(getattr(r, "dependencies", None))
        and r.revision != rev.revision
    ]  # fmt: skip
    if len(partners) > 1:
        raise RevisionPlanError(
            f"{rev.revision}: more than one revision depends_on it "
            f"({', '.join(sorted(p.revision for p in partners))}); name the contract revision"
        )
    return rev, (partners[0] if partners else None)


def plan_revision(config_path: Path | str, revision_id: str, dialect: str) -> Plan:
    """The phase plan of the revision pair ``revision_id`` belongs to."""
    cfg = load_config(Path(config_path))
    script, failures = script_directory(cfg)
    rev = _resolve(script, revision_id)
    expand, contract = _pair(script, rev)
    for r in (expand, contract):
        if r is not None and r.revision in failures:
            raise RevisionPlanError(f"revision {r.revision}: {failures[r.revision]}")

    up = _render(cfg, script, expand, dialect, "upgrade")
    down = _render(cfg, script, expand, dialect, "downgrade")
    rollback = tuple(s for inv in down.invocations
                     if type(inv.operation).__name__ not in _NO_EFFECT
                     for s in down.op_sql(inv, dialect))  # fmt: skip
    steps = _phase_steps(up, Phase.EXPAND, dialect, expand.revision)
    steps.append(Step(Phase.EXPAND, f"alembic_version: stamp {expand.revision}",
                      version_table.upgrade_sql(expand, dialect),
                      rollback=version_table.downgrade_sql(script, expand, dialect),
                      verify=version_table.stamp_check(script, expand, dialect),
                      why="Alembic's bookkeeping"))  # fmt: skip
    first = next(i for i, s in enumerate(steps) if s.phase is Phase.EXPAND)
    if rollback:
        # The whole downgrade undoes the expand: it belongs to the step that starts it.
        steps[first] = replace(steps[first], rollback=rollback + steps[first].rollback)

    if contract is not None:
        rendered = _render(cfg, script, contract, dialect, "upgrade")
        steps.extend(_phase_steps(rendered, Phase.CONTRACT, dialect, contract.revision))
        steps.append(Step(Phase.CONTRACT, f"alembic_version: stamp {contract.revision}",
                          version_table.upgrade_sql(contract, dialect),
                          verify=version_table.stamp_check(script, contract, dialect),
                          why="Alembic's bookkeeping"))  # fmt: skip

    # Verify steps run as their own phase (between backfill and contract), whatever
    # revision they sit in; backfill steps likewise.
    order = {Phase.EXPAND: 0, Phase.BACKFILL: 1, Phase.VERIFY: 2, Phase.CONTRACT: 3}
    steps.sort(key=lambda s: order[s.phase])  # stable: keeps the order inside a phase
    migration = contract.revision if contract is not None else expand.revision
    source = "\n".join(str(r.path) for r in (expand, contract) if r is not None)
    return Plan(migration, dialect, tuple(steps), source=source,
                strategies=("alembic revision pair",))  # fmt: skip
