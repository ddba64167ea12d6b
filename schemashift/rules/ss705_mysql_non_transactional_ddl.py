"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.kinds import NOT_DDL


def check(ctx: StatementContext) -> Iterator[Hit]:
    if ctx.state.ddl_statements != 1:
        return
    if any(a.kind not in NOT_DDL for a in ctx.actions):
        yield (
            (
                "Second DDL statement in this migration: MySQL commits each DDL, so a failure from "
                "here on leaves the migration half applied."
            ),
            "",
        )


RULE = Rule(
    id="SS705",
    name="mysql-non-transactional-ddl",
    title="Several DDL statements in one MySQL migration",
    severity=Severity.INFO,
    summary=(
        "MySQL commits every DDL statement on its own: if a later statement fails, the "
        "earlier ones stay applied and the migration is half done."
    ),
    fix=(
        "One DDL statement per migration, or make every step idempotent (IF NOT EXISTS / "
        "IF EXISTS) so a rerun completes it."
    ),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql"}),
    axes="style/process (S)",
)
