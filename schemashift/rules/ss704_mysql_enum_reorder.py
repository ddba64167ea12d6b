"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def members(t: str) -> list[str]:
    return re.findall(r"'((?:[^']|'')*)'", t)


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("alter_column_type"):
        new = action.data_type or ""
        old = ctx.state.column_type(action.table, action.column) or ""
        if new.startswith(("enum(", "set(")) and old.startswith(("enum(", "set(")):
            old_members, new_members = members(old), members(new)
            if new_members[: len(old_members)] != old_members:
                yield (
                    (
                        f"{action.table}.{action.column}: members changed other than by appending "
                        "at the end; the table is copied and stored values may become invalid."
                    ),
                    "",
                )


RULE = Rule(
    id="SS704",
    name="mysql-enum-reorder",
    title="ENUM/SET changed other than by appending members",
    severity=Severity.ERROR,
    summary=(
        "Only appending members at the end is an INSTANT metadata change; reordering, "
        "removing or inserting members copies the table and can turn stored values "
        "invalid."
    ),
    fix=("Append new members at the end only; migrate values before removing a member."),
    kinds=frozenset({"alter_column_type"}),
    check=check,
    dialects=frozenset({"mysql"}),
    axes="long lock, rewrite or scan (L), breaks old app (B), data-dependent (D)",
)
