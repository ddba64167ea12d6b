"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule
from schemashift.rules.columns import declared_columns

TYPE = re.compile(r"(?:char|character|bpchar)(?:\(\d+\))?$")


def check(ctx: StatementContext) -> Iterator[Hit]:
    for table, col in declared_columns(ctx):
        if TYPE.match(col.data_type):
            yield f"{table}.{col.name} is {col.data_type}, which pads with spaces; use text.", ""


RULE = Rule(
    id="SS602",
    name="prefer-no-char",
    title="char(n) column",
    severity=Severity.WARNING,
    summary=("char(n) pads values with spaces, wastes space and compares surprisingly."),
    fix=("Use text (or varchar) instead."),
    kinds=frozenset({"create_table", "add_column"}),
    check=check,
    dialects=frozenset({"postgres"}),
    axes="style/process (S)",
)
