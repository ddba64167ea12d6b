"""``schemashift explain | rules | new-rule``: show a rule's page, list the rules, start a rule.

The pages are package data read by ``schemashift.rules.docs`` (a rule pack's: from the pack's
package, ``schemashift.rules.packs``); ``new-rule`` writes the module, page and cases file of
a new built-in rule (``schemashift.rules.scaffold``).
"""

from __future__ import annotations

from pathlib import Path

import click

from schemashift.cli.common import fail


@click.command("explain")
@click.argument("rule_id")
def explain_command(rule_id: str) -> None:
    """Print the documentation page of a rule, e.g. schemashift explain SS101."""
    from schemashift.rules.docs import explain_text, for_terminal
    from schemashift.rules.packs import PackRule
    from schemashift.rules.registry import all_rules, get_rule

    rule = get_rule(rule_id)
    if rule is None:
        known = ", ".join(r.id for r in all_rules())
        fail(f"no rule {rule_id!r}; known rules: {known}")
    if isinstance(rule, PackRule):  # its page is in the pack's package, not in schemashift's
        page = rule.page()
        click.echo(for_terminal(page) if page else explain_text(rule))
        if rule.pack is not None:
            click.echo(f"\n(from the rule pack {rule.pack.name}: {rule.pack.source})")
        return
    click.echo(explain_text(rule))


@click.command("rules")
@click.option("--dialect", help="Only the rules that check this dialect (postgres, mysql, "
              "sqlite).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="pyproject.toml to read [tool.schemashift] from (default: nearest).")  # fmt: skip
def rules_command(dialect: str | None, fmt: str, config_path: str | None) -> None:
    """List every rule with its severity in this project, dialects and source: built-in,
    or the distribution of the rule pack it comes from (entry-point group
    schemashift.rules). A severity set in [tool.schemashift.severity], or a rule turned
    off by disable/enable, is marked with where it was set."""
    import json

    from schemashift.config import ConfigError, load_config
    from schemashift.dialects.base import ALIASES
    from schemashift.rules.packs import PackRule, source_of
    from schemashift.rules.registry import all_rules

    try:
        config = load_config(path=Path(config_path) if config_path else None)
    except (ConfigError, OSError) as exc:
        fail(str(exc))
    rules = list(all_rules())
    if dialect is not None:
        if dialect.lower() not in ALIASES:
            fail(f"unknown dialect {dialect!r} (choose postgres, mysql or sqlite)")
        wanted = ALIASES[dialect.lower()]
        rules = [r for r in rules if wanted in r.dialects]
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "rules": [
            {"id": r.id, "name": r.name, "title": r.title, "severity": r.severity.value,
             "configured_severity": config.severity_of(r.id, r.severity).value,
             "enabled": config.rule_enabled(r.id),
             "dialects": r.dialect_list, "summary": r.summary, "fix": r.fix,
             "page": r.docs_ref, "source": source_of(r),
             "pack": r.pack.to_json() if isinstance(r, PackRule) and r.pack else None}
            for r in rules]}, indent=2))  # fmt: skip
        return
    where = Path(config.source).name if config.source else "the config"
    for r in rules:
        dialects = ",".join(sorted(r.dialects))
        severity = config.severity_of(r.id, r.severity)
        note = ""
        if not config.rule_enabled(r.id):
            note = f"  [off in {where}]"
        elif severity != r.severity:
            note = f"  [{where}: {severity.value}, default {r.severity.value}]"
        click.echo(f"{r.id}  {severity.value:<7}  {r.name:<40}  {dialects:<21}  "
                   f"{source_of(r)}{note}")  # fmt: skip


def _source_root() -> Path | None:
    """The source checkout the running schemashift is imported from, if it is one."""
    import schemashift

    root = Path(schemashift.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "tests").is_dir() else None


@click.command("new-rule")
@click.argument("rule_id", metavar="SSNNN")
@click.argument("name")
@click.option("--title", required=True, help="One line, no final period: what it flags.")
@click.option(
    "--severity", default="warning", show_default=True,
    type=click.Choice(["error", "warning", "info"]), help="Default severity.",
)  # fmt: skip
@click.option(
    "--dialect", "dialects", multiple=True, type=click.Choice(["postgres", "mysql", "sqlite"]),
    help="A dialect the rule checks (repeat; default: postgres).",
)  # fmt: skip
@click.option("--kind", default="add_column", show_default=True,
              help="The action kind the check looks at (model.CHANGE_KINDS).")  # fmt: skip
@click.option("--summary", help="Why it hurts, one or two sentences (default: a TODO).")
@click.option("--fix", "fix", help="The safe alternative, one or two sentences (default: a TODO).")
@click.option("--fires", "fires_sql", metavar="SQL", help="SQL the rule must flag (cases file).")
@click.option("--quiet", "quiet_sql", metavar="SQL", help="A near miss it must not flag.")
@click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path),
    help="The source tree to write into (default: the checkout schemashift runs from).",
)  # fmt: skip
def new_rule_command(
    rule_id: str,
    name: str,
    title: str,
    severity: str,
    dialects: tuple[str, ...],
    kind: str,
    summary: str | None,
    fix: str | None,
    fires_sql: str | None,
    quiet_sql: str | None,
    root: Path | None,
) -> None:
    """Write a new rule: its module, its page and its cases file, from templates.

    Refuses an id or a name that is taken. Then: write the check and the page, add cases
    to tests/rules/SSNNN.toml, and run python -m schemashift.rules.docs.
    """
    from schemashift.model import CHANGE_KINDS, Severity
    from schemashift.rules.scaffold import NewRule, ScaffoldError, write_rule

    root = root or _source_root()
    if root is None:
        fail("schemashift does not run from a source checkout here: pass --root")
    if kind not in CHANGE_KINDS:
        fail(f"--kind {kind!r} is not a change kind (see schemashift/model.py CHANGE_KINDS)")
    new = NewRule(id=rule_id.upper(), name=name, title=title, severity=Severity(severity),
                  dialects=dialects or ("postgres",), kind=kind, fires_sql=fires_sql,
                  quiet_sql=quiet_sql)  # fmt: skip
    if summary:
        new = NewRule(**{**new.__dict__, "summary": summary})
    if fix:
        new = NewRule(**{**new.__dict__, "fix": fix})
    try:
        paths = write_rule(new, root)
    except ScaffoldError as exc:
        fail(str(exc))
    for path in paths:
        click.echo(f"wrote {path.relative_to(root) if path.is_relative_to(root) else path}")
    click.echo(
        "next: write the check and the page, add cases, then\n"
        "  python -m schemashift.rules.docs   (README, rules.tsv, page header)\n"
        f"  SCHEMASHIFT_UPDATE_SNAPSHOTS=1 python -m pytest tests/rules -k {new.id}"
    )


COMMANDS = (explain_command, rules_command, new_rule_command)
