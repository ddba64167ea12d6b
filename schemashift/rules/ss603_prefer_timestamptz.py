"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.columns import declared_columns
from schemashift.sql.actions import ColumnDef

TYPE = re.compile(r"timestamp(?:\(\d\))?(?: without time zone)?$")


def check(ctx: StatementContext) -> Iterator[Hit]:
    found = list(declared_columns(ctx))
    for action, _ in ctx.pairs("alter_column_type"):
        if action.data_type:
            found.append((action.table, ColumnDef(action.column or "?", action.data_type)))
    for table, col in found:
        if TYPE.match(col.data_type):
            yield f"{table}.{col.name} is timestamp without time zone; use timestamptz.", ""


RULE = Rule(
    id="SS603",
    name="prefer-timestamptz",
    title="timestamp without time zone",
    severity=Severity.WARNING,
    summary=(
        "timestamp without time zone stores wall-clock time with no zone: values shift "
        "silently when servers or sessions change time zone."
    ),
    fix=("Use timestamptz (timestamp with time zone)."),
    kinds=frozenset({"create_table", "add_column", "alter_column_type"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
