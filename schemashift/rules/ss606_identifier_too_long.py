"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule

LONG_RUN = re.compile(r"[^\s.,()'`\"]{64,}")


def check(ctx: StatementContext) -> Iterator[Hit]:
    limit = 63 if ctx.dialect == "postgres" else 64
    sql = ctx.statement.sql
    # Cheap pre-check: an ASCII statement without a 64-character run of name characters
    # cannot hold a long identifier (PostgreSQL counts bytes, hence the ASCII condition).
    if sql.isascii() and not LONG_RUN.search(sql):
        return
    for action, _ in ctx.pairs():
        names = [action.table, action.column, action.name, action.new_name]
        if action.column_def is not None:
            names.append(action.column_def.name)
        names.extend(c.name for c in action.columns)
        for name in names:
            if not name:
                continue
            for part in name.split("."):
                size = len(part.encode()) if ctx.dialect == "postgres" else len(part)
                if size > limit:
                    unit = "bytes" if ctx.dialect == "postgres" else "characters"
                    yield f"Identifier {part!r} is {size} {unit}; the limit is {limit}.", ""
                    return


RULE = Rule(
    id="SS606",
    name="identifier-too-long",
    title="Identifier longer than the server allows",
    severity=Severity.ERROR,
    summary=(
        "PostgreSQL silently truncates identifiers to 63 bytes (two names can collide); "
        "MySQL rejects names over 64 characters."
    ),
    fix=("Choose a shorter name."),
    kinds=frozenset({"*"}),
    check=check,
    dialects=frozenset({"mysql", "postgres"}),
    axes="style/process (S)",
)
