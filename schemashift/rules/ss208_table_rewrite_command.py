"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("rewrite_table"):
        if not ctx.is_new(action.table):
            what = (action.detail or "this command").replace("_", " ").upper()
            yield f"{what} rewrites {action.table or 'the table'} under ACCESS EXCLUSIVE.", ""


RULE = Rule(
    id="SS208",
    name="table-rewrite-command",
    title="Command rewrites the whole table under ACCESS EXCLUSIVE",
    severity=Severity.ERROR,
    summary=(
        "VACUUM FULL, CLUSTER, SET TABLESPACE, SET LOGGED/UNLOGGED and SET ACCESS METHOD "
        "copy the whole table while reads and writes wait."
    ),
    fix=(
        "Use pg_repack (online), or build a new table and switch to it; never in a "
        "deploy-time migration."
    ),
    kinds=frozenset({"rewrite_table"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="long lock, rewrite or scan (L)",
)
