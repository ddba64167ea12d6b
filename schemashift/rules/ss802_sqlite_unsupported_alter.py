"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    v = ctx.version
    for action, _ in ctx.pairs("drop_column", "rename_column", "add_column"):
        if action.kind == "drop_column" and v < (3, 35):
            yield f"DROP COLUMN needs SQLite 3.35+; target is {'.'.join(map(str, v))}.", ""
        elif action.kind == "rename_column" and v < (3, 25):
            yield f"RENAME COLUMN needs SQLite 3.25+; target is {'.'.join(map(str, v))}.", ""
        elif (
            action.kind == "add_column"
            and action.column_def is not None
            and ({"unique", "primary_key"} & set(action.column_def.inline))
        ):
            yield "SQLite cannot ADD COLUMN with UNIQUE or PRIMARY KEY.", ""


RULE = Rule(
    id="SS802",
    name="sqlite-unsupported-alter",
    title="ALTER TABLE the SQLite version refuses",
    severity=Severity.ERROR,
    summary=(
        "DROP COLUMN needs SQLite 3.35, RENAME COLUMN 3.25, and ADD COLUMN cannot add a "
        "UNIQUE or PRIMARY KEY column: the statement fails."
    ),
    fix=(
        "Use batch mode (table rebuild), or raise the target server version if production "
        "runs a newer SQLite."
    ),
    kinds=frozenset({"drop_column", "rename_column", "add_column"}),
    check=check,
    dialects=frozenset({"sqlite"}),
    axes="style/process (S)",
)
