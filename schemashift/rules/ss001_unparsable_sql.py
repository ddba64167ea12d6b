"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("raw"):
        if action.detail == "dynamic":
            continue
        yield f"Not understood, treated as breaking: {action.reason or 'unknown statement'}.", ""


RULE = Rule(
    id="SS001",
    name="unparsable-sql",
    title="SQL that could not be parsed",
    severity=Severity.ERROR,
    summary=(
        "The statement was not understood, so its locks and compatibility are unknown. It "
        'is treated as breaking unless `unknown = "warn"` is configured.'
    ),
    fix=(
        "Rewrite it as plain DDL the linter understands, or review it by hand and "
        "suppress this finding with a reason."
    ),
    kinds=frozenset({"raw"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="unknown, treated as breaks old app (B)",
)
