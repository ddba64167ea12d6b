"""What every dialect module provides: pricing an action into a ``Change``.

One module per dialect holds that dialect's facts (lock per statement, rewrite and scan
cases, volatile functions, version gates), strong_migrations' adapter pattern: the rules
read the priced ``Change`` and never hard-code a database fact of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from schemashift.model import Change, Compatibility, LockClass, Phase

if TYPE_CHECKING:
    from schemashift.analysis.file_state import FileState
    from schemashift.sql.actions import Action

DIALECT_NAMES = ("postgres", "mysql", "sqlite")
ALIASES = {
    "postgres": "postgres", "postgresql": "postgres", "pg": "postgres",
    "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite", "sqlite3": "sqlite",
}  # fmt: skip


class Dialect(Protocol):
    name: str
    default_version: str
    kinds: frozenset[str]  # the action kinds this dialect has (others are not its SQL)

    def assess(self, action: Action, state: FileState, version: tuple[int, ...]) -> Change: ...

    def lock_timeout_setting(self) -> frozenset[str]:
        """Session settings that bound how long DDL waits for a lock."""
        ...


def parse_version(text: str) -> tuple[int, ...]:
    """'15' → (15,), '8.0.29' → (8, 0, 29), '10.11.6-MariaDB' → (10, 11, 6)."""
    nums = re.findall(r"\d+", text.split("-")[0])
    if not nums:
        raise ValueError(f"not a server version: {text!r}")
    return tuple(int(n) for n in nums[:3])


@dataclass(frozen=True, slots=True)
class Price:
    """A dialect's verdict before it becomes a Change (keeps dialect code short)."""

    lock: str
    compatibility: Compatibility = Compatibility.COMPATIBLE
    rewrites: bool = False
    scans: bool = False
    data_dependent: bool = False
    phase: Phase = Phase.EXPAND


def to_change(action: Action, price: Price, lock_class: LockClass) -> Change:
    column = action.column
    if column is None and action.column_def is not None:
        column = action.column_def.name
    constraint = action.constraint if action.kind in (
        "add_constraint", "drop_constraint", "validate_constraint") else None  # fmt: skip
    # Positional (the field order of Change): a third faster than keywords, per statement.
    return Change(action.kind, action.table, column, price.compatibility, price.lock,
                  lock_class, price.rewrites, price.scans, price.data_dependent, price.phase,
                  constraint)  # fmt: skip


UNKNOWN_PRICE = Price(
    lock="unknown",
    compatibility=Compatibility.UNKNOWN,
    data_dependent=True,
    phase=Phase.CONTRACT,
)

BREAKING = Compatibility.BREAKING
COMPATIBLE = Compatibility.COMPATIBLE

# Function-call names inside an expression: "gen_random_uuid()" → gen_random_uuid.
# A call's name starts where no name character precedes it: without the lookbehind every
# position inside a long word would start a match that runs to its end and back
# (quadratic: a 50 KB DEFAULT took 24 s).
FUNCTION_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\s*\(")
# String literals ('…', with '' inside), whose text is data, never a call.
STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def get_dialect(name: str) -> Dialect:
    canonical = ALIASES.get(name.lower())
    if canonical == "postgres":
        from schemashift.dialects.postgres import POSTGRES

        return POSTGRES
    if canonical == "mysql":
        from schemashift.dialects.mysql import MYSQL

        return MYSQL
    if canonical == "sqlite":
        from schemashift.dialects.sqlite import SQLITE

        return SQLITE
    raise ValueError(f"unknown dialect {name!r} (choose postgres, mysql or sqlite)")
