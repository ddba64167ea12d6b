"""A plan (schemashift/phases/plan.py) as text and as JSON: phases in order, each step with
its SQL, rollback and why; run-time references shown as ``{type of t.c}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemashift.phases.plan import PHASE_ORDER, PRIMARY_KEY, Plan
from schemashift.phases.planner import plan_warnings
from schemashift.sqltext import refs


def render_plan_json(value: Any) -> Any:
    """A plan's JSON with run-time references shown as ``{type of t.c}``."""
    if isinstance(value, str):
        return refs.render(value)
    if isinstance(value, (list, tuple)):
        return [render_plan_json(v) for v in value]
    if isinstance(value, dict):
        return {k: render_plan_json(v) for k, v in value.items()}
    return value


def render_plan(plan: Plan) -> str:
    """The plan as text: phases in order, each step with its SQL, rollback and why."""
    out = [f"plan {plan.migration} ({plan.dialect}), checksum {plan.checksum}"]
    out.extend(f"warning: {w}" for w in plan_warnings(plan))
    if plan.strategies:
        out.append("strategies:")
        out.extend(f"  {s}" for s in plan.strategies)
    for phase in PHASE_ORDER:
        steps = plan.phase(phase)
        if not steps:
            continue
        out.append("")
        out.append(phase.value.upper())
        for index, step in steps:
            flag = " [outside a transaction]" if step.concurrent else ""
            out.append(f"  {index + 1}. {step.description}{flag}")
            if step.why:
                out.append(f"     why: {step.why}")
            if step.hazard:
                out.append(f"     REFUSED without --force --reason: {step.hazard}")
            if step.sql:
                out.append("     sql:")
                out.extend(_indented(step.sql))
            if step.backfill is not None:
                b = step.backfill
                key = (refs.render(b.key) if b.key not in ("", PRIMARY_KEY)
                       else f"the primary key of {b.table}")  # fmt: skip
                out.append(
                    f"     backfill: UPDATE {b.table} SET {refs.render(b.assignments)} WHERE "
                    f"{refs.render(b.pending)} - in batches on {key}"
                )
            if step.verify is not None:
                out.append(f"     verify: {step.verify.description}")
                out.extend(_indented((step.verify.sql,)))
            if step.rollback:
                out.append("     rollback:")
                out.extend(_indented(step.rollback))
            if step.rollback_check is not None:
                out.append(f"     rollback only while: {step.rollback_check.description}")
    return "\n".join(out) + "\n"


def _indented(statements: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for sql in statements:
        body = refs.render(sql).splitlines() or [""]
        lines.append(f"       {body[0]}" + (";" if len(body) == 1 else ""))
        lines.extend(f"       {line}" for line in body[1:])
        if len(body) > 1:
            lines[-1] += ";"
    return lines
