"""All rules, discovered once, indexed by the action kinds they look at.

A rule is a module ``schemashift/rules/ssNNN_<name>.py`` that defines ``RULE``; adding the
module adds the rule (there is no list to update). Installed rule packs (entry-point group
``schemashift.rules``, rules/packs.py) come after the built-in rules, which keep their ids
and names: a pack rule that clashes is skipped with a warning.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass
from functools import lru_cache

import schemashift.rules
from schemashift.config import Config
from schemashift.rules.base import Rule

RULE_MODULE = re.compile(r"ss\d{3}_\w+")


def rule_module_names() -> list[str]:
    """The rule modules of the package (names without the package prefix), sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(schemashift.rules.__path__)
        if RULE_MODULE.fullmatch(info.name) and not info.ispkg
    )


@lru_cache(maxsize=1)
def rule_modules() -> dict[str, str]:
    """Rule id -> the module that defines it (``schemashift.rules.ss101_rename_column``)."""
    return {rule.id: module for module, rule in _load()}


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[str, Rule], ...]:
    loaded = []
    for name in rule_module_names():
        module = importlib.import_module(f"schemashift.rules.{name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise TypeError(f"{module.__name__} defines no RULE (a schemashift.rules.base.Rule)")
        loaded.append((module.__name__, rule))
    return tuple(sorted(loaded, key=lambda pair: pair[1].id))


def builtin_rules() -> tuple[Rule, ...]:
    """schemashift's own rules, sorted by id."""
    return tuple(rule for _, rule in _load())


@lru_cache(maxsize=1)
def pack_rules() -> tuple[Rule, ...]:
    """The rules of the installed rule packs, sorted by id."""
    from schemashift.rules.packs import BUILTIN, load_packs

    taken = {key: f"{r.id} ({BUILTIN})" for r in builtin_rules() for key in (r.id, r.name)}
    rules, problems = load_packs(taken)
    # Warned here, once per process: every caller (lint, rules, explain, the Alembic
    # plugin) gets the same lines without asking (cli.common.warn's format).
    for problem in problems:
        print(f"schemashift: warning: {problem}", file=sys.stderr)
    return tuple(rules)


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """Every rule: the built-in ones sorted by id, then the packs' sorted by id."""
    return builtin_rules() + pack_rules()


def get_rule(rule_id: str) -> Rule | None:
    """A rule by id (``SS103``, any case) or by name (``drop-column``), as suppressions and
    ``disable`` accept them."""
    key = rule_id.strip()
    return next((r for r in all_rules() if r.id == key.upper() or r.name == key.lower()), None)


@dataclass(frozen=True)
class RuleIndex:
    by_kind: dict[str, list[Rule]]
    every: list[Rule]  # rules that look at every statement
    finishers: list[Rule]  # rules with an end-of-file check


def rules_for(dialect: str, config: Config) -> RuleIndex:
    by_kind: dict[str, list[Rule]] = {}
    every: list[Rule] = []
    finishers: list[Rule] = []
    for rule in all_rules():
        if dialect not in rule.dialects or not config.rule_enabled(rule.id):
            continue
        if rule.finish is not None:
            finishers.append(rule)
        if "*" in rule.kinds:
            every.append(rule)
            continue
        for kind in rule.kinds:
            by_kind.setdefault(kind, []).append(rule)
    return RuleIndex(by_kind, every, finishers)


__all__ = [
    "Rule",
    "RuleIndex",
    "all_rules",
    "builtin_rules",
    "get_rule",
    "pack_rules",
    "rules_for",
]
