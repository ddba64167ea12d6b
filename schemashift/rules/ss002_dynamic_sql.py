"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("raw"):
        if action.detail == "dynamic":
            yield f"{action.reason or 'Procedural code'}: its effect on the schema is unknown.", ""


RULE = Rule(
    id="SS002",
    name="dynamic-sql",
    title="DDL hidden in procedural code cannot be checked",
    severity=Severity.ERROR,
    summary=(
        "DO blocks, EXECUTE and CALL run code the linter cannot see into: whatever DDL "
        "they run escapes every check."
    ),
    fix=(
        "Write the schema change as plain statements; if the block is needed, review it "
        "by hand and suppress with a reason."
    ),
    kinds=frozenset({"raw"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="unknown, treated as breaks old app (B)",
)
