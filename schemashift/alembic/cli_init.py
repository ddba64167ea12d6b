"""``schemashift init``: the click command. The work is in :mod:`schemashift.alembic.init`."""

from __future__ import annotations

import click


@click.command("init")
@click.option(
    "--alembic-config", "alembic_config", default="alembic.ini", show_default=True,
    metavar="PATH", help="The project's alembic.ini.",
)  # fmt: skip
@click.option("--dialect", metavar="NAME", help="postgres, mysql or sqlite "
              "(default: guessed from sqlalchemy.url in alembic.ini).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
def init_command(alembic_config: str, dialect: str | None, dry_run: bool) -> None:
    """Wire an existing Alembic project for expand/contract.

    Starts an `expand` and a `contract` branch on top of the current head (the contract
    root depends_on the expand root), writes [tool.schemashift] into the pyproject.toml
    next to alembic.ini, and prints the lines that add schemashift's autogenerate hook to
    env.py. Running it again changes nothing; a history it does not understand (several
    heads, only one of the two labels, …) stops with a message and exit 2.
    """
    from pathlib import Path

    from schemashift.alembic.init import InitError, init_project
    from schemashift.cli import fail  # here, not at the top: cli.py imports this module

    try:
        result = init_project(Path(alembic_config), dialect=dialect, dry_run=dry_run)
    except InitError as exc:
        fail(str(exc))
    for line in result.actions:
        click.echo(f"schemashift init: {line}")
    click.echo("")
    if result.env_hooked:
        click.echo("env.py already uses schemashift.alembic.process_revision_directives.")
    else:
        click.echo(result.env_snippet.rstrip("\n"))
