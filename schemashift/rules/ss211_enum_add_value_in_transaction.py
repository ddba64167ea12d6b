"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("alter_enum"):
        if action.detail == "add_value" and ctx.in_transaction and ctx.version[0] < 12:
            yield (
                (
                    f"ALTER TYPE {action.name} ADD VALUE fails inside a transaction block on "
                    f"PostgreSQL {ctx.version[0]}."
                ),
                "",
            )


RULE = Rule(
    id="SS211",
    name="enum-add-value-in-transaction",
    title="ALTER TYPE … ADD VALUE inside a transaction",
    severity=Severity.ERROR,
    summary=(
        "Before PostgreSQL 12, ALTER TYPE … ADD VALUE cannot run inside a transaction "
        "block; from 12 it can, but the new value cannot be used until the transaction "
        "commits."
    ),
    fix=("Run it outside the transaction (Alembic: with op.get_context().autocommit_block())."),
    kinds=frozenset({"alter_enum"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
