"""What a rule is: metadata plus a check over one statement in its file context.

Each rule lives in its own module ``rules/ssNNN_<slug>.py`` (found by registry.py) and
defines ``RULE``, a ``Rule`` instance: the one source of the rule's id, name, title,
severity, dialects, axes, summary and fix. Its page, ``rules/pages/SSNNN.md``, docs/rules/
README.md and docs/rules/rules.tsv are generated from it (``python -m
schemashift.rules.docs``). A rule names the action kinds it looks at, so the engine only
calls the few rules that can fire on a statement (this keeps lint fast on 20,000-statement
files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemashift.model import Severity

if TYPE_CHECKING:
    from schemashift.analysis.context import StatementContext
    from schemashift.analysis.file_state import FileState

# The page of a rule: package data, shipped in the wheel (read with rules/docs.py).
PAGES_REF = "schemashift/rules/pages/{id}.md"
DOCS_URL = "https://github.com/schemashift/schemashift/blob/main/" + PAGES_REF

# A check returns (message, fix) pairs; fix may be "" to use the rule's default fix.
Hit = tuple[str, str]
Check = Callable[["StatementContext"], Iterable[Hit]]
# A finisher runs once after the last statement: (statement index, message, fix) per finding.
Finish = Callable[["FileState"], Iterable[tuple[int, str, str]]]


def no_check(ctx: StatementContext) -> Iterable[Hit]:
    return ()


ALL_DIALECTS = frozenset({"postgres", "mysql", "sqlite"})
DIALECT_ORDER = ("postgres", "mysql", "sqlite")  # how pages and tables list them


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
    # The hazard axes as the page shows them, e.g. "long lock, rewrite or scan (L)".
    axes: str = ""
    # The fix where a dialect needs other words than ``fix`` (dialect → text). ``{table}``
    # and ``{column}`` in a fix are replaced by the statement's own names.
    fixes: Mapping[str, str] = field(default_factory=dict)

    def fix_for(self, dialect: str) -> str:
        return self.fixes.get(dialect, self.fix)

    @property
    def dialect_list(self) -> list[str]:
        return [d for d in DIALECT_ORDER if d in self.dialects]

    @property
    def docs_url(self) -> str:
        return DOCS_URL.format(id=self.id)

    @property
    def docs_ref(self) -> str:
        """How a finding points at its page: the repository-relative path."""
        return PAGES_REF.format(id=self.id)
