"""The rule pages (package data) and the generated tables stay in step with each RULE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemashift.rules.base import Rule
from schemashift.rules.docs import MARKER, explain_text, page_body, read_page, render_header
from schemashift.rules.registry import all_rules

ROOT = Path(__file__).resolve().parents[2]


def test_generated_docs_are_current() -> None:
    """docs/rules/README.md, docs/rules/rules.tsv and every page's header match RULE."""
    proc = subprocess.run(
        [sys.executable, "-m", "schemashift.rules.docs", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"stale generated rule docs; run python -m schemashift.rules.docs\n{proc.stderr}"
    )


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_page_is_package_data_with_its_header_and_a_body(rule: Rule) -> None:
    page = read_page(rule.id)
    assert page is not None, f"schemashift/rules/pages/{rule.id}.md is missing"
    assert page.startswith(render_header(rule)), f"{rule.id}: page header differs from RULE"
    body = page_body(page)
    assert "## Safe alternative" in body and "## Suppress" in body, rule.id


def test_explain_text_drops_the_marker() -> None:
    text = explain_text(next(iter(all_rules())))
    assert MARKER not in text and text.startswith("# SS001 ")
