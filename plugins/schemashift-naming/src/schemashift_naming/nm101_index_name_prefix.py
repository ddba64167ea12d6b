"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule
from schemashift_naming.names import last_part

PREFIXES = ("ix_", "idx_")


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("create_index", "rename_index"):
        name = action.new_name if action.kind == "rename_index" else action.name
        if name is None:  # the server makes one up, and each server another
            yield f"The index on {action.table} has no name; name it ix_<table>_<columns>.", ""
            continue
        part = last_part(name, ctx.dialect)
        if not part.startswith(PREFIXES):
            yield f"Index {part} does not start with ix_ or idx_.", ""


RULE = Rule(
    id="NM101",
    name="index-name-prefix",
    title="Index name without the ix_ or idx_ prefix",
    severity=Severity.WARNING,
    summary=(
        "Index names tell what an object is at a glance in plans, logs and lock waits; an "
        "unnamed index gets a name each server makes up differently, so later migrations "
        "cannot name it portably."
    ),
    fix="Name every index ix_<table>_<columns> (idx_ is accepted too).",
    kinds=frozenset({"create_index", "rename_index"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="style/process (S)",
)
