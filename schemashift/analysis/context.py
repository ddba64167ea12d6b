"""What a rule sees: one statement, what it does, what it costs, and the file so far."""

from __future__ import annotations

from dataclasses import dataclass

from schemashift.analysis.file_state import FileState
from schemashift.config import Config
from schemashift.model import Change, Statement
from schemashift.sql.actions import Action


@dataclass(slots=True)
class StatementContext:
    statement: Statement
    actions: list[Action]
    changes: list[Change]
    state: FileState  # as it stood *before* this statement
    dialect: str
    version: tuple[int, ...]
    config: Config

    def pairs(self, *kinds: str) -> list[tuple[Action, Change]]:
        """(action, change) pairs, optionally only of the given kinds."""
        actions = self.actions
        if len(actions) == 1:  # the common case, kept cheap: every rule calls this
            action = actions[0]
            return [(action, self.changes[0])] if not kinds or action.kind in kinds else []
        pairs = zip(actions, self.changes, strict=False)
        return [(a, c) for a, c in pairs if not kinds or a.kind in kinds]

    def is_new(self, table: str | None) -> bool:
        """True when the table was created earlier in this file: nobody else uses it yet."""
        return self.state.is_new(table)

    @property
    def in_transaction(self) -> bool:
        return self.statement.in_transaction

    @property
    def sql(self) -> str:
        return self.statement.sql
