"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    state = ctx.state
    for action, _ in ctx.pairs("validate_constraint"):
        pending = state.not_valid.get(action.name or "")
        if (
            pending
            and ctx.in_transaction
            and pending.in_transaction_index >= 0
            and pending.in_transaction_index == state.transaction_index
        ):
            yield (
                (
                    f"VALIDATE CONSTRAINT {action.name} runs in the transaction that added it at "
                    f"line {pending.line}: its strong lock is held through the scan."
                ),
                "",
            )


RULE = Rule(
    id="SS303",
    name="validate-in-same-transaction",
    title="VALIDATE CONSTRAINT in the transaction that added it NOT VALID",
    severity=Severity.WARNING,
    summary=(
        "The NOT VALID add took a strong lock that the transaction still holds; "
        "validating in the same transaction keeps it through the whole scan, which NOT "
        "VALID was meant to avoid."
    ),
    fix=("Commit after the NOT VALID add; validate in a separate transaction (a later migration)."),
    kinds=frozenset({"validate_constraint"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
