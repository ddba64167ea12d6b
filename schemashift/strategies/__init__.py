"""One strategy per breaking change kind: how a change becomes expand/contract steps.

Each module (pgroll's ``op_<name>.go``) exposes ``KIND`` (the action kind it handles),
``DIALECTS``, ``applies(action, change, dialect)`` and ``steps(action, dialect, sql)``,
which returns the expand / backfill / verify / contract steps (every expand step carries
its rollback). ``sql`` is the statement's text, for strategies that rewrite it (a
constraint's definition, an index's columns). Adding a strategy is adding a module and a
line in ``STRATEGIES``.
"""

from __future__ import annotations

from typing import Protocol

from schemashift.model import Change
from schemashift.phases.plan import Step
from schemashift.sql.actions import Action
from schemashift.strategies import (
    add_check,
    add_foreign_key,
    add_not_null_column,
    add_unique,
    bigint_primary_key,
    change_column_type,
    create_index,
    drop_column,
    drop_table,
    rename_column,
    rename_table,
    set_not_null,
)
from schemashift.strategies.common import StrategyError


class Strategy(Protocol):
    # Read-only, so a module's plain ``KIND = "…"`` / ``DIALECTS = (…)`` satisfy them.
    @property
    def KIND(self) -> str: ...

    @property
    def DIALECTS(self) -> tuple[str, ...]: ...

    def applies(self, action: Action, change: Change, dialect: str) -> bool: ...

    def steps(self, action: Action, dialect: str, sql: str = "") -> list[Step]: ...


# Priority order: the first whose KIND, DIALECTS and applies() match plans the action.
STRATEGIES: tuple[Strategy, ...] = (
    bigint_primary_key,  # ahead of change_column_type: int → bigint on the key
    change_column_type,
    rename_column,
    rename_table,
    add_not_null_column,
    set_not_null,
    add_foreign_key,
    add_unique,
    add_check,
    create_index,
    drop_column,
    drop_table,
)


def strategy_name(strategy: Strategy) -> str:
    return str(getattr(strategy, "__name__", type(strategy).__name__)).rsplit(".", 1)[-1]


def find_strategy(action: Action, change: Change, dialect: str) -> Strategy | None:
    for strategy in STRATEGIES:
        if (
            action.kind == strategy.KIND
            and dialect in strategy.DIALECTS
            and strategy.applies(action, change, dialect)
        ):
            return strategy
    return None


__all__ = ["STRATEGIES", "Strategy", "StrategyError", "find_strategy", "strategy_name"]
