"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("alter_enum", "drop_type"):
        if action.kind == "drop_type":
            yield f"Dropping type {action.name} breaks every column and query still using it.", ""
        elif action.detail == "rename_value":
            yield (
                (
                    f"Renaming a value of {action.name} breaks old app code that still writes the "
                    "old label."
                ),
                "",
            )


RULE = Rule(
    id="SS110",
    name="enum-value-rename-or-type-drop",
    title="Renaming an enum value or dropping a type breaks old code",
    severity=Severity.ERROR,
    summary=(
        "The old app version still writes the old enum label or uses the type; those writes fail."
    ),
    fix=(
        "Add the new value, migrate the rows in batches, switch the app, and remove the "
        "old value or type in the contract phase."
    ),
    kinds=frozenset({"alter_enum", "drop_type"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="breaks old app (B), destroys data (X)",
)
