"""``--format json``: the versioned document of docs/design.md §6 (see docs/json-output.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemashift.model import LintReport, StatementReport
from schemashift.parallel import map_halves


def _encode(statements: Sequence[StatementReport]) -> str:
    return json.dumps([s.to_json() for s in statements], ensure_ascii=False, check_circular=False)


def _orjson() -> Any:
    try:
        import orjson  # the [fast] extra: ten times json's encoder on a big report
    except ImportError:
        return None
    return orjson


def render_json(report: LintReport) -> str:
    """``report.to_json()`` as JSON: with orjson (the ``fast`` extra) in one compact dump,
    else byte for byte ``json.dumps(report.to_json())``, big reports encoded on two cores.
    Both parse to the same document."""
    fast = _orjson()
    if fast is not None:
        return str(fast.dumps(report.to_json()).decode())
    parts = [p[1:-1] for p in map_halves(_encode, report.statements)]
    preamble: dict[str, object] = {"version": 1, "dialect": report.dialect}
    if report.revisions is not None:
        preamble["revisions"] = [r.to_json() for r in report.revisions]
    head = json.dumps(preamble, ensure_ascii=False)[:-1]
    statements = ", ".join(p for p in parts if p)
    summary = json.dumps(report.summary.to_json())
    return f'{head}, "statements": [{statements}], "summary": {summary}}}'
