"""Suppression comments: ``schemashift: ignore`` and ``schemashift: ignore-file``.

- ``-- schemashift: ignore SS103 reason`` on the line before a statement, or after it on
  its own line (``ALTER TABLE t DROP COLUMN c; -- schemashift: ignore SS103 reason``),
  suppresses those rules on that statement;
- ``-- schemashift: ignore-file SS103 reason`` anywhere in the file suppresses them on
  every statement of the file;
- rules are named by id or by name (``SS103`` or ``drop-column``), several separated by
  commas or spaces, then the reason;
- a comment naming no rule, or an id or name no rule has, is an error (exit 2) naming the
  file and line: a typo must not silently stop suppressing, or suppress everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemashift.sql.split import SplitStatement

_DIRECTIVE = re.compile(r"schemashift\s*:\s*ignore(?P<file>-file)?(?![\w-])(?P<rest>[^\n]*)",
                        re.IGNORECASE)  # fmt: skip
_TOKEN = re.compile(r"\s*,?\s*([A-Za-z][\w-]*)")
_ID = re.compile(r"[A-Z]{2,4}\d{3}$", re.IGNORECASE)  # SS101, or a rule pack's NM101


class SuppressionError(ValueError):
    """A suppression comment that names no rule, or one that does not exist."""


def _rule_names() -> tuple[set[str], dict[str, str]]:
    from schemashift.rules.registry import all_rules

    rules = all_rules()
    return {r.id for r in rules}, {r.name: r.id for r in rules}


_KNOWN: tuple[set[str], dict[str, str]] | None = None


def _known() -> tuple[set[str], dict[str, str]]:
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = _rule_names()
    return _KNOWN


def _targets(rest: str, where: str) -> frozenset[str]:
    """The rule ids a directive names: leading ids or names, then the reason."""
    ids, names = _known()
    out: set[str] = set()
    pos = 0
    while True:
        m = _TOKEN.match(rest, pos)
        if m is None:
            break
        word = m.group(1)
        if _ID.match(word):
            if word.upper() not in ids:
                raise SuppressionError(f"{where}: schemashift: ignore {word}: no rule has this "
                                       "id (schemashift rules lists them)")  # fmt: skip
            out.add(word.upper())
        elif word.lower() in names:
            out.add(names[word.lower()])
        elif "-" in word and word.lower() not in names and not out:
            raise SuppressionError(f"{where}: schemashift: ignore {word}: no rule has this "
                                   "name (schemashift rules lists them)")  # fmt: skip
        else:
            break  # the reason starts here
        pos = m.end()
    if not out:
        raise SuppressionError(f"{where}: schemashift: ignore needs the rule(s) it suppresses, "
                               "by id or name, e.g. `-- schemashift: ignore SS103 reason`")  # fmt: skip
    return frozenset(out)


def directives(comments: str, where: str) -> tuple[frozenset[str], frozenset[str]]:
    """(rules suppressed on the statement, rules suppressed in the whole file)."""
    if "schemashift" not in comments.lower():
        return frozenset(), frozenset()
    here: set[str] = set()
    file: set[str] = set()
    for m in _DIRECTIVE.finditer(comments):
        (file if m.group("file") else here).update(_targets(m.group("rest"), where))
    return frozenset(here), frozenset(file)


def statement_ids(comments: str) -> frozenset[str]:
    """The rules suppressed on one statement (validated when the file was read)."""
    try:
        return directives(comments, "-")[0]
    except SuppressionError:
        return frozenset()


def file_ids(split: Sequence[SplitStatement]) -> frozenset[str]:
    """Validate every suppression comment of a file; the rules it ignores file-wide."""
    out: set[str] = set()
    for item in split:
        comments = item.statement.leading_comments
        if comments and "schemashift" in comments.lower():
            where = f"{item.statement.file}:{item.statement.line}"
            out.update(directives(comments, where)[1])
    return frozenset(out)
