"""The ``schemashift`` command: the click group and ``main``. One module per command
family (lint, rules, plan, phases, deploy, alembic, demo); what they share is in ``common``.

Commands parse arguments, call the library and print. Heavy modules (sqlglot, alembic,
the rules, the executor) are imported inside the commands, so ``schemashift --help``
starts fast (benchmarks/help_time.py).
"""

from __future__ import annotations

import os
import sys

import click

from schemashift import __version__
from schemashift.cli import alembic, demo, deploy, lint, phases, plan, rules, serve
from schemashift.cli.common import ExitCode, fail


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="schemashift")
def cli() -> None:
    """Zero-downtime schema changes for Alembic projects.

    schemashift classifies every schema change as backward-compatible or breaking, says
    which lock it takes and whether it rewrites or scans the table, and flags the hazards
    with the safe alternative.
    """


for _command in (
    lint.lint_command, *rules.COMMANDS, *alembic.COMMANDS,
    plan.plan_command, demo.demo_command, *phases.COMMANDS, *deploy.COMMANDS,
    serve.serve_command,
):  # fmt: skip
    cli.add_command(_command)


def main() -> None:
    try:
        cli.main(prog_name="schemashift", standalone_mode=False)
    except click.UsageError as exc:
        hint = (
            f" (see: schemashift {exc.ctx.info_name} --help)" if exc.ctx and exc.ctx.parent else ""
        )
        fail(f"{exc.format_message()}{hint}")
    except click.exceptions.Abort:
        fail("aborted", ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message())
    except BrokenPipeError:
        sys.exit(ExitCode.OK)
    except KeyboardInterrupt:
        fail("interrupted", ExitCode.INTERRUPTED)
    except Exception as exc:
        if os.environ.get("SCHEMASHIFT_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (set SCHEMASHIFT_DEBUG=1 for details)")
