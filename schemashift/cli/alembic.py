"""``schemashift init | revision``: the Alembic project commands. The work is in
:mod:`schemashift.alembic.init` and :mod:`schemashift.alembic.autogen`."""

from __future__ import annotations

import os

import click

from schemashift.cli.common import ExitCode, database_url_option, fail


@click.command("init")
@click.option(
    "--alembic-config", "alembic_config", default="alembic.ini", show_default=True,
    metavar="PATH", help="The project's alembic.ini.",
)  # fmt: skip
@click.option("--dialect", metavar="NAME", help="postgres, mysql or sqlite (default: from "
              "--database-url, else SCHEMASHIFT_DATABASE_URL, else sqlalchemy.url in "
              "alembic.ini).")  # fmt: skip
@database_url_option
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
def init_command(alembic_config: str, dialect: str | None, database_url: str | None,
                 dry_run: bool) -> None:  # fmt: skip
    """Wire an existing Alembic project for expand/contract.

    Starts an `expand` and a `contract` branch on top of the current head (the contract
    root depends_on the expand root), writes [tool.schemashift] into the pyproject.toml
    next to alembic.ini, and prints the lines that add schemashift's autogenerate hook to
    env.py. Running it again changes nothing; a history it does not understand (several
    heads, only one of the two labels, …) stops with a message and exit 2.
    """
    from pathlib import Path

    from schemashift.alembic.init import InitError, init_project

    url = database_url or os.environ.get("SCHEMASHIFT_DATABASE_URL") or None
    try:
        result = init_project(Path(alembic_config), dialect=dialect, dry_run=dry_run,
                              database_url=url)  # fmt: skip
    except InitError as exc:
        fail(str(exc))
    for line in result.actions:
        click.echo(f"schemashift init: {line}")
    click.echo("")
    if result.env_hooked:
        click.echo("env.py already uses schemashift.alembic.process_revision_directives.")
    else:
        click.echo(result.env_snippet.rstrip("\n"))
    if not dry_run and result.created:
        click.echo("")
        click.echo(f"next: alembic -c {alembic_config} upgrade heads   (applies the two "
                   "branch roots; they change no table)")  # fmt: skip


@click.command("revision")
@click.option("-m", "--message", help="The revision message (expand/contract are appended).")
@click.option(
    "--autogenerate/--no-autogenerate", default=True, show_default=True,
    help="Compare the models with the database and split the changes into expand/contract "
    "revisions; without it, write one empty revision on expand@head.",
)  # fmt: skip
@click.option(
    "--renames", type=click.Choice(["auto", "ask", "never"]), default="auto", show_default=True,
    help="A dropped and an added column of compatible types on one table: plan a rename "
    "(auto), ask on a terminal (ask), or keep the drop and the add (never).",
)  # fmt: skip
@click.option(
    "--alembic-config", "alembic_config", default="alembic.ini", show_default=True,
    metavar="PATH", help="The project's alembic.ini (or a pyproject.toml with [tool.alembic]).",
)  # fmt: skip
def revision_command(
    message: str | None, autogenerate: bool, renames: str, alembic_config: str
) -> None:
    """Autogenerate a revision and split it into expand and contract revisions.

    Changes that keep the old app version working become one revision on expand@head.
    Breaking ones become an expand revision and a contract revision (on contract@head,
    depends_on the expand one) written with the safe recipes: NOT VALID then VALIDATE,
    CREATE INDEX CONCURRENTLY, nullable column + backfill + NOT NULL, renames through a
    sync trigger. No env.py edit is needed. Errors are one line, exit 2 (4: database).
    """
    import argparse
    from pathlib import Path


    try:
        from alembic.util import CommandError
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        from schemashift.alembic.autogen import revision
        from schemashift.alembic.history import HistoryError, load_config

        config = load_config(Path(alembic_config))
        config.cmd_opts = argparse.Namespace(quiet=True)  # we say what was written
        result = revision(config, message, autogenerate=autogenerate, renames=renames)
    except (HistoryError, CommandError, ValueError) as exc:
        fail(_line(exc))
    except DBAPIError as exc:
        fail(f"database error: {_line(exc.orig or exc)}", ExitCode.DATABASE)
    except SQLAlchemyError as exc:
        fail(_line(exc))
    except Exception as exc:  # env.py failing to import the app, a broken revision file
        fail(f"{type(exc).__name__}: {_line(exc)}")
    if not result.scripts:
        click.echo("schemashift revision: no revision written (a hook dropped it)")
        return
    for script in result.scripts:
        phase = "contract" if script is result.contract else "expand"
        click.echo(f"schemashift revision: {phase} {script.revision}: {script.path}")
    if result.plan is not None:
        for line in result.plan.describe():
            click.echo(f"  {line}")
    elif autogenerate:
        click.echo("  no schema changes detected: the revision is empty (delete it if unwanted)")


def _line(exc: object) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.removeprefix("schemashift: ")

COMMANDS = (init_command, revision_command)
