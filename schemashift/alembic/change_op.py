"""``op.schemashift_change(sql, part)``: a schema change planned by schemashift's strategies.

The revisions ``schemashift revision`` writes for a breaking change hold the change itself,
as SQL (``ALTER TABLE users RENAME COLUMN phone TO phone_number``), and which part of its
plan the revision runs: the expand revision ``"expand"`` (the expand and backfill steps),
its ``downgrade()`` ``"rollback"``, the contract revision ``"contract"`` (verify, then
contract). The steps come from the same strategies a ``.sql`` migration's plan comes from
(``schemashift.phases.planner.plan_sql``), planned for the database the revision runs on:
one recipe book, so a strategy changes in one place.

Three ways it runs:

- ``schemashift expand|backfill|verify|contract TARGET``: the phase engine plans the pair
  (alembic/plan_revision.py puts the strategy's steps in the plan), with everything the
  runner gives: run-time references captured at expand, steps atomic with their record,
  resumable batched backfill, the contract gate;
- plain ``alembic upgrade`` online: ``execute/inline.py`` runs the part's steps on
  Alembic's connection, each DDL with a lock timeout and retries, the backfill in batches,
  verify raising :class:`~schemashift.alembic.ops.VerificationError` with the keys;
- offline (``alembic upgrade --sql``): the planned statements as comments. They need the
  live catalog (a column's type, a table's key), so there is nothing to run blind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alembic.operations import MigrateOperation, Operations

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

PARTS = ("expand", "contract", "rollback")


class ChangeError(RuntimeError):
    """The change cannot be planned or run here (one line)."""


@Operations.register_operation("schemashift_change")
class ChangeOp(MigrateOperation):
    """One part of the plan of ``sql`` (see the module docstring)."""

    def __init__(self, sql: str, part: str = "expand", *, existing: str | None = None,
                 lock_timeout_ms: int = 1000) -> None:  # fmt: skip
        if part not in PARTS:
            raise ChangeError(f"schemashift_change part must be one of {', '.join(PARTS)}, "
                              f"not {part!r}")  # fmt: skip
        self.sql = sql
        self.part = part
        # DDL of the columns as they are before the change (their types), like Alembic's
        # existing_type: a type change is then priced exactly, not assumed to rewrite.
        self.existing = existing
        self.lock_timeout_ms = lock_timeout_ms

    @classmethod
    def schemashift_change(cls, operations: Operations, sql: str, part: str = "expand", *,
                           existing: str | None = None,
                           lock_timeout_ms: int = 1000) -> Any:  # fmt: skip
        return operations.invoke(cls(sql, part, existing=existing,
                                     lock_timeout_ms=lock_timeout_ms))  # fmt: skip

    def to_diff_tuple(self) -> tuple[Any, ...]:
        # `alembic check` lists a pending change as a diff tuple
        return ("schemashift_change", self.part, self.sql)

    def reverse(self) -> MigrateOperation:
        if self.part == "expand":
            return ChangeOp(self.sql, "rollback", existing=self.existing,
                            lock_timeout_ms=self.lock_timeout_ms)  # fmt: skip
        from schemashift.alembic.ops import CommentOp

        return CommentOp(f"{self.part} of a schemashift change: nothing to undo (fix forward)")


def dialect_name(sa_dialect_name: str) -> str:
    from schemashift.dialects.base import ALIASES

    return ALIASES.get(sa_dialect_name, sa_dialect_name)


def plan_change(sql: str, dialect: str, migration: str = "revision",
                existing: str | None = None) -> Any:  # fmt: skip
    """The plan of ``sql`` for ``dialect`` (raises ChangeError with the planner's line)."""
    from schemashift.config import Config
    from schemashift.phases.planner import PlanError, plan_sql

    try:
        return plan_sql(sql, migration, Config().with_overrides(dialect=dialect),
                        file=f"schemashift_change in {migration}", schema=existing)  # fmt: skip
    except PlanError as exc:
        raise ChangeError(str(exc)) from None


@Operations.implementation_for(ChangeOp)
def _run_change(operations: Operations, op: ChangeOp) -> None:
    context = operations.migration_context
    dialect = dialect_name(context.dialect.name)
    plan = plan_change(op.sql, dialect, existing=op.existing)
    if context.as_sql:
        from schemashift.phases.plan import part_steps
        from schemashift.sqltext import refs

        context.impl.static_output(
            f"-- schemashift_change ({op.part}): {' '.join(op.sql.split())}\n"
            "-- planned by schemashift; the statements need the live catalog, so run it "
            "online (alembic upgrade, or schemashift expand/backfill/verify/contract):"
        )
        for step in part_steps(plan, op.part):
            for sql in step.sql or ():
                for line in refs.render(sql).splitlines():
                    context.impl.static_output(f"--   {line}")
        return
    from schemashift.execute.inline import run_part

    run_part(operations, plan, op.part, lock_timeout_ms=op.lock_timeout_ms)


def _render_change(autogen_context: AutogenContext, op: ChangeOp) -> str:
    from schemashift.alembic.ops import _prefix, _uses_schemashift

    _uses_schemashift(autogen_context)
    sql = op.sql.strip()
    literal = f'"""{sql}"""' if '"""' not in sql and not sql.endswith('"') else repr(sql)
    extra = "" if op.existing is None else f", existing={op.existing!r}"
    if op.lock_timeout_ms != 1000:
        extra += f", lock_timeout_ms={op.lock_timeout_ms}"
    return f"{_prefix(autogen_context)}schemashift_change({literal}, {op.part!r}{extra})"
