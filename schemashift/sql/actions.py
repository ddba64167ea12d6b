"""What a statement *does*, as parsed: the dialect-neutral facts rules and dialects read.

A parser (our fast recogniser in ``recognize.py`` or the sqlglot adapter in
``sqlglot_adapter.py``) turns one statement into one or more ``Action`` values. A dialect
module then prices each action (lock, rewrite, scan, compatibility) into a ``Change``.
Keeping the facts apart from the verdict means one parse serves every dialect version.
"""

from __future__ import annotations

from dataclasses import dataclass


# Not frozen: frozen dataclasses cost ~3x more to build, and lint builds one per statement.
# Treat both as immutable values all the same.
@dataclass(slots=True)
class ColumnDef:
    """A column as declared in CREATE TABLE or ALTER TABLE … ADD COLUMN."""

    name: str
    data_type: str  # normalised lower-case type text: "varchar(20)", "bigint", "timestamp"
    not_null: bool = False
    default: str | None = None  # the default expression's source text
    # Inline constraints declared on the column: "unique", "primary_key", "foreign_key", "check".
    inline: tuple[str, ...] = ()
    # GENERATED ALWAYS AS (…): "stored" | "virtual" | "default" (kind not written).
    generated: str | None = None
    identity: bool = False  # GENERATED … AS IDENTITY or MySQL AUTO_INCREMENT
    charset: str | None = None  # MySQL CHARACTER SET / CHARSET written on the column
    collation: str | None = None  # MySQL COLLATE written on the column ("binary": BINARY)


@dataclass(slots=True)
class Action:
    """One schema or data change found in a statement.

    ``kind`` uses the change vocabulary of ``model.CHANGE_KINDS``. Fields that do not
    apply to a kind stay at their defaults.
    """

    kind: str
    table: str | None = None
    column: str | None = None
    # The object the action names when it is not the table: index, constraint, view,
    # trigger, type, schema, extension or setting name.
    name: str | None = None
    new_name: str | None = None
    data_type: str | None = None  # target type of alter_column_type
    using: str | None = None  # USING expression of a type change
    constraint: str | None = None  # check / unique / foreign_key / primary_key / exclusion
    column_def: ColumnDef | None = None  # add_column
    columns: tuple[ColumnDef, ...] = ()  # create_table
    default: str | None = None  # set_default expression
    value: str | None = None  # set_option value (unquoted), alter_enum value
    detail: str | None = None  # sub-kind: "vacuum_full", "add_value", "begin", …
    ref_table: str | None = None  # foreign key target
    concurrently: bool = False
    not_valid: bool = False
    using_index: bool = False
    unique: bool = False  # create_index
    if_exists: bool = False
    if_not_exists: bool = False
    has_where: bool = False  # data_update / data_delete
    cascade: bool = False
    # MySQL online DDL clauses (ALGORITHM=…, LOCK=…) and column placement (FIRST / AFTER).
    algorithm: str | None = None
    lock_clause: str | None = None
    position: str | None = None
    # Why the action is "raw" (not understood) - shown to the user with the location.
    reason: str | None = None
    # True when the statement builds a new table from a query (CREATE TABLE … AS SELECT).
    from_query: bool = False
    # create_table: existing tables it locks - the parent of PARTITION OF (ACCESS
    # EXCLUSIVE) and the tables its foreign keys reference (SHARE ROW EXCLUSIVE).
    locks_tables: tuple[str, ...] = ()


def raw(reason: str, *, detail: str | None = None) -> Action:
    """An action we could not understand: reported as unknown, never as safe."""
    return Action(kind="raw", reason=reason, detail=detail)
