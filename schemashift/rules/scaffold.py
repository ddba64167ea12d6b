"""``schemashift new-rule``: write a new rule's module, page and cases file from templates.

The three files land in a source tree (``root``): ``schemashift/rules/ssNNN_<name>.py``
(whose ``RULE`` is the only source of the metadata), ``schemashift/rules/pages/SSNNN.md``
(generated header, hand-written body to fill in) and ``tests/rules/SSNNN.toml`` (a firing
case and a near miss). The module's check works as written, firing on every statement of
the chosen kind on a table the file did not create, so the new rule is discovered and its
cases pass at once; then narrow it down. Nothing is overwritten: an id or a name that is
already taken is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schemashift.model import Severity
from schemashift.rules.base import ALL_DIALECTS, DIALECT_ORDER, Rule, no_check
from schemashift.rules.docs import render_page


class ScaffoldError(Exception):
    """The rule cannot be written (bad id or name, or already taken)."""


# SQL for the cases file when none is given: one statement of the kind on an existing table
# (fires) and the same on a table created earlier in the file (quiet).
EXAMPLES = {
    "add_column": "ALTER TABLE t ADD COLUMN b int;",
    "drop_column": "ALTER TABLE t DROP COLUMN a;",
    "rename_column": "ALTER TABLE t RENAME COLUMN a TO b;",
    "alter_column_type": "ALTER TABLE t ALTER COLUMN a TYPE bigint;",
    "drop_table": "DROP TABLE t;",
    "create_index": "CREATE INDEX i ON t (a);",
    "add_constraint": "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
    "drop_trigger": "DROP TRIGGER tr ON t;",
}
NEW_TABLE = "CREATE TABLE t (id int, a int);"


@dataclass(frozen=True)
class NewRule:
    id: str
    name: str
    title: str
    severity: Severity = Severity.WARNING
    dialects: tuple[str, ...] = ("postgres",)
    kind: str = "add_column"
    summary: str = "TODO: why it hurts, in one or two sentences."
    fix: str = "TODO: the safe alternative, in one or two sentences."
    axes: str = ""
    fires_sql: str | None = None
    quiet_sql: str | None = None

    @property
    def module_name(self) -> str:
        return f"ss{self.id[2:]}_{self.name.replace('-', '_')}"

    def rule(self) -> Rule:
        return Rule(id=self.id, name=self.name, title=self.title, severity=self.severity,
                    summary=self.summary, fix=self.fix, kinds=frozenset({self.kind}),
                    check=no_check, dialects=frozenset(self.dialects), axes=self.axes)  # fmt: skip


def _py(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def render_module(new: NewRule) -> str:
    dialects = (
        "ALL_DIALECTS"
        if frozenset(new.dialects) == ALL_DIALECTS
        else "frozenset({" + ", ".join(_py(d) for d in new.dialects) + "})"
    )
    base_imports = "ALL_DIALECTS, Hit, Rule" if dialects == "ALL_DIALECTS" else "Hit, Rule"
    return f'''"""A rule: its check and ``RULE``, the one source of its id, name, title, summary and fix."""

from __future__ import annotations

from collections.abc import Iterator

from schemashift.analysis.context import StatementContext
from schemashift.model import Severity
from schemashift.rules.base import {base_imports}


def check(ctx: StatementContext) -> Iterator[Hit]:
    # TODO: narrow this down to the hazard. A hit is (message, fix); fix "" means RULE.fix.
    for action, _ in ctx.pairs({_py(new.kind)}):
        if ctx.is_new(action.table):
            continue  # created earlier in this file: no app uses it yet
        yield f"{{action.kind}} on {{action.table}}: " + {_py(new.title + ".")}, ""


RULE = Rule(
    id={_py(new.id)},
    name={_py(new.name)},
    title={_py(new.title)},
    severity=Severity.{new.severity.name},
    summary={_py(new.summary)},
    fix={_py(new.fix)},
    kinds=frozenset({{{_py(new.kind)}}}),
    check=check,
    dialects={dialects},
    axes={_py(new.axes)},
)
'''


PAGE_BODY = """\
Flags TODO: which statements, in which dialects and versions.

## Unsafe
```sql
{fires}
```

## Why it hurts
TODO: the lock it takes, what it rewrites or scans, what breaks in the old app version,
with the facts as measured (docs/hazards.md).

## Safe alternative
```sql
-- TODO
```

## In Alembic
```python
# TODO
```

## Suppress
`-- schemashift: ignore {id} <reason>` on the line before the statement (SQL files), `# schemashift: ignore {id} <reason>` in an Alembic revision, or `disable = ["{id}"]` under `[tool.schemashift]` in pyproject.toml.
"""


def render_page_stub(new: NewRule) -> str:
    fires = new.fires_sql or EXAMPLES.get(new.kind, "-- TODO")
    return render_page(new.rule(), PAGE_BODY.format(fires=fires, id=new.id))


def render_cases(new: NewRule) -> str:
    dialect = new.dialects[0]
    version = {"postgres": "15", "mysql": "8.0.30", "sqlite": "3.45"}[dialect]
    example = EXAMPLES.get(new.kind)
    fires = new.fires_sql or example or "SELECT 1; -- TODO: a statement the rule flags"
    quiet = new.quiet_sql or (
        f"{NEW_TABLE}\n{example}" if example else "SELECT 1; -- TODO: a near miss"
    )
    where = "" if dialect == "postgres" else f'dialect = "{dialect}"\nversion = "{version}"\n'
    return (
        f"# {new.id} {new.name}: where it fires and where it must stay quiet.\n"
        '# Run by tests/rules/test_rule_cases.py; defaults: dialect = "postgres", version = "15",\n'
        "# at = 0 (the index of the statement a [[fires]] case reports). Multi-statement SQL is\n"
        '# written one statement per line. bug = "...": the expectation is right, the code is not\n'
        "# (a strict xfail).\n"
        "\n"
        f"[[fires]]\nsql = {_toml(fires)}\n{where}\n"
        f"[[quiet]]\nsql = {_toml(quiet)}\n{where}"
        f'note = "on a table created in the same file"\n'
    )


def _taken_names(rules_dir: Path) -> dict[str, str]:
    """name -> id of every rule module in the tree (read from the files, not imported)."""
    taken = {}
    for path in rules_dir.glob("ss[0-9][0-9][0-9]_*.py"):
        text = path.read_text(encoding="utf-8")
        rule_id = re.search(r'\bid="(SS\d{3})"', text)
        name = re.search(r'\bname="([^"]+)"', text)
        if name:
            taken[name.group(1)] = rule_id.group(1) if rule_id else path.stem
    return taken


def validate(new: NewRule, root: Path) -> None:
    if not re.fullmatch(r"SS\d{3}", new.id):
        raise ScaffoldError(f"rule id {new.id!r} is not SS + three digits (e.g. SS214)")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", new.name):
        raise ScaffoldError(f"rule name {new.name!r} is not kebab-case (e.g. drop-sequence)")
    if not new.title.strip() or "\n" in new.title or new.title.endswith("."):
        raise ScaffoldError("--title: one line, without a final period")
    unknown = set(new.dialects) - ALL_DIALECTS
    if not new.dialects or unknown:
        raise ScaffoldError(f"dialects: choose from {', '.join(DIALECT_ORDER)}")
    rules_dir = root / "schemashift" / "rules"
    if not rules_dir.is_dir() or not (root / "tests").is_dir():
        raise ScaffoldError(f"{root}: not a schemashift source tree (no schemashift/rules, tests)")
    existing = sorted(rules_dir.glob(f"ss{new.id[2:]}_*.py"))
    if existing:
        raise ScaffoldError(f"{new.id} exists: {existing[0].relative_to(root)}")
    taken = _taken_names(rules_dir)
    if new.name in taken:
        raise ScaffoldError(f"rule name {new.name!r} is taken by {taken[new.name]}")
    for path in _paths(new, root)[1:]:
        if path.exists():
            raise ScaffoldError(f"{path.relative_to(root)} exists")


def _paths(new: NewRule, root: Path) -> list[Path]:
    return [
        root / "schemashift" / "rules" / f"{new.module_name}.py",
        root / "schemashift" / "rules" / "pages" / f"{new.id}.md",
        root / "tests" / "rules" / f"{new.id}.toml",
    ]


def write_rule(new: NewRule, root: Path) -> Sequence[Path]:
    """Write the module, the page and the cases file; return their paths."""
    new = NewRule(**{**new.__dict__, "id": new.id.upper(),
                     "dialects": tuple(d for d in DIALECT_ORDER if d in new.dialects)})  # fmt: skip
    validate(new, root)
    paths = _paths(new, root)
    texts = [render_module(new), render_page_stub(new), render_cases(new)]
    for path, text in zip(paths, texts, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return paths
