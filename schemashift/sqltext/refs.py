"""Run-time references in generated SQL: facts a migration file does not state (a column's
type, a table's primary key, a MySQL column's whole definition) that a plan needs.

A strategy writes :func:`ref` where the fact goes; the runner resolves every reference once,
at the start of expand, against the live catalog, stores the values with the migration
(*captured*), and substitutes them in every later phase and in rollback. So a step never
re-reads a definition the migration itself has changed (a MySQL contract killed half-way
used to copy an already-relaxed NOT NULL onto the new column).

A reference is a marker between two private-use characters holding its kind and its
arguments hex-encoded: no name ever appears in the marker's text, so no name (with dots,
braces, quotes or ``%``) can break or forge one (sqltext/names.py refuses names holding
the marker characters). ``literal=True`` substitutes the value as a SQL string literal,
for references inside dynamic SQL that a statement builds as a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

OPEN, CLOSE = "\ue000", "\ue001"
KINDS = ("type", "pk", "coldef", "copydef", "copymark")
_MARKER = re.compile(f"{OPEN}(type|pk|coldef|copydef|copymark):([0-9a-f]*){CLOSE}")


@dataclass(frozen=True)
class Ref:
    """``type``: a column's type as the catalog spells it; ``pk``: the table's single-column
    primary key, quoted for the dialect; ``coldef`` (MySQL): a column's whole definition
    (type, collation, NULL-ness, default, ON UPDATE, comment) as MODIFY takes it;
    ``copydef`` (MySQL): the definition to ADD a copy of the column with, one a later
    ``MODIFY … LOCK=NONE`` can turn into ``coldef`` (a NOT NULL TIMESTAMP / DATETIME copy is
    added NOT NULL with a placeholder default, else the type NULL); ``copymark``: that
    placeholder as SQL, or ``NULL``."""

    kind: str
    table: str  # canonical (sqltext/names.py)
    column: str | None = None
    literal: bool = False

    @property
    def marker(self) -> str:
        body = json.dumps([self.table, self.column, self.literal], ensure_ascii=False)
        return f"{OPEN}{self.kind}:{body.encode().hex()}{CLOSE}"

    @property
    def key(self) -> str:
        """The captured value's key (the same for the plain and the literal form)."""
        return Ref(self.kind, self.table, self.column).marker

    def describe(self) -> str:
        what = f"{self.table}.{self.column}" if self.column is not None else self.table
        return f"{{{self.kind} of {what}}}"


def ref(kind: str, table: str, column: str | None = None, *, literal: bool = False) -> str:
    assert kind in KINDS
    return Ref(kind, table, column, literal).marker


def _decode(m: re.Match[str]) -> Ref:
    table, column, literal = json.loads(bytes.fromhex(m.group(2)).decode())
    return Ref(m.group(1), table, column, bool(literal))


def find(texts: Iterable[str]) -> list[Ref]:
    """Every reference in ``texts``, each once, in order of first appearance."""
    seen: dict[str, Ref] = {}
    for text in texts:
        for m in _MARKER.finditer(text):
            r = _decode(m)
            seen.setdefault(r.key, Ref(r.kind, r.table, r.column))
    return list(seen.values())


def substitute(text: str, value: Callable[[Ref], str], quote: Callable[[str], str]) -> str:
    """``text`` with every reference replaced by ``value(ref)`` (``quote(value)`` for a
    literal reference)."""

    def one(m: re.Match[str]) -> str:
        r = _decode(m)
        found = value(Ref(r.kind, r.table, r.column))
        return quote(found) if r.literal else found

    return _MARKER.sub(one, text)


def split(text: str) -> list[str | Ref]:
    """``text`` as its literal pieces and references, in order."""
    out: list[str | Ref] = []
    at = 0
    for m in _MARKER.finditer(text):
        out.append(text[at : m.start()])
        out.append(_decode(m))
        at = m.end()
    out.append(text[at:])
    return out


def render(text: str) -> str:
    """For people: every reference as ``{type of users.name}``."""
    return _MARKER.sub(lambda m: _decode(m).describe(), text)


def has_refs(text: str) -> bool:
    return OPEN in text
