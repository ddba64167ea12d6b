"""When a second core is worth using, and the fork/pipe plumbing to use it.

The lint pipeline (``schemashift.analysis.pipeline``) is the one user of the two-core path
for linting: it decides there, for every output format alike. ``map_halves`` is kept for
renderers that encode a big report in two halves. Anything unusual (no fork, one core, a
busy machine, a child that fails) falls back to doing the work in-process: the result is
the same either way.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 4000  # below this many statements, forking costs more than it saves


def can_fork() -> bool:
    return hasattr(os, "fork") and not os.environ.get("SCHEMASHIFT_NO_FORK")


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def runnable_now() -> float:
    """Processes running or waiting for a CPU right now (this one included).

    Linux's instantaneous count from /proc/loadavg ("2/177": 2 runnable); elsewhere the
    one-minute load average, which lags but is all there is.
    """
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1.0


def idle_core() -> bool:
    """True when, besides the one this process runs on, a CPU is free for a child."""
    cores = usable_cores()
    return cores > 1 and runnable_now() <= cores - 1


def enabled(n_items: int) -> bool:
    """Worth forking for ``n_items`` statements: big enough, fork available, a core idle."""
    return n_items >= MIN_ITEMS and can_fork() and idle_core()


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


def read_all(fd: int) -> bytes:
    """Everything written to a pipe until its writer closes it."""
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
