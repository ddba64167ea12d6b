"""``schemashift plan TARGET``: the phases a migration becomes (the work is in
schemashift/phases/planner.py)."""

from __future__ import annotations

import click

from schemashift.cli.common import alembic_config_option, database_url_option, fail


@click.command("plan")
@click.argument("target")
@click.option(
    "--format", "fmt", default="text", show_default=True,
    type=click.Choice(["text", "json"]), help="Output format.",
)  # fmt: skip
@click.option("--dialect", help="Plan for postgres, mysql or sqlite (default: the database's "
              "dialect, else [tool.schemashift] dialect).")  # fmt: skip
@database_url_option
@alembic_config_option
def plan_command(target: str, fmt: str, dialect: str | None, database_url: str | None,
                 alembic_config: str | None) -> None:  # fmt: skip
    """Show the plan TARGET becomes: expand, backfill, verify and contract steps, each with
    its SQL, its rollback and why it is there.

    TARGET is the path of a .sql migration file (its migration id is the file name without
    .sql), or an Alembic revision id: the expand or contract revision of a pair written by
    `schemashift revision`. Errors are one line, exit 2.
    """
    import json
    from pathlib import Path

    from schemashift.analysis.engine import InputError, read_sources
    from schemashift.cli.common import load_config_for
    from schemashift.config import ConfigError
    from schemashift.dialects.base import ALIASES
    from schemashift.phases.planner import PlanError, plan_sql, plan_warnings
    from schemashift.report.plan import render_plan, render_plan_json
    from schemashift.targets import TargetError, load_revision_plan

    path = Path(target)
    # The plan is made for the database it will run on, as the phase commands make it.
    config = load_config_for(database_url, alembic_config, alembic_url_too=False)
    if dialect is not None:
        if dialect.lower() not in ALIASES:
            fail(f"unknown dialect {dialect!r} (choose postgres, mysql or sqlite)")
        config = config.with_overrides(dialect=ALIASES[dialect.lower()])
    try:
        if path.suffix.lower() != ".sql":
            plan = load_revision_plan(target, config)
        else:
            (source,) = read_sources([target])
            plan = plan_sql(source.text, path.stem, config, file=source.name)
    except (ConfigError, InputError, PlanError, TargetError) as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps({**render_plan_json(plan.to_json()),
                               "warnings": plan_warnings(plan)}, indent=2))  # fmt: skip
    else:
        click.echo(render_plan(plan), nl=False)
