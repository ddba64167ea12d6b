"""``schemashift revision``: the click command. The work is in :mod:`schemashift.alembic.autogen`."""

from __future__ import annotations

import click


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

    from schemashift.cli import EXIT_DATABASE, fail  # here: cli.py may import this module

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
        fail(f"database error: {_line(exc.orig or exc)}", EXIT_DATABASE)
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
