"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("rename_schema", "drop_schema"):
        verb = "Renaming" if action.kind == "rename_schema" else "Dropping"
        yield f"{verb} schema {action.name} breaks every app version that uses its objects.", ""


RULE = Rule(
    id="SS109",
    name="schema-rename-or-drop",
    title="Renaming or dropping a schema breaks every app using it",
    severity=Severity.ERROR,
    summary=("Every object in the schema disappears from under the old app version at once."),
    fix=("Do it only in a contract phase, after no live app version uses the schema, or never."),
    kinds=frozenset({"rename_schema", "drop_schema"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="breaks old app (B), destroys data (X)",
)
