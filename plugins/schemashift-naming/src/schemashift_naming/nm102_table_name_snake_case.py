"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule
from schemashift_naming.names import SNAKE_CASE, last_part


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("create_table", "rename_table"):
        name = action.new_name if action.kind == "rename_table" else action.table
        if name is None:
            continue
        part = last_part(name, ctx.dialect)
        if not SNAKE_CASE.fullmatch(part):
            yield f"Table name {part!r} is not snake_case.", ""


RULE = Rule(
    id="NM102",
    name="table-name-snake-case",
    title="Table name that is not snake_case",
    severity=Severity.WARNING,
    summary=(
        "A quoted name with capitals, spaces or dashes must be quoted in every query, "
        "forever, and ORMs and tools each spell it differently."
    ),
    fix="Use lower-case words joined by single underscores, e.g. user_accounts.",
    kinds=frozenset({"create_table", "rename_table"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="style/process (S)",
)
