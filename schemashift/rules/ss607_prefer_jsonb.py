"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.columns import declared_columns


def check(ctx: StatementContext) -> Iterator[Hit]:
    for table, col in declared_columns(ctx):
        if col.data_type == "json":
            yield f"{table}.{col.name} is json; jsonb is faster to query and can be indexed.", ""


RULE = Rule(
    id="SS607",
    name="prefer-jsonb",
    title="json instead of jsonb",
    severity=Severity.INFO,
    summary=(
        "json stores the text as written and re-parses it on every access; it cannot be "
        "indexed with GIN."
    ),
    fix=("Use jsonb."),
    kinds=frozenset({"create_table", "add_column"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
