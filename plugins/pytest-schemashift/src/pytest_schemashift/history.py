"""The Alembic history as schemashift lays it out: the expand/contract pairs, the branch
heads, and the lint of every revision. Read from the revision files only (env.py never
runs), through schemashift's own history reader."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemashift.alembic.history import HistoryError, load_config, script_directory

EXPAND, CONTRACT = "expand", "contract"
# `schemashift revision -m MSG` writes "MSG (expand)" and "MSG (contract)".
_PHASE_SUFFIX = re.compile(r"\s*\((expand|contract)\)\s*$")


class HistoryProblem(Exception):
    """The history cannot be read or is not laid out for expand/contract (one line)."""


@dataclass(frozen=True)
class Pair:
    """An expand revision and the contract revision that ``depends_on`` it."""

    name: str  # the revision message without " (expand)" / " (contract)"
    expand: str
    contract: str
    before_expand: tuple[str, ...]  # down revisions of the expand revision
    before_contract: tuple[str, ...]  # down revisions of the contract revision

    def matches(self, key: str) -> bool:
        return key in (self.name, self.expand, self.contract)

    def __str__(self) -> str:
        return f"pair {self.name!r} (expand {self.expand}, contract {self.contract})"


def _tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _script(alembic_ini: Path) -> Any:
    try:
        script, failures = script_directory(load_config(alembic_ini))
    except HistoryError as exc:
        raise HistoryProblem(f"{alembic_ini}: {exc}") from None
    if failures:
        revision, why = next(iter(failures.items()))
        raise HistoryProblem(f"{alembic_ini}: revision {revision} does not import: {why}")
    return script


def _name(rev: Any) -> str:
    first = (rev.doc or rev.revision).strip().splitlines()[0]
    return _PHASE_SUFFIX.sub("", first) or rev.revision


def _ancestors(script: Any, revision: str) -> set[str]:
    """``revision`` and every revision it stands on (down revisions and depends_on)."""
    seen: set[str] = set()
    todo = [revision]
    while todo:
        rev = script.get_revision(todo.pop())
        if rev is None or rev.revision in seen:
            continue
        seen.add(rev.revision)
        todo.extend(_tuple(rev.down_revision) + _tuple(rev.dependencies))
    return seen


def find_pairs(alembic_ini: Path, since: str | None = None) -> list[Pair]:
    """Every expand/contract pair, oldest first; with ``since``, only those after it.
    The two empty branch roots ``schemashift init`` writes are not a pair."""
    script = _script(alembic_ini)
    old: set[str] = set()
    if since:
        if script.get_revision(since) is None:
            raise HistoryProblem(f"schemashift_since = {since}: not a revision of {alembic_ini}")
        old = _ancestors(script, since)
    pairs: list[Pair] = []
    for rev in reversed(list(script.walk_revisions("base", "heads"))):
        deps = _tuple(rev.dependencies)
        if CONTRACT not in rev.branch_labels or CONTRACT in rev._orig_branch_labels or not deps:
            continue  # not a contract revision, or the contract branch root
        expands = [script.get_revision(d) for d in deps]
        expand = next((e for e in expands if e is not None and EXPAND in e.branch_labels), None)
        if expand is None or expand.revision in old:
            continue
        pairs.append(Pair(_name(expand), expand.revision, rev.revision,
                          _tuple(expand.down_revision), _tuple(rev.down_revision)))  # fmt: skip
    return pairs


def check_heads(alembic_ini: Path) -> None:
    """One expand head and one contract head, side by side (schemashift init's layout)."""
    from schemashift.alembic.init import InitError, analyse

    script = _script(alembic_ini)
    try:
        layout = analyse(script)
    except InitError as exc:
        raise HistoryProblem(str(exc)) from None
    if layout.kind != "initialised":
        found = ", ".join(sorted(script.get_heads())) or "none"
        raise HistoryProblem(
            f"no expand/contract branches (heads: {found}): run `schemashift init` to start them"
        )
    by_branch: dict[str, list[str]] = {EXPAND: [], CONTRACT: []}
    for head in script.get_heads():
        for label in {EXPAND, CONTRACT} & set(script.get_revision(head).branch_labels):
            by_branch[label].append(head)
    for label, heads in by_branch.items():
        if len(heads) != 1:
            raise HistoryProblem(f"the {label} branch has {len(heads)} heads "
                                 f"({', '.join(sorted(heads)) or 'none'}); it needs exactly one")  # fmt: skip
