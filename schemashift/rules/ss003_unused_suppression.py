"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix.

The engine raises it (analysis/engine.py, ``Linter.lint_range``): a statement's
``schemashift: ignore`` comment names a rule that did not fire on it. It has no check of
its own because only the engine sees the findings before suppression.
"""

from __future__ import annotations

from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Rule, no_check

RULE = Rule(
    id="SS003",
    name="unused-suppression",
    title="Suppression comment that suppresses nothing",
    severity=Severity.WARNING,
    summary=(
        "A `schemashift: ignore` comment names a rule that does not fire on its statement: "
        "a leftover after the statement changed, or a wrong id. Left in place, it silently "
        "hides a later finding nobody reviewed."
    ),
    fix="Remove the rule from the comment (or the whole comment if it names nothing else).",
    kinds=frozenset(),
    check=no_check,
    dialects=ALL_DIALECTS,
    axes="hygiene",
)
