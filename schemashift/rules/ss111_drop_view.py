"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("drop_view"):
        yield f"Dropping view {action.table} breaks any app version still querying it.", ""


RULE = Rule(
    id="SS111",
    name="drop-view",
    title="Dropping a view breaks the old app version",
    severity=Severity.ERROR,
    summary=("Queries of the old application version on the view fail once it is gone."),
    fix=("Drop the view only in the contract phase, after no live app version queries it."),
    kinds=frozenset({"drop_view"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B)",
)
