"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.columns import declared_columns

TYPE = re.compile(r"(?:varchar|character varying)\(\d+\)")


def check(ctx: StatementContext) -> Iterator[Hit]:
    for table, col in declared_columns(ctx):
        if TYPE.match(col.data_type):
            yield (
                f"{table}.{col.name} is {col.data_type}; text with a CHECK is easier to change.",
                "",
            )


RULE = Rule(
    id="SS601",
    name="prefer-text",
    title="varchar(n) where text would do",
    severity=Severity.INFO,
    summary=(
        "In PostgreSQL varchar(n) is no faster than text, and changing n later is a "
        "migration (shrinking it scans the table)."
    ),
    fix=("Use text, with a CHECK (length(col) <= n) constraint if the limit matters."),
    kinds=frozenset({"create_table", "add_column"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
