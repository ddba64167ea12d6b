"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Compatibility, Severity
from schemashift.rules.base import ALL_DIALECTS, Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    for action, change in ctx.pairs("alter_column_type"):
        if ctx.is_new(action.table) or change.compatibility is not Compatibility.BREAKING:
            continue
        if change.kind in ("set_not_null", "drop_not_null"):
            continue  # MySQL MODIFY with the same type: only the nullability changes
        old = ctx.state.column_type(action.table, action.column)
        frm = f" from {old}" if old else ""
        if ctx.state.is_key(action.table, action.column) and _families_differ(old, action.data_type):
            yield (
                (f"{action.table}.{action.column} is a key the old app version looks rows up "
                 f"by: changing it{frm} to {action.data_type} makes its lookups fail (e.g. "
                 f"WHERE {action.column} = 5 on a text column: no operator text = integer)."),
                "",
            )
            continue
        yield (
            (
                f"Changing {action.table}.{action.column}{frm} to {action.data_type} can reject "
                "values the old app version writes, and the cast can fail on existing rows."
            ),
            "",
        )


def _families_differ(old: str | None, new: str | None) -> bool:
    from schemashift.dialects.postgres import _family

    a, b = _family(old), _family(new)
    return a is not None and b is not None and a != b


RULE = Rule(
    id="SS106",
    name="narrowing-type-change",
    title="Column type narrowed or changed incompatibly",
    severity=Severity.ERROR,
    summary=(
        "A narrower or incompatible type makes values the old app version still writes "
        "fail, and the cast can fail on existing rows."
    ),
    fix=(
        "Add a new column of the new type with a sync trigger, backfill it, switch the "
        "app, then drop the old column. For a length limit, use CHECK (length(col) <= n) "
        "NOT VALID, then VALIDATE."
    ),
    fixes={
        "mysql": (
            "Add a new column of the new type to {table}, keep it in sync with triggers, "
            "backfill it in batches, switch the app, then drop {column} in the contract "
            "phase (schemashift plans this for a type change); or use gh-ost / "
            "pt-online-schema-change once no old app writes values that no longer fit."
        ),
        "sqlite": (
            "Add a new column of the new type to {table}, backfill it, switch the app, then "
            "drop {column} in the contract phase; SQLite only checks types it declares "
            "STRICT, so make the app validate the new limit first."
        ),
    },
    kinds=frozenset({"alter_column_type"}),
    check=check,
    dialects=ALL_DIALECTS,
    axes="breaks old app (B), long lock, rewrite or scan (L), data-dependent (D)",
)
