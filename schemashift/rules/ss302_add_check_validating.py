"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if action.constraint != "check" or action.not_valid or ctx.is_new(action.table):
            continue
        yield (
            (
                f"Adding CHECK {action.name or ''} on {action.table} scans every row under "
                "ACCESS EXCLUSIVE."
            ).replace("  ", " "),
            "",
        )


RULE = Rule(
    id="SS302",
    name="add-check-validating",
    title="CHECK constraint added without NOT VALID",
    severity=Severity.ERROR,
    summary=(
        "ADD CHECK verifies every existing row while holding ACCESS EXCLUSIVE: no reads "
        "or writes until the scan ends."
    ),
    fix=(
        "ADD CONSTRAINT … CHECK (…) NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    ),
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L), data-dependent (D)",
)
