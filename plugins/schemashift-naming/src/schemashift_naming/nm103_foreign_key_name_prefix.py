"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule
from schemashift_naming.names import last_part


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, _ in ctx.pairs("add_constraint"):
        if action.constraint != "foreign_key":
            continue
        if action.name is None:
            yield (
                f"The foreign key on {action.table} has no name; name it "
                f"fk_<table>_<column> so a later migration can drop it by name.",
                "",
            )
        elif not last_part(action.name, ctx.dialect).startswith("fk_"):
            yield f"Foreign key {last_part(action.name, ctx.dialect)} does not start with fk_.", ""


RULE = Rule(
    id="NM103",
    name="foreign-key-name-prefix",
    title="Foreign key without a name starting with fk_",
    severity=Severity.WARNING,
    summary=(
        "An unnamed foreign key gets a server-made name (users_org_id_fkey on PostgreSQL, "
        "users_ibfk_1 on MySQL), so the migration that drops it differs per server; a "
        "prefix tells constraints apart in error messages."
    ),
    fix="ALTER TABLE t ADD CONSTRAINT fk_<table>_<column> FOREIGN KEY (...) REFERENCES ...",
    kinds=frozenset({"add_constraint"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="style/process (S)",
)
