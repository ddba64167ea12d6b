"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs():
        if action.lock_clause in ("SHARED", "EXCLUSIVE") or action.algorithm == "COPY":
            clause = (
                f"LOCK={action.lock_clause}"
                if action.lock_clause in ("SHARED", "EXCLUSIVE")
                else "ALGORITHM=COPY"
            )
            yield f"{clause} on {action.table} blocks writes for the whole ALTER.", ""
            return


RULE = Rule(
    id="SS703",
    name="mysql-lock-clause-blocks-dml",
    title="Explicit LOCK or ALGORITHM clause that blocks DML",
    severity=Severity.WARNING,
    summary=(
        "LOCK=SHARED blocks writes and LOCK=EXCLUSIVE blocks reads too, for the whole "
        "ALTER; ALGORITHM=COPY implies at least SHARED."
    ),
    fix=(
        "Ask for LOCK=NONE (and ALGORITHM=INPLACE or INSTANT): the server then refuses "
        "what it cannot do online instead of blocking."
    ),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql"}),
    axes="long lock, rewrite or scan (L)",
)
