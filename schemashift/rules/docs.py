"""The rule pages and the rule tables, generated from each rule's ``RULE``.

A rule's page is ``schemashift/rules/pages/SSNNN.md``, package data shipped in the wheel
(``schemashift explain`` reads it with importlib.resources). Its top, the heading, severity,
dialects, axes, title, summary and fix, is generated from ``RULE``; below the ``MARKER``
line the page is written by hand (the unsafe SQL, why it hurts with the measured facts,
the safe alternative in SQL and in Alembic, how to suppress it).

``python -m schemashift.rules.docs`` rewrites the generated parts: the top of every page,
docs/rules/README.md and docs/rules/rules.tsv. ``--check`` writes nothing and exits 1 when
any of them is stale (tests/rules/test_rule_docs.py runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path

from schemashift.rules.base import Rule

MARKER = (
    "<!-- Above: generated from RULE (python -m schemashift.rules.docs). "
    "Below: written by hand. -->"
)
PAGES_DIR = Path(__file__).resolve().parent / "pages"  # in the source tree
REPO_ROOT = Path(__file__).resolve().parents[2]
README = Path("docs/rules/README.md")
TSV = Path("docs/rules/rules.tsv")

# The hundreds digit of an id names its area (docs/design.md §8).
AREAS = {
    "0": "parsing",
    "1": "breaks the old app version",
    "2": "locks and rewrites",
    "3": "constraints",
    "4": "indexes",
    "5": "transactions and timeouts",
    "6": "style",
    "7": "MySQL / MariaDB online DDL",
    "8": "SQLite",
}


# ----------------------------------------------------------------------------- pages


_DIALECT_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}


def render_header(rule: Rule) -> str:
    """The generated top of a rule's page, up to and including the marker line."""
    meta = f"**Severity:** {rule.severity.value} · **Dialects:** {', '.join(rule.dialect_list)}"
    if rule.axes:
        meta += f" · **Axes:** {rule.axes}"
    return (
        f"# {rule.id} {rule.name}\n{meta}\n\n"
        f"**{rule.title}.** {rule.summary}\n\n"
        f"**Fix:** {rule.fix}\n\n"
        + "".join(f"**Fix on {_DIALECT_NAMES.get(d, d)}:** {rule.fixes[d]}\n\n"
                  for d in rule.dialect_list if d in rule.fixes)
        + f"{MARKER}\n"
    )


def page_body(text: str) -> str:
    """The hand-written part of a page (all of it when the page has no marker yet)."""
    _, found, body = text.partition(MARKER + "\n")
    return (body if found else text).strip("\n")


def render_page(rule: Rule, body: str) -> str:
    return f"{render_header(rule)}\n{body.strip()}\n"


def read_page(rule_id: str) -> str | None:
    """The page as installed (package data), or None when it is not there."""
    resource = files("schemashift.rules").joinpath("pages").joinpath(f"{rule_id}.md")
    try:
        return resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def for_terminal(page: str) -> str:
    """A page as ``schemashift explain`` prints it: without the marker comment."""
    return page.replace(f"{MARKER}\n\n", "").replace(f"{MARKER}\n", "").rstrip()


def explain_text(rule: Rule) -> str:
    page = read_page(rule.id)
    if page is None:  # a rule whose page is missing: what RULE says
        return f"# {rule.id} {rule.name}\n\n{rule.title}\n\n{rule.summary}\n\nFix: {rule.fix}"
    return for_terminal(page)


# ----------------------------------------------------------------------------- tables


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _axis_letters(rule: Rule) -> str:
    return ", ".join(dict.fromkeys(re.findall(r"\(([A-Z])\)", rule.axes)))


def render_readme(rules: Iterable[Rule]) -> str:
    out = [
        "# schemashift rules",
        "",
        "<!-- Generated from each rule's RULE by python -m schemashift.rules.docs: do not edit. -->",
        "",
        "One page per rule: what it flags, why it hurts, the safe alternative in SQL and in "
        "Alembic, and how to suppress it. `schemashift explain SSxxx` prints the same page. "
        "The pages live in the package, [schemashift/rules/pages/](../../schemashift/rules/pages/); "
        "the same table as tab-separated values: [rules.tsv](rules.tsv).",
        "",
        "Severity is the default; change it per rule in `[tool.schemashift]`. Axes: **B** "
        "breaks the old app version, **L** long lock, rewrite or scan, **D** data-dependent "
        "(can fail on existing rows), **X** destroys data, **S** style or process.",
    ]
    area = None
    for rule in rules:
        digit = rule.id[2]
        if digit != area:
            area = digit
            name = AREAS.get(digit)
            out += ["", f"## {digit}xx: {name}" if name else f"## {digit}xx", ""]
            out += ["| Rule | Name | Title | Severity | Dialects | Axes |",
                    "|---|---|---|---|---|---|"]  # fmt: skip
        link = f"[{rule.id}](../../{rule.docs_ref})"
        out.append(
            f"| {link} | {rule.name} | {_cell(rule.title)} | {rule.severity.value} | "
            f"{', '.join(rule.dialect_list)} | {_axis_letters(rule)} |"
        )
    out += [
        "",
        "## Suppressing a finding",
        "",
        "- SQL file: `-- schemashift: ignore SS101[, SS102] <reason>` on the line before the "
        "statement.",
        "- Alembic revision: `# schemashift: ignore SS101 <reason>`.",
        '- Everywhere: `disable = ["SS101"]` under `[tool.schemashift]` in pyproject.toml.',
        "",
        "## Adding a rule",
        "",
        '`schemashift new-rule SSNNN NAME --title "…"` writes the module '
        "(`schemashift/rules/ssNNN_name.py`, whose `RULE` is the only source of the metadata), "
        "the page and the cases file `tests/rules/SSNNN.toml`; then run "
        "`python -m schemashift.rules.docs` to regenerate this table.",
    ]
    return "\n".join(out) + "\n"


TSV_COLUMNS = ("id", "name", "severity", "dialects", "axes", "title", "summary", "fix", "page")


def _tsv(text: str) -> str:
    return " ".join(text.split())


def render_tsv(rules: Iterable[Rule]) -> str:
    rows = ["\t".join(TSV_COLUMNS)]
    for r in rules:
        fields = (r.id, r.name, r.severity.value, ",".join(r.dialect_list), _axis_letters(r),
                  r.title, r.summary, r.fix, r.docs_ref)  # fmt: skip
        rows.append("\t".join(_tsv(f) for f in fields))
    return "\n".join(rows) + "\n"


# ----------------------------------------------------------------------------- generator


def expected(rules: Sequence[Rule], root: Path) -> tuple[dict[Path, str], list[str]]:
    """Every generated file with its content, and the problems that need a hand."""
    pages_dir = root / "schemashift" / "rules" / "pages"
    want: dict[Path, str] = {root / README: render_readme(rules), root / TSV: render_tsv(rules)}
    problems = []
    for rule in rules:
        path = pages_dir / f"{rule.id}.md"
        if not path.is_file():
            problems.append(f"{path.relative_to(root)}: missing (the page of {rule.id}; "
                            "schemashift new-rule writes a stub)")  # fmt: skip
            continue
        want[path] = render_page(rule, page_body(path.read_text(encoding="utf-8")))
    known = {f"{r.id}.md" for r in rules}
    if pages_dir.is_dir():
        for path in sorted(pages_dir.glob("*.md")):
            if path.name not in known:
                problems.append(f"{path.relative_to(root)}: no rule {path.stem}")
    return want, problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemashift.rules.docs",
        description="Regenerate the rule pages' headers, docs/rules/README.md and "
        "docs/rules/rules.tsv from each rule's RULE.",
    )
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a generated file is stale")  # fmt: skip
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="the repository (default: the one this module is in)")  # fmt: skip
    args = parser.parse_args(argv)
    root: Path = args.root
    if not (root / "docs").is_dir():
        print(f"{root}: not a schemashift source tree (no docs/)", file=sys.stderr)
        return 2
    from schemashift.rules.registry import builtin_rules  # not the packs: their pages are theirs

    want, problems = expected(builtin_rules(), root)
    stale = [p for p, text in want.items()
             if not p.is_file() or p.read_text(encoding="utf-8") != text]  # fmt: skip
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(root)} (run python -m schemashift.rules.docs)",
                  file=sys.stderr)  # fmt: skip
        return 1 if stale or problems else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(want[path], encoding="utf-8")
        print(f"wrote {path.relative_to(root)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
