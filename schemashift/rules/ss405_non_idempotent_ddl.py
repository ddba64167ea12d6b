"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule

# kind → the guard that makes a rerun a no-op
_CREATES = {"add_column": "IF NOT EXISTS", "create_table": "IF NOT EXISTS",
            "create_index": "IF NOT EXISTS"}  # fmt: skip
_DROPS = {"drop_column": "IF EXISTS", "drop_table": "IF EXISTS", "drop_index": "IF EXISTS"}


def check(ctx: StatementContext) -> Iterator[Hit]:
    state = ctx.state
    # Only where a failure leaves the file half applied: statements outside any
    # transaction (no BEGIN; in an Alembic revision, inside autocommit_block()) after an
    # earlier DDL statement.
    if ctx.in_transaction or state.ddl_statements == 0:
        return
    for action, _ in ctx.pairs(*_CREATES, *_DROPS):
        if action.kind == "create_index" and action.concurrently:
            continue  # SS404 says it, with what a failed CONCURRENTLY leaves behind
        guarded = action.if_not_exists if action.kind in _CREATES else action.if_exists
        if guarded:
            continue
        guard = _CREATES.get(action.kind) or _DROPS[action.kind]
        what = action.kind.replace("_", " ")
        yield (f"{what} without {guard}, after earlier DDL of this file and outside a "
               "transaction: if the file fails after it, running the file again stops here "
               "(already exists / does not exist)."), ""
        return


RULE = Rule(
    id="SS405",
    name="non-idempotent-ddl",
    title="DDL that fails when the migration is run again",
    severity=Severity.INFO,
    summary=(
        "Outside a transaction every statement commits on its own. When a later statement "
        "fails, the ones before it stay applied, and a rerun of the file fails on the first "
        "CREATE or DROP that already happened."
    ),
    fix=(
        "Write the guard (ADD COLUMN IF NOT EXISTS, CREATE INDEX IF NOT EXISTS, DROP … IF "
        "EXISTS) so a rerun completes the file, or wrap the statements in BEGIN … COMMIT."
    ),
    kinds=frozenset({*_CREATES, *_DROPS}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="hygiene",
)
