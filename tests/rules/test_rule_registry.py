"""The registry finds every rule module by its name, and each RULE is consistent."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import schemashift.rules
from schemashift.analysis.engine import UNUSED
from schemashift.rules.base import ALL_DIALECTS
from schemashift.rules.registry import all_rules, get_rule, rule_module_names, rule_modules

# Rules the engine raises itself (it alone sees findings before suppression).
ENGINE_RAISED = {UNUSED}
RULES_DIR = Path(schemashift.rules.__file__).resolve().parent


def test_every_rule_module_is_discovered() -> None:
    files = sorted(p.stem for p in RULES_DIR.glob("ss[0-9][0-9][0-9]_*.py"))
    assert rule_module_names() == files
    assert len(all_rules()) == len(files)


def test_ids_and_names_are_unique() -> None:
    for field in ("id", "name"):
        counts = Counter(getattr(r, field) for r in all_rules())
        dupes = sorted(v for v, n in counts.items() if n > 1)
        assert not dupes, f"duplicate rule {field}s: {dupes}"


def test_rules_are_sorted_by_id() -> None:
    ids = [r.id for r in all_rules()]
    assert ids == sorted(ids)


def test_module_name_matches_rule() -> None:
    wrong = []
    for rule_id, module in rule_modules().items():
        expected = f"schemashift.rules.ss{rule_id[2:]}_{get_rule(rule_id).name.replace('-', '_')}"  # type: ignore[union-attr]
        if module != expected:
            wrong.append(f"{rule_id}: in {module}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_rule_metadata_is_well_formed() -> None:
    bad = []
    for r in all_rules():
        if not re.fullmatch(r"SS\d{3}", r.id):
            bad.append(f"{r.id}: id is not SS + three digits")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name):
            bad.append(f"{r.id}: name {r.name!r} is not kebab-case")
        if not r.title or r.title.endswith(".") or "\n" in r.title:
            bad.append(f"{r.id}: title must be one line without a final period")
        if not r.summary.strip() or not r.fix.strip():
            bad.append(f"{r.id}: summary and fix must not be empty")
        if not r.dialects or not r.dialects <= ALL_DIALECTS:
            bad.append(f"{r.id}: dialects {sorted(r.dialects)}")
        if not r.kinds and r.finish is None and r.id not in ENGINE_RAISED:
            bad.append(f"{r.id}: no kinds and no finisher: it never runs")
    assert not bad, "\n".join(bad)


def test_get_rule_is_case_insensitive() -> None:
    assert get_rule("ss101") is get_rule("SS101") is not None
    assert get_rule("SS999") is None
