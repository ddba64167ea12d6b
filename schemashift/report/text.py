"""Human output: findings grouped by file, with the statement, the fix and the docs page."""

from __future__ import annotations

from collections.abc import Mapping

from schemashift.model import Change, Compatibility, LintReport, Severity, StatementReport

_COLORS = {"error": "31", "warning": "33", "info": "36", "dim": "2", "bold": "1",
           "breaking": "31", "unknown": "35", "ok": "32"}  # fmt: skip


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_COLORS[style]}m{text}\x1b[0m"


def _excerpt(sql: str, width: int = 100) -> list[str]:
    lines = [line.rstrip() for line in sql.strip().splitlines() if line.strip()]
    out = [line if len(line) <= width else line[: width - 1] + "…" for line in lines[:4]]
    if len(lines) > 4:
        out.append(f"… ({len(lines) - 4} more lines)")
    return out


def describe_change(change: Change) -> str:
    where = change.table or ""
    if change.column:
        where = f"{where}.{change.column}" if where else change.column
    cost = [change.lock if change.lock != "none" else "no lock"]
    if change.rewrites_table:
        cost.append("rewrites table")
    elif change.scans_table:
        cost.append("scans table")
    kind = change.kind + (f" ({change.constraint})" if change.constraint else "")
    return f"{kind} {where}".strip() + f" · {change.compatibility.value} · {', '.join(cost)}"


def render_text(
    report: LintReport,
    *,
    color: bool = False,
    verbose: bool = False,
    rule_names: Mapping[str, str] | None = None,
) -> str:
    style = _Style(color)
    names = rule_names or {}
    out: list[str] = []
    by_file: dict[str, list[StatementReport]] = {}
    for s in report.statements:
        by_file.setdefault(s.statement.file, []).append(s)
    for file in report.files or tuple(by_file):
        items = by_file.get(file, [])
        shown = [s for s in items if verbose or s.findings or _notable(s)]
        if not shown:
            continue
        out.append(style(file, "bold"))
        for s in shown:
            loc = f"{s.statement.line}"
            out.append(f"  {style('line ' + loc, 'dim')}  " + " | ".join(
                style(describe_change(c), _compat_style(c)) for c in s.changes))  # fmt: skip
            for line in _excerpt(s.statement.sql):
                out.append(f"    {style('│', 'dim')} {line}")
            for f in s.findings:
                sev = style(f"{f.severity.value:<7}", f.severity.value)
                name = names.get(f.rule, "")
                out.append(f"    {sev} {style(f.rule, 'bold')} {name}: {f.message}")
                out.append(f"            fix:  {f.fix}")
                out.append(
                    f"            docs: schemashift explain {f.rule}"
                )
            if s.suppressed:
                out.append(f"    {style('suppressed: ' + ', '.join(s.suppressed), 'dim')}")
        out.append("")
    if report.revisions is not None:
        not_analysed = [r for r in report.revisions if r.status != "analysed"]
        out.append(
            f"{len(report.revisions)} revision(s) read"
            + (f", {len(not_analysed)} not fully:" if not_analysed else ", all analysed")
        )
        for r in not_analysed:
            colour = "warning" if r.status == "partial" else "error"
            out.append(f"  {style(r.status, colour)} {r.revision} ({r.file}): {r.error}")
        out.append("")
    summary = report.summary
    parts = [
        f"{summary.statements} statements",
        style(f"{summary.breaking} breaking", "breaking" if summary.breaking else "ok"),
        style(f"{summary.unknown} unknown", "unknown" if summary.unknown else "ok"),
        style(f"{summary.errors} errors", "error" if summary.errors else "ok"),
        style(f"{summary.warnings} warnings", "warning" if summary.warnings else "ok"),
    ]
    infos = sum(f.severity is Severity.INFO for s in report.statements for f in s.findings)
    if infos:
        parts.append(f"{infos} info")
    out.append(f"{len(report.files)} file(s), " + ", ".join(parts))
    return "\n".join(out) + "\n"


def _notable(s: StatementReport) -> bool:
    return any(c.compatibility is not Compatibility.COMPATIBLE for c in s.changes)


def _compat_style(change: Change) -> str:
    if change.compatibility is Compatibility.BREAKING:
        return "breaking"
    if change.compatibility is Compatibility.UNKNOWN:
        return "unknown"
    return "dim"
