"""Rule packs: rules from other installed distributions (docs/rule-packs.md).

A pack registers a package under the entry-point group ``schemashift.rules``::

    [project.entry-points."schemashift.rules"]
    naming = "schemashift_naming"

Its rule modules are found by name as the built-in ones are (``nm101_<name>.py``, each
defining ``RULE``), and each rule's page is package data, ``<package>/pages/NM101.md``. A
pack rule's id is 2-4 capital letters other than ``SS`` (schemashift's own), then three
digits. A pack that cannot be imported, a module without a ``RULE``, a bad id or an id or
name that is already taken costs only the rules concerned: each is one warning line and
lint goes on with the rest (a broken plugin must not take the linter down with it). So does
a pack rule whose check raises: one warning per rule, its findings there skipped.

``SCHEMASHIFT_RULE_PACKS`` picks the packs: unset or ``all``, every installed one;
``none``, no pack; else a comma-separated list of pack (entry point) or distribution names.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, Check, Finish, Hit, Rule

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from schemashift.analysis.context import StatementContext
    from schemashift.analysis.file_state import FileState

GROUP = "schemashift.rules"
ENV = "SCHEMASHIFT_RULE_PACKS"
BUILTIN = "built-in"
PACK_ID = re.compile(r"[A-Z]{2,4}\d{3}")
PACK_MODULE = re.compile(r"[a-z]{2,4}\d{3}_\w+")
RULE_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class Pack:
    """An installed rule pack: its entry point and the distribution that declares it."""

    name: str  # the entry point's name, e.g. "naming"
    module: str  # the package it names, e.g. "schemashift_naming"
    distribution: str | None = None
    version: str | None = None

    @property
    def source(self) -> str:
        """Where its rules come from, as ``schemashift rules`` shows it."""
        if self.distribution is None:
            return f"rule pack {self.name}"
        return f"{self.distribution} {self.version}" if self.version else self.distribution

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version}


@dataclass(frozen=True)
class PackRule(Rule):
    """A rule from a pack: its page lives in the pack's package, not in schemashift's."""

    pack: Pack | None = None
    page_path: str = ""  # the page file as installed ("" when the pack ships none)
    page_url: str = ""  # the pack's DOCS_URL for this rule ("" when it gives none)

    @property
    def docs_ref(self) -> str:
        return f"{self.pack.module if self.pack else '?'}/pages/{self.id}.md"

    @property
    def docs_url(self) -> str:
        # SARIF wants a URI; without the pack's DOCS_URL the installed page is the best one.
        if self.page_url:
            return self.page_url
        return Path(self.page_path).as_uri() if self.page_path else ""

    def page(self) -> str | None:
        """The rule's page, as installed with the pack."""
        try:
            return Path(self.page_path).read_text(encoding="utf-8") if self.page_path else None
        except (OSError, UnicodeDecodeError):
            return None


def source_of(rule: Rule) -> str:
    return rule.pack.source if isinstance(rule, PackRule) and rule.pack else BUILTIN


def selected(
    available: Iterable[EntryPoint], choice: str | None
) -> tuple[list[EntryPoint], list[str]]:
    """The entry points ``SCHEMASHIFT_RULE_PACKS`` picks, and the names it lists in vain."""
    eps = sorted(available, key=lambda ep: (_dist_name(ep) or "", ep.name))
    if choice is None or choice.strip().lower() in ("", "all"):
        return eps, []
    if choice.strip().lower() == "none":
        return [], []
    wanted = {w.strip() for w in choice.split(",") if w.strip()}
    picked = [ep for ep in eps if {ep.name, _dist_name(ep)} & wanted]
    found = {ep.name for ep in picked} | {_dist_name(ep) for ep in picked}
    missing = [f"{ENV}: no installed rule pack is named {w!r}" for w in sorted(wanted - found)]
    return picked, missing


def load_packs(taken: Mapping[str, str], available: Iterable[EntryPoint] | None = None,
               choice: str | None = None) -> tuple[list[PackRule], list[str]]:  # fmt: skip
    """Every rule of the chosen packs, and one line per problem (that rule or pack skipped).

    ``taken`` maps the ids and names already in use (the built-in rules') to their source.
    """
    if available is None:
        choice = os.environ.get(ENV)
        if choice is not None and choice.strip().lower() == "none":
            return [], []  # without importlib.metadata (~10 ms) and the scan of every dist
        from importlib.metadata import entry_points

        available = entry_points(group=GROUP)
    eps, problems = selected(available, choice)
    rules: list[PackRule] = []
    owners = dict(taken)
    for ep in eps:
        pack = Pack(ep.name, ep.value.partition(":")[0], _dist_name(ep),
                    ep.dist.version if ep.dist else None)  # fmt: skip
        for rule, problem in _pack_rules(ep, pack):
            if problem:
                problems.append(f"rule pack {pack.name} ({pack.source}): {problem}; skipped")
                continue
            assert rule is not None
            clash = owners.get(rule.id) or owners.get(rule.name)
            if clash:
                what = f"id {rule.id}" if rule.id in owners else f"name {rule.name!r}"
                problems.append(f"rule pack {pack.name} ({pack.source}): {rule.id}: its {what} "
                                f"is taken by {clash}; skipped")  # fmt: skip
                continue
            owners[rule.id] = owners[rule.name] = f"{rule.id} ({pack.source})"
            rules.append(rule)
    return sorted(rules, key=lambda r: r.id), problems


def _dist_name(ep: EntryPoint) -> str | None:
    return ep.dist.name if ep.dist is not None else None


def _pack_rules(ep: EntryPoint, pack: Pack) -> Iterator[tuple[PackRule | None, str]]:
    """(rule, "") per rule of the pack, or (None, why) per part that cannot be used."""
    try:
        root = ep.load()
    except Exception as exc:  # a plugin's import may raise anything
        yield None, f"cannot import {ep.value}: {type(exc).__name__}: {exc}"
        return
    if not isinstance(root, ModuleType):
        yield None, f"{ep.value} is not a module or package"
        return
    docs_url = getattr(root, "DOCS_URL", "")
    pages = Path(root.__file__).parent / "pages" if root.__file__ else None
    modules: list[ModuleType | str] = [root]
    if hasattr(root, "__path__"):  # a package: its rule modules, found by name
        modules = sorted(info.name for info in pkgutil.iter_modules(root.__path__)
                         if PACK_MODULE.fullmatch(info.name) and not info.ispkg)  # fmt: skip
        if not modules:
            yield None, f"{root.__name__} holds no rule module (e.g. nm101_<name>.py)"
    for entry in modules:
        try:
            module = entry if isinstance(entry, ModuleType) else importlib.import_module(
                f"{root.__name__}.{entry}")  # fmt: skip
        except Exception as exc:
            yield None, f"cannot import {root.__name__}.{entry}: {type(exc).__name__}: {exc}"
            continue
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            yield None, f"{module.__name__} defines no RULE (a schemashift.rules.base.Rule)"
            continue
        problem = rule_problem(rule)
        if problem:
            yield None, f"{module.__name__}: {problem}"
            continue
        page = pages / f"{rule.id}.md" if pages else None
        where = f"rule pack {pack.name} ({pack.source}): {rule.id}"
        values = {f.name: getattr(rule, f.name) for f in fields(Rule)}
        values["check"] = _guarded_check(rule.check, where)
        values["finish"] = _guarded_finish(rule.finish, where) if rule.finish else None
        yield PackRule(**values, pack=pack, page_url=_page_url(docs_url, rule.id),
                       page_path=str(page) if page and page.is_file() else ""), ""  # fmt: skip


def _page_url(template: object, rule_id: str) -> str:
    try:
        return template.format(id=rule_id) if isinstance(template, str) else ""
    except (KeyError, IndexError, ValueError):  # a DOCS_URL with other braces: no URL
        return ""


_FAILED: set[str] = set()


def _failed(where: str, exc: Exception, at: str) -> None:
    """Warn once per rule: a pack's bug costs its findings, not the lint run."""
    if where not in _FAILED:
        _FAILED.add(where)
        print(f"schemashift: warning: {where} failed on {at}: {type(exc).__name__}: {exc}; "
              "its findings are skipped where it fails", file=sys.stderr)  # fmt: skip


def _guarded_check(check: Check, where: str) -> Check:
    def guarded(ctx: StatementContext) -> Iterable[Hit]:
        try:
            return list(check(ctx))
        except Exception as exc:
            _failed(where, exc, f"{ctx.statement.file}:{ctx.statement.line}")
            return ()

    return guarded


def _guarded_finish(finish: Finish, where: str) -> Finish:
    def guarded(state: FileState) -> Iterable[tuple[int, str, str]]:
        try:
            return list(finish(state))
        except Exception as exc:
            _failed(where, exc, "the end of a file")
            return ()

    return guarded


def rule_problem(rule: Rule) -> str:
    """Why a pack's RULE cannot be used ("" when it can)."""
    if not all(isinstance(v, str) for v in (rule.id, rule.name, rule.title, rule.summary,
                                             rule.fix)):  # fmt: skip
        return "id, name, title, summary and fix must be strings"
    if rule.id.startswith("SS"):
        return f"id {rule.id!r}: SS ids are schemashift's own; a pack uses a prefix of its own"
    if not PACK_ID.fullmatch(rule.id):
        return f"id {rule.id!r} is not 2-4 capital letters and three digits (e.g. NM101)"
    if not RULE_NAME.fullmatch(rule.name):
        return f"{rule.id}: name {rule.name!r} is not kebab-case (e.g. index-name-prefix)"
    if not isinstance(rule.severity, Severity):
        return f"{rule.id}: severity must be a schemashift.model.Severity"
    if not rule.dialects or not rule.dialects <= ALL_DIALECTS:
        return f"{rule.id}: dialects must be among {', '.join(sorted(ALL_DIALECTS))}"
    if not rule.kinds and rule.finish is None:
        return f"{rule.id}: no kinds and no finisher: it would never run"
    return ""
