"""Render Alembic operations to SQL offline (``as_sql``), for any target dialect.

No database and no env.py: a ``MigrationContext`` in ``as_sql`` mode writes the SQL each
operation emits to a buffer. Every ``Operations.invoke`` is recorded with the typed
operation object, the SQL it produced (its slice of the buffer) and the line of the
revision file that called it, so the linter can report statements at the line a reviewer
reads and use what the typed op says beyond its SQL (``existing_type`` of a type change).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ALEMBIC_DIALECTS = {"postgres": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}


@dataclass
class Invocation:
    """One operation as a revision ran it."""

    operation: Any  # alembic.operations.ops.MigrateOperation
    start: int  # its SQL is buffer[start:end]
    end: int
    line: int | None  # line in the revision file that invoked it (None: not found)


@dataclass
class Recorder:
    buffer: io.StringIO = field(default_factory=io.StringIO)
    invocations: list[Invocation] = field(default_factory=list)
    source_file: str | None = None
    depth: int = 0  # ops invoked by ops (batch mode) are part of their parent
    # Batch mode queues its operations and emits their SQL when the block ends: the buffer
    # span each queued operation's SQL took, with the line that called it.
    batch_spans: list[tuple[int, int, int | None]] = field(default_factory=list)
    _batch_lines: dict[int, list[int | None]] = field(default_factory=dict)

    @property
    def sql(self) -> str:
        return self.buffer.getvalue()

    def caller_line(self) -> int | None:
        if self.source_file is None:
            return None
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.source_file:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Record every operation invoked while the block runs."""
    # Patch the base class: batch mode's BatchOperations is a sibling of Operations.
    from alembic.operations.base import AbstractOperations as Operations
    from alembic.operations.batch import BatchOperationsImpl

    original: Callable[[Any, Any], Any] = Operations.invoke
    original_flush: Callable[[Any], Any] = BatchOperationsImpl.flush

    def invoke(self: Any, operation: Any) -> Any:
        if recorder.depth:
            return original(self, operation)
        start = recorder.buffer.tell()
        line = recorder.caller_line()
        impl = getattr(self, "impl", None)
        queued = len(impl.batch) if isinstance(impl, BatchOperationsImpl) else None
        recorder.depth += 1
        try:
            return original(self, operation)
        finally:
            recorder.depth -= 1
            recorder.invocations.append(Invocation(operation, start, recorder.buffer.tell(), line))
            if queued is not None and impl is not None:
                added = len(impl.batch) - queued
                recorder._batch_lines.setdefault(id(impl), []).extend([line] * added)

    def flush(self: Any) -> Any:
        lines = recorder._batch_lines.pop(id(self), [])
        entries = list(self.batch)
        spans: list[list[Any]] = []

        class Tracked(list):  # type: ignore[type-arg]
            """The queue, noting where each entry's SQL starts as flush walks it (the last
            walk is flush's own: the ones before it emit nothing)."""

            def __iter__(self) -> Iterator[Any]:
                spans.clear()
                for index, entry in enumerate(entries):
                    if spans:
                        spans[-1][1] = recorder.buffer.tell()
                    line = lines[index] if index < len(lines) else None
                    spans.append([recorder.buffer.tell(), None, line])
                    yield entry
                if spans:
                    spans[-1][1] = recorder.buffer.tell()

        self.batch = Tracked(entries)
        try:
            return original_flush(self)
        finally:
            recorder.batch_spans.extend((a, b if b is not None else recorder.buffer.tell(), line)
                                        for a, b, line in spans if b != a)  # fmt: skip

    Operations.invoke = invoke  # type: ignore[method-assign]
    BatchOperationsImpl.flush = flush  # type: ignore[method-assign,assignment]
    try:
        yield recorder
    finally:
        Operations.invoke = original  # type: ignore[method-assign,assignment]
        BatchOperationsImpl.flush = original_flush  # type: ignore[method-assign,assignment]


def offline_context(dialect: str, buffer: io.StringIO, **opts: Any) -> Any:
    """A ``MigrationContext`` that writes SQL for ``dialect`` to ``buffer``."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(
        dialect_name=ALEMBIC_DIALECTS.get(dialect, dialect),
        opts={"as_sql": True, "output_buffer": buffer, **opts},
        # No pyformat escaping: a % in a name or literal is written as it is.
        dialect_opts={"paramstyle": "named"},
    )


def render_operations(operations: list[Any], dialect: str) -> list[tuple[Any, str]]:
    """(operation, SQL) for each typed operation (e.g. an autogenerated ``UpgradeOps``)."""
    from alembic.operations import Operations

    recorder = Recorder()
    context = offline_context(dialect, recorder.buffer)
    operations_proxy = Operations(context)
    with recording(recorder):
        for operation in operations:
            operations_proxy.invoke(operation)
    sql = recorder.sql
    return [(inv.operation, sql[inv.start : inv.end]) for inv in recorder.invocations]
