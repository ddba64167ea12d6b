"""Use the second core for the parts of a big lint run that split in two.

Parsing statements, and linting and encoding the second half of a large file (from the
file state after its first half), do not need the parent's work: a forked child does
one half while the parent does the other. Anything unusual (no fork, one core, a child
that fails) falls back to doing the work in-process: the result is the same either way.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 4000  # below this many statements, forking costs more than it saves


def enabled(n_items: int) -> bool:
    return (
        n_items >= MIN_ITEMS
        and hasattr(os, "fork")
        and (os.cpu_count() or 1) > 1
        and not os.environ.get("SCHEMASHIFT_NO_FORK")
    )


def spawn(fn: Callable[[], R]) -> Callable[[], R]:
    """Start ``fn()`` in a forked child; the returned function waits for its result."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, send, and leave without running the parent's cleanup
        status = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)

    def join() -> R:
        with os.fdopen(read_fd, "rb") as inp:
            data = inp.read()
        _, status = os.waitpid(pid, 0)
        if status == 0 and data:
            result: R = pickle.loads(data)
            return result
        return fn()  # the child failed: do it here

    return join


def map_halves(fn: Callable[[Sequence[T]], R], items: Sequence[T]) -> list[R]:
    """``[fn(first half), fn(second half)]`` (or ``[fn(items)]`` when not worth forking)."""
    if not enabled(len(items)):
        return [fn(items)]
    mid = len(items) // 2
    join = spawn(lambda: fn(items[mid:]))
    first = fn(items[:mid])
    return [first, join()]
