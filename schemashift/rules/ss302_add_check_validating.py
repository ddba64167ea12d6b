"""SS302 add-check-validating: CHECK constraint added without NOT VALID.

ADD CHECK verifies every existing row while holding ACCESS EXCLUSIVE: no reads or writes
until the scan ends.

Safe alternative: ADD CONSTRAINT … CHECK (…) NOT VALID, then VALIDATE CONSTRAINT in a
separate transaction.
See docs/rules/SS302.md.
"""

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
)
