"""schemashift's own Alembic operations, as readable calls in revision files.

Importing this module registers them (a generated revision imports it itself):

``op.schemashift_backfill(table, column, expression, *, key="id", batch_size=5000)``
    Fill ``column`` from the SQL ``expression`` for existing rows. Online (a plain
    ``alembic upgrade``) it walks the table in keyset-paginated batches of ``batch_size``
    on ``key``, one statement per batch. Offline (``--sql``) it emits one set-based
    ``UPDATE``. Only rows that still need a value are touched: ``column IS NULL``, or with
    ``overwrite=True`` every row where ``column IS DISTINCT FROM (expression)``.

``op.schemashift_verify(table, condition, message)``
    Online: ``SELECT count(*) … WHERE (condition) IS NOT TRUE`` and raise
    :class:`VerificationError` naming the table, the count and ``message`` when a row
    violates it. Offline: the check as a comment and the ``SELECT`` to run by hand.

``op.schemashift_sync_trigger(table, old_column, new_column)`` /
``op.drop_schemashift_sync_trigger(table, old_column, new_column)``
    PostgreSQL only: a ``BEFORE INSERT OR UPDATE`` row trigger (function and trigger named
    ``schemashift_sync_<table>_<old>_<new>``) that keeps the two columns equal in both
    directions, so the old app version (writing ``old_column``) and the new one (writing
    ``new_column``) can both write while they run side by side.

Helpers the autogenerate split puts in revision bodies, rendered but with no effect on
the schema of their own: :class:`AutocommitBlockOp` (``with
op.get_context().autocommit_block():`` around ``CONCURRENTLY`` statements),
:class:`CommentOp` (``# …`` lines explaining a phase) and :class:`PassOp`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic.operations import MigrateOperation, Operations
from alembic.operations.ops import ExecuteSQLOp

from schemashift.sqltext.triggers import (
    quote_ident,
    quote_name,
    sync_trigger_names,
    sync_trigger_sql,
)

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

__all__ = [
    "AutocommitBlockOp",
    "BackfillOp",
    "CommentOp",
    "CreateSyncTriggerOp",
    "DropSyncTriggerOp",
    "LockTimeoutOp",
    "PassOp",
    "ReversibleSQLOp",
    "VerificationError",
    "VerifyOp",
    "sync_trigger_name",
]

# The line a generated revision needs so that ``op.schemashift_*`` exist when it runs.
IMPORT_LINE = "import schemashift.alembic.ops  # noqa: F401 - registers op.schemashift_*"


class VerificationError(RuntimeError):
    """A ``schemashift_verify`` check found rows that violate it."""


def sync_trigger_name(table_name: str, old_column: str, new_column: str) -> str:
    """The name of the sync trigger pair's INSERT trigger (see sqltext/triggers.py)."""
    return sync_trigger_names(quote_ident(table_name), quote_ident(old_column),
                              quote_ident(new_column))[0]  # fmt: skip


def _sql_table(table_name: str, schema: str | None) -> str:
    return quote_name((schema, table_name)) if schema else quote_ident(table_name)


def _escape_colons(sql: str) -> str:
    """SQL text for ``sa.text`` with no bind parameters: ``:x`` stays literal."""
    return re.sub(r"(?<!\\):", r"\\:", sql)


def _prefix(autogen_context: AutogenContext) -> str:
    prefix = autogen_context.opts.get("alembic_module_prefix")
    return prefix if isinstance(prefix, str) else "op."


def _uses_schemashift(autogen_context: AutogenContext) -> None:
    autogen_context.imports.add(IMPORT_LINE)


def _kwargs(pairs: Sequence[tuple[str, object]]) -> str:
    return "".join(f", {name}={value!r}" for name, value in pairs)


class _Quoter:
    """Identifier quoting in the migration's own dialect."""

    def __init__(self, dialect: Any) -> None:
        self.preparer = dialect.identifier_preparer

    def __call__(self, name: str) -> str:
        return str(self.preparer.quote(name))

    def table(self, name: str, schema: str | None) -> str:
        quoted = self(name)
        return f"{self.preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def _distinct(dialect_name: str, left: str, right: str) -> str:
    """``left IS DISTINCT FROM right`` in the dialect's words."""
    if dialect_name in ("mysql", "mariadb"):
        return f"NOT ({left} <=> ({right}))"
    if dialect_name == "sqlite":
        return f"{left} IS NOT ({right})"
    return f"{left} IS DISTINCT FROM ({right})"


# --------------------------------------------------------------------------- backfill


@Operations.register_operation("schemashift_backfill")
class BackfillOp(MigrateOperation):
    """Copy or compute ``column`` for the rows that exist (see the module docstring)."""

    def __init__(
        self,
        table_name: str,
        column_name: str,
        expression: str,
        *,
        key: str = "id",
        batch_size: int = 5000,
        overwrite: bool = False,
        schema: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"schemashift_backfill: batch_size must be >= 1, not {batch_size}")
        self.table_name = table_name
        self.column_name = column_name
        self.expression = expression
        self.key = key
        self.batch_size = batch_size
        self.overwrite = overwrite
        self.schema = schema

    @classmethod
    def schemashift_backfill(
        cls,
        operations: Operations,
        table_name: str,
        column_name: str,
        expression: str,
        *,
        key: str = "id",
        batch_size: int = 5000,
        overwrite: bool = False,
        schema: str | None = None,
    ) -> Any:
        """Fill ``column_name`` of existing rows from the SQL ``expression``, in batches."""
        return operations.invoke(
            cls(
                table_name, column_name, expression,
                key=key, batch_size=batch_size, overwrite=overwrite, schema=schema,
            )
        )  # fmt: skip

    def reverse(self) -> MigrateOperation:
        return CommentOp(f"backfill of {self.table_name}.{self.column_name}: nothing to undo")

    def condition(self, dialect_name: str, column_sql: str) -> str:
        """The rows still to fill."""
        if self.overwrite:
            return _distinct(dialect_name, column_sql, self.expression)
        return f"{column_sql} IS NULL"


@Operations.implementation_for(BackfillOp)
def _run_backfill(operations: Operations, op: BackfillOp) -> None:
    context = operations.migration_context
    dialect = context.dialect
    q = _Quoter(dialect)
    table, column, key = q.table(op.table_name, op.schema), q(op.column_name), q(op.key)
    todo = op.condition(dialect.name, column)
    if context.as_sql:
        context.impl.static_output(
            f"-- schemashift backfill: {table}.{column} = {op.expression}. One set-based "
            f"UPDATE here; the phase engine runs it in batches of {op.batch_size} on {key}."
        )
        operations.execute(
            sa.text(_escape_colons(f"UPDATE {table} SET {column} = {op.expression} WHERE {todo}"))
        )
        return
    bind = operations.get_bind()
    expression = _escape_colons(op.expression)
    todo = _escape_colons(op.condition(dialect.name, column))
    last: Any = None
    while True:
        after = "" if last is None else f" WHERE {key} > :last"
        params: dict[str, Any] = {"n": op.batch_size}
        if last is not None:
            params["last"] = last
        if dialect.name == "postgresql":
            # One statement per batch: take the next keys, update those still to fill,
            # return where the batch ended.
            row = bind.execute(
                sa.text(
                    f"WITH batch AS (SELECT {key} FROM {table}{after} ORDER BY {key} LIMIT :n), "
                    f"done AS (UPDATE {table} SET {column} = {expression} "
                    f"WHERE {key} IN (SELECT {key} FROM batch) AND {todo} RETURNING 1) "
                    f"SELECT (SELECT max({key}) FROM batch), (SELECT count(*) FROM done)"
                ),
                params,
            ).one()
            upper = row[0]
        else:
            upper = bind.execute(
                sa.text(
                    f"SELECT max({key}) FROM (SELECT {key} FROM {table}{after} "
                    f"ORDER BY {key} LIMIT :n) AS batch"
                ),
                params,
            ).scalar()
            if upper is not None:
                lower = "" if last is None else f"{key} > :last AND "
                bind.execute(
                    sa.text(
                        f"UPDATE {table} SET {column} = {expression} "
                        f"WHERE {lower}{key} <= :upper AND {todo}"
                    ),
                    {**({} if last is None else {"last": last}), "upper": upper},
                )
        if upper is None:
            return
        last = upper


def _render_backfill(autogen_context: AutogenContext, op: BackfillOp) -> str:
    _uses_schemashift(autogen_context)
    extra: list[tuple[str, object]] = [("key", op.key), ("batch_size", op.batch_size)]
    if op.overwrite:
        extra.append(("overwrite", True))
    if op.schema is not None:
        extra.append(("schema", op.schema))
    return (
        f"{_prefix(autogen_context)}schemashift_backfill("
        f"{op.table_name!r}, {op.column_name!r}, {op.expression!r}{_kwargs(extra)})"
    )


# --------------------------------------------------------------------------- verify


@Operations.register_operation("schemashift_verify")
class VerifyOp(MigrateOperation):
    """A condition every row of a table must meet before the contract phase goes on."""

    def __init__(
        self, table_name: str, condition: str, message: str, *, schema: str | None = None
    ) -> None:
        self.table_name = table_name
        self.condition = condition
        self.message = message
        self.schema = schema

    @classmethod
    def schemashift_verify(
        cls,
        operations: Operations,
        table_name: str,
        condition: str,
        message: str,
        *,
        schema: str | None = None,
    ) -> Any:
        """Fail unless every row of ``table_name`` meets the SQL ``condition``."""
        return operations.invoke(cls(table_name, condition, message, schema=schema))

    def reverse(self) -> MigrateOperation:
        return CommentOp(f"verify on {self.table_name}: nothing to undo")


@Operations.implementation_for(VerifyOp)
def _run_verify(operations: Operations, op: VerifyOp) -> None:
    context = operations.migration_context
    table = _Quoter(context.dialect).table(op.table_name, op.schema)
    query = f"SELECT count(*) FROM {table} WHERE ({op.condition}) IS NOT TRUE"
    if context.as_sql:
        comment = " ".join(op.message.split())
        context.impl.static_output(
            f"-- schemashift verify: {comment}. Every row of {table} must satisfy "
            f"{' '.join(op.condition.split())}; the count below must be 0."
        )
        operations.execute(sa.text(_escape_colons(query)))
        return
    count = operations.get_bind().execute(sa.text(_escape_colons(query))).scalar()
    if count:
        raise VerificationError(
            f"schemashift verify failed on {table}: {op.message} "
            f"({count} row(s) do not satisfy {op.condition})"
        )


def _render_verify(autogen_context: AutogenContext, op: VerifyOp) -> str:
    _uses_schemashift(autogen_context)
    extra: list[tuple[str, object]] = [] if op.schema is None else [("schema", op.schema)]
    return (
        f"{_prefix(autogen_context)}schemashift_verify("
        f"{op.table_name!r}, {op.condition!r}, {op.message!r}{_kwargs(extra)})"
    )


# --------------------------------------------------------------------------- sync trigger


class _SyncTriggerBase(MigrateOperation):
    def __init__(
        self, table_name: str, old_column: str, new_column: str, *, schema: str | None = None
    ) -> None:
        self.table_name = table_name
        self.old_column = old_column
        self.new_column = new_column
        self.schema = schema

    @property
    def name(self) -> str:
        return sync_trigger_name(self.table_name, self.old_column, self.new_column)

    def _render(self, autogen_context: AutogenContext, method: str) -> str:
        _uses_schemashift(autogen_context)
        extra: list[tuple[str, object]] = [] if self.schema is None else [("schema", self.schema)]
        return (
            f"{_prefix(autogen_context)}{method}("
            f"{self.table_name!r}, {self.old_column!r}, {self.new_column!r}{_kwargs(extra)})"
        )


@Operations.register_operation("schemashift_sync_trigger")
class CreateSyncTriggerOp(_SyncTriggerBase):
    """Keep ``old_column`` and ``new_column`` equal on every insert and update."""

    @classmethod
    def schemashift_sync_trigger(
        cls,
        operations: Operations,
        table_name: str,
        old_column: str,
        new_column: str,
        *,
        schema: str | None = None,
    ) -> Any:
        """Create the trigger that keeps ``old_column`` and ``new_column`` equal."""
        return operations.invoke(cls(table_name, old_column, new_column, schema=schema))

    def reverse(self) -> MigrateOperation:
        return DropSyncTriggerOp(
            self.table_name, self.old_column, self.new_column, schema=self.schema
        )


@Operations.register_operation("drop_schemashift_sync_trigger")
class DropSyncTriggerOp(_SyncTriggerBase):
    """Drop the trigger and function :class:`CreateSyncTriggerOp` made."""

    @classmethod
    def drop_schemashift_sync_trigger(
        cls,
        operations: Operations,
        table_name: str,
        old_column: str,
        new_column: str,
        *,
        schema: str | None = None,
    ) -> Any:
        """Drop the trigger that keeps ``old_column`` and ``new_column`` equal."""
        return operations.invoke(cls(table_name, old_column, new_column, schema=schema))

    def reverse(self) -> MigrateOperation:
        return CreateSyncTriggerOp(
            self.table_name, self.old_column, self.new_column, schema=self.schema
        )


def _postgres_only(operations: Operations, op: _SyncTriggerBase) -> _Quoter:
    dialect = operations.migration_context.dialect
    if dialect.name != "postgresql":
        raise NotImplementedError(
            f"schemashift sync triggers are PostgreSQL only; this migration runs on "
            f"{dialect.name} ({op.table_name}.{op.old_column} -> {op.new_column}). "
            "Write the copy for this database by hand, or rename in the contract phase."
        )
    return _Quoter(dialect)


def create_sync_trigger_sql(
    q: _Quoter, table_name: str, old_column: str, new_column: str, schema: str | None
) -> list[str]:
    """The statements that install the sync trigger: the one implementation the
    strategies use too (schemashift.sqltext.triggers)."""
    table = _sql_table(table_name, schema)
    return sync_trigger_sql(table, quote_ident(old_column), quote_ident(new_column))[0]


def drop_sync_trigger_sql(
    q: _Quoter, table_name: str, old_column: str, new_column: str, schema: str | None
) -> list[str]:
    table = _sql_table(table_name, schema)
    return sync_trigger_sql(table, quote_ident(old_column), quote_ident(new_column))[1]


@Operations.implementation_for(CreateSyncTriggerOp)
def _run_create_sync_trigger(operations: Operations, op: CreateSyncTriggerOp) -> None:
    q = _postgres_only(operations, op)
    for sql in create_sync_trigger_sql(q, op.table_name, op.old_column, op.new_column, op.schema):
        operations.execute(sa.text(_escape_colons(sql)))


@Operations.implementation_for(DropSyncTriggerOp)
def _run_drop_sync_trigger(operations: Operations, op: DropSyncTriggerOp) -> None:
    q = _postgres_only(operations, op)
    for sql in drop_sync_trigger_sql(q, op.table_name, op.old_column, op.new_column, op.schema):
        operations.execute(sa.text(_escape_colons(sql)))


def _render_create_sync_trigger(autogen_context: AutogenContext, op: CreateSyncTriggerOp) -> str:
    return op._render(autogen_context, "schemashift_sync_trigger")


def _render_drop_sync_trigger(autogen_context: AutogenContext, op: DropSyncTriggerOp) -> str:
    return op._render(autogen_context, "drop_schemashift_sync_trigger")


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- lock timeout


@Operations.register_operation("schemashift_lock_timeout")
class LockTimeoutOp(MigrateOperation):
    """Bound every later statement's wait for a lock (``lock_timeout_ms``): a revision's
    DDL must not queue behind a long transaction and block all traffic behind itself. The
    revisions ``schemashift revision`` writes start with it, so plain ``alembic upgrade``
    keeps the bound (``op.schemashift_change`` sets its own and retries)."""

    def __init__(self, lock_timeout_ms: int = 1000) -> None:
        self.lock_timeout_ms = lock_timeout_ms

    @classmethod
    def schemashift_lock_timeout(cls, operations: Operations, lock_timeout_ms: int = 1000) -> Any:
        return operations.invoke(cls(lock_timeout_ms))

    def reverse(self) -> MigrateOperation:
        return LockTimeoutOp(self.lock_timeout_ms)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("lock_timeout", self.lock_timeout_ms)


def lock_timeout_sql(dialect_name: str, lock_timeout_ms: int) -> str | None:
    """The statement that bounds lock waits for the rest of the migration (None: SQLite)."""
    if dialect_name == "postgresql":
        return f"SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'"
    if dialect_name in ("mysql", "mariadb"):
        return f"SET SESSION lock_wait_timeout = {max(1, -(-int(lock_timeout_ms) // 1000))}"
    return None


@Operations.implementation_for(LockTimeoutOp)
def _run_lock_timeout(operations: Operations, op: LockTimeoutOp) -> None:
    sql = lock_timeout_sql(operations.migration_context.dialect.name, op.lock_timeout_ms)
    if sql is not None:
        operations.execute(sql)


def _render_lock_timeout(autogen_context: AutogenContext, op: LockTimeoutOp) -> str:
    _uses_schemashift(autogen_context)
    arg = "" if op.lock_timeout_ms == 1000 else str(op.lock_timeout_ms)
    return f"{_prefix(autogen_context)}schemashift_lock_timeout({arg})"


class ReversibleSQLOp(ExecuteSQLOp):
    """``op.execute(sql)`` that knows its own reverse (``None``: nothing to undo).

    Rendered exactly like ``op.execute``; the reverse only shapes the downgrade the
    autogenerate split writes.
    """

    def __init__(self, sqltext: str, reverse: MigrateOperation | None = None) -> None:
        super().__init__(sqltext)
        self.reverse_op = reverse

    def reverse(self) -> MigrateOperation:
        if self.reverse_op is None:
            return CommentOp(f"{self.sqltext}: nothing to undo")
        return self.reverse_op


class AutocommitBlockOp(MigrateOperation):
    """Operations that must run outside a transaction (``CONCURRENTLY``)."""

    def __init__(self, ops: Sequence[MigrateOperation]) -> None:
        self.ops = list(ops)

    def reverse(self) -> MigrateOperation:
        return AutocommitBlockOp([o.reverse() for o in reversed(self.ops)])


@Operations.implementation_for(AutocommitBlockOp)
def _run_autocommit_block(operations: Operations, op: AutocommitBlockOp) -> None:
    with operations.get_context().autocommit_block():
        for inner in op.ops:
            operations.invoke(inner)


def _render_autocommit_block(autogen_context: AutogenContext, op: AutocommitBlockOp) -> list[str]:
    lines = [f"with {_prefix(autogen_context)}get_context().autocommit_block():"]
    body: list[str] = []
    from alembic.autogenerate.render import render_op

    for inner in op.ops:
        body.extend(render_op(autogen_context, inner))
    lines.extend(body or ["pass"])
    lines.append("")  # ends the block (the renderer's printer dedents on a blank line)
    return lines


class CommentOp(MigrateOperation):
    """``# …`` lines in a revision body; does nothing when run."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_diff_tuple(self) -> tuple[Any, ...]:  # `alembic check` lists every op
        return ("comment", self.text)

    def reverse(self) -> MigrateOperation:
        return CommentOp(self.text)


@Operations.implementation_for(CommentOp)
def _run_comment(operations: Operations, op: CommentOp) -> None:
    return None


def _render_comment(autogen_context: AutogenContext, op: CommentOp) -> list[str]:
    return [f"# {line}".rstrip() for line in op.text.splitlines() or [""]]


class PassOp(MigrateOperation):
    """A ``pass`` statement: keeps a body of only comments valid Python."""

    def reverse(self) -> MigrateOperation:
        return PassOp()


@Operations.implementation_for(PassOp)
def _run_pass(operations: Operations, op: PassOp) -> None:
    return None


def _render_pass(autogen_context: AutogenContext, op: PassOp) -> str:
    return "pass"
# op.schemashift_change lives in its own module; importing this one registers it too.
from schemashift.alembic import change_op as _change_op  # noqa: E402,F401
