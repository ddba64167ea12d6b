"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if action.constraint != "foreign_key" or action.not_valid or ctx.is_new(action.table):
            continue
        yield (
            (
                f"Adding foreign key {action.name or ''} on {action.table} scans it while blocking "
                f"writes to {action.table} and {action.ref_table}."
            ).replace("  ", " "),
            "",
        )


RULE = Rule(
    id="SS301",
    name="add-foreign-key-validating",
    title="Foreign key added without NOT VALID",
    severity=Severity.ERROR,
    summary=(
        "ADD FOREIGN KEY checks every existing row while holding SHARE ROW EXCLUSIVE on "
        "both tables: writes to both wait for the whole scan."
    ),
    fix=(
        "ADD CONSTRAINT … FOREIGN KEY … NOT VALID (brief lock, no scan), then VALIDATE "
        "CONSTRAINT in a separate transaction (SHARE UPDATE EXCLUSIVE: writes continue)."
    ),
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D)",
)
