"""What a rule is: metadata plus a check over one statement in its file context.

Each rule lives in its own module ``rules/ssNNN_<slug>.py`` and defines ``RULE``, a
``Rule`` instance. A rule names the action kinds it looks at, so the engine only calls the
few rules that can fire on a statement (this keeps lint fast on 20,000-statement files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from schemashift.model import Severity

if TYPE_CHECKING:
    from schemashift.analysis.context import StatementContext
    from schemashift.analysis.file_state import FileState

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "rules"
DOCS_URL = "https://github.com/schemashift/schemashift/blob/main/docs/rules/{id}.md"

# A check returns (message, fix) pairs; fix may be "" to use the rule's default fix.
Hit = tuple[str, str]
Check = Callable[["StatementContext"], Iterable[Hit]]
# A finisher runs once after the last statement: (statement index, message, fix) per finding.
Finish = Callable[["FileState"], Iterable[tuple[int, str, str]]]


def no_check(ctx: StatementContext) -> Iterable[Hit]:
    return ()


ALL_DIALECTS = frozenset({"postgres", "mysql", "sqlite"})


@dataclass(frozen=True)
class Rule:
    id: str  # "SS101"
    name: str  # "rename-column"
    title: str  # one line, shown in SARIF and `explain`
    severity: Severity
    summary: str  # why it hurts, one or two sentences
    fix: str  # the safe alternative, one or two sentences
    kinds: frozenset[str]  # action kinds that can trigger the rule; "*" for every statement
    check: Check
    dialects: frozenset[str] = field(default=ALL_DIALECTS)
    finish: Finish | None = None

    @property
    def docs_path(self) -> Path:
        return DOCS_DIR / f"{self.id}.md"

    @property
    def docs_url(self) -> str:
        return DOCS_URL.format(id=self.id)

    @property
    def docs_ref(self) -> str:
        """How a finding points at its page: the repository-relative docs path."""
        return f"docs/rules/{self.id}.md"
