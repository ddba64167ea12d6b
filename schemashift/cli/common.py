"""What every command shares: the exit codes, the one error path, the common options and
the glue from arguments to the library (config, database URL, plan, runner).

Heavy modules are imported inside the functions: ``schemashift --help`` imports this module.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from schemashift.config import Config
    from schemashift.execute.runner import Runner
    from schemashift.phases.plan import Plan

T = TypeVar("T")


class ExitCode(IntEnum):
    """The exit codes of every command (docs/design.md §9)."""

    OK = 0
    FINDINGS = 1  # lint: findings at or above --fail-on; demo: a failed request or lost row
    USAGE = 2  # usage or input error: bad option, unreadable file, bad URL
    GATE = 3  # a gate refused: out of order, verify failed, plan changed, lock held, blockers
    DATABASE = 4  # the database failed or could not be reached
    INTERRUPTED = 130


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """One clear line on stderr (passwords masked) and a non-zero exit: never a traceback."""
    from schemashift.execute.database import mask_error

    click.echo(f"schemashift: error: {mask_error(message)}", err=True)
    sys.exit(int(code))


def warn(message: str) -> None:
    from schemashift.execute.database import mask_error

    click.echo(f"schemashift: warning: {mask_error(message)}", err=True)


lock_timeout_option = click.option(
    "--lock-timeout", "lock_timeout_ms", type=click.IntRange(1), default=None,
    help="lock_timeout for every DDL statement, in ms (default: [tool.schemashift] "
    "lock-timeout, else 1000).",
)  # fmt: skip
force_option = click.option(
    "--force", is_flag=True,
    help="Run even if a gate refuses, or a step has no safe strategy (recorded in the "
    "audit log, with --reason).",
)  # fmt: skip
reason_option = click.option("--reason", help="Why --force was needed (recorded with it).")
database_url_option = click.option(
    "--database-url", "database_url", metavar="URL",
    help="SQLAlchemy URL (default: SCHEMASHIFT_DATABASE_URL, else the Alembic config's "
         "sqlalchemy.url).",
)  # fmt: skip

alembic_config_option = click.option(
    "--alembic-config", "alembic_config", metavar="PATH", type=click.Path(dir_okay=False),
    help="The Alembic project a revision TARGET belongs to (default: [tool.schemashift] "
    "alembic_config, else alembic.ini or pyproject.toml [tool.alembic] here).",
)  # fmt: skip


def check_force(force: bool, reason: str | None) -> None:
    if force and not reason:
        fail("--force needs --reason TEXT: it is recorded in the audit log")


def load_config_for(database_url: str | None = None, alembic_config: str | None = None, *,
                    alembic_url_too: bool = True) -> Config:  # fmt: skip
    """The project config, with the dialect of the database the command runs on: a plan
    must be made for the database it will run on, whatever the project's default is
    (``alembic_url_too``: the Alembic config's sqlalchemy.url counts as that database)."""
    from schemashift.config import ConfigError, load_config
    from schemashift.execute.database import DatabaseError, parse_url
    from schemashift.targets import alembic_url

    try:
        config = load_config()
    except ConfigError as exc:
        fail(str(exc))
    if alembic_config:
        if not os.path.isfile(alembic_config):
            fail(f"--alembic-config {alembic_config}: no such file")
        config = config.with_overrides(alembic_config=alembic_config)
    url = database_url or os.environ.get("SCHEMASHIFT_DATABASE_URL")
    if not url and alembic_url_too:
        url = alembic_url(config)
    if url:
        # A bad URL is reported by database_url_for, with the context of the command.
        with contextlib.suppress(DatabaseError):
            config = config.with_overrides(dialect=parse_url(url).dialect)
    return config


def database_url_for(database_url: str | None, config: Config) -> str:
    """--database-url, else SCHEMASHIFT_DATABASE_URL, else the Alembic config's URL."""
    from schemashift.execute.database import DatabaseError, resolve_url
    from schemashift.targets import fallback_url

    try:
        return resolve_url(database_url, fallback_url(database_url, config))
    except DatabaseError as exc:
        fail(str(exc))


def load_plan(target: str, config: Config) -> Plan:
    from schemashift.targets import TargetError
    from schemashift.targets import load_plan as load

    try:
        return load(target, config)
    except TargetError as exc:
        fail(str(exc))


def guarded(action: Callable[[], T]) -> T:
    """Run ``action``; map the engine's errors to one line and the exit codes."""
    from schemashift.execute.database import DatabaseError
    from schemashift.execute.runner import GateRefused, OptionError, error_text

    try:
        return action()
    except GateRefused as exc:
        fail(str(exc), ExitCode.GATE)
    except OptionError as exc:
        fail(str(exc), ExitCode.USAGE)
    except DatabaseError as exc:
        fail(str(exc), ExitCode.DATABASE)
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "pymysql")):
            fail(f"database error: {error_text(exc)}", ExitCode.DATABASE)
        raise


def runner_for(database_url: str | None, config: Config, **options: Any) -> Runner:
    from schemashift.execute.runner import Runner, RunOptions

    url = database_url_for(database_url, config)
    if options.get("lock_timeout_ms") is None:
        options["lock_timeout_ms"] = config.lock_timeout_ms
    return guarded(lambda: Runner(url, config, RunOptions(**options)))
