"""``schemashift demo``: the click command (the story itself is in schemashift.demo)."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from schemashift.cli.common import ExitCode


@click.command(
    "demo",
    help="Run the whole story on the bundled example: an old and a new app version write "
    "concurrently while expand → backfill → verify → contract rename users.name to "
    "full_name. An embedded SQLite database by default.",
)
@click.option(
    "--database-url",
    default=None,
    help="PostgreSQL (an empty database) or sqlite:///path; default: a temp SQLite",
)
@click.option(
    "--rows",
    default=20_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="rows in the users table before the migration",
)
@click.option("--seconds-per-phase", default=1.5, show_default=True,
              type=click.FloatRange(min=0.0), help="app traffic between phases")  # fmt: skip
def demo_command(database_url: str | None, rows: int, seconds_per_phase: float) -> None:
    from schemashift.demo import _demo  # the engine loads only when the demo runs

    with tempfile.TemporaryDirectory(prefix="schemashift-demo-") as tmp:
        url = database_url or f"sqlite:///{os.path.join(tmp, 'demo.db')}"
        failed, lost = _demo(url, rows, seconds_per_phase)
    if failed or lost:
        sys.exit(ExitCode.FINDINGS)
