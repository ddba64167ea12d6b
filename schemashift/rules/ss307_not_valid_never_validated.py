"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.analysis.file_state import FileState
from schemashift.model import Severity
from schemashift.rules.base import Hit, Rule


def check(ctx: StatementContext) -> Iterator[Hit]:
    return iter(())  # the finding needs the whole file: see finish()


def finish(state: FileState) -> Iterator[tuple[int, str, str]]:
    for name, pending in state.not_valid.items():
        yield (
            pending.statement_index,
            f"Constraint {name} is added NOT VALID and never validated in this "
            "migration; remember to VALIDATE it later.",
            "",
        )


RULE = Rule(
    id="SS307",
    name="not-valid-never-validated",
    title="Constraint added NOT VALID but never validated here",
    severity=Severity.INFO,
    summary=(
        "A NOT VALID constraint is enforced for new rows only; until VALIDATE CONSTRAINT "
        "runs, old rows may violate it and the planner cannot rely on it."
    ),
    fix=("Validate it in a later migration."),
    kinds=frozenset(),
    check=check,
    dialects=frozenset({"postgres"}),
    finish=finish,
    axes="style/process (S)",
)
