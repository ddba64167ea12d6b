"""``schemashift lint``: read migrations, report findings (explain and rules: cli/rules.py).

The work is in ``schemashift.analysis`` (reading and classifying) and ``schemashift.report``
(the output formats); this module parses arguments and picks the exit code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from schemashift import __version__
from schemashift.cli.common import ExitCode, fail


@click.command("lint")
@click.argument("paths", nargs=-1)
@click.option(
    "--alembic-config",
    "alembic_config",
    type=click.Path(dir_okay=False),
    help="Lint the history of this Alembic project (alembic.ini, or pyproject.toml "
    "with [tool.alembic]). Default with no PATHS: the one in the current directory.",
)
@click.option("--revision", "revision", help="Alembic: only this revision.")
@click.option("--since", "since", help="Alembic: only the revisions after this one.")
@click.option(
    "--since-git",
    "since_git",
    metavar="GIT_REF",
    help="Alembic: only revision files added or changed since this git ref.",
)
@click.option(
    "--replay-database", "replay_database", metavar="URL",
    help="Alembic: upgrade this EMPTY scratch database revision by revision (a non-empty one "
    "is refused) and lint the SQL each revision really executed; 'docker': a throw-away "
    "container for --dialect.",
)  # fmt: skip
@click.option("--dialect", help="postgres (default), mysql or sqlite.")
@click.option("--database-url", "database_url", metavar="URL",
              help="Read the live catalog (read-only): column types, NOT NULL, each table's "
                   "estimated rows and size, which findings state and size their severity by "
                   "([tool.schemashift] small-table-rows).")  # fmt: skip
@click.option("--schema", "schema_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="The existing schema, as DDL (pg_dump --schema-only, mysqldump --no-data, "
                   "SQLite .schema): type changes are priced on the real column types "
                   "(default: [tool.schemashift] schema).")  # fmt: skip
@click.option("--server-version", help="Target server version, e.g. 16 or 8.0.29.")
@click.option(
    "--format", "fmt", default="text", show_default=True,
    type=click.Choice(["text", "json", "sarif", "github"]), help="Output format.",
)  # fmt: skip
@click.option(
    "--fail-on", default=None, type=click.Choice(["error", "warning", "breaking"]),
    help="Exit 1 when a finding reaches this level (default: error). 'breaking' also fails "
    "on breaking (and, unless unknown = \"warn\", unknown) changes.",
)  # fmt: skip
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="pyproject.toml to read [tool.schemashift] from (default: nearest).")  # fmt: skip
@click.option("--color/--no-color", default=None, help="Colour text output (default: on a TTY).")
@click.option(
    "-v", "--verbose", is_flag=True, help="Text: show every statement, not just findings."
)
def lint_command(
    paths: tuple[str, ...],
    alembic_config: str | None,
    revision: str | None,
    since: str | None,
    since_git: str | None,
    replay_database: str | None,
    dialect: str | None,
    database_url: str | None,
    schema_path: str | None,
    server_version: str | None,
    fmt: str,
    fail_on: str | None,
    config_path: str | None,
    color: bool | None,
    verbose: bool,
) -> None:
    """Lint SQL migrations (files, directories of *.sql, or - for stdin), or the history
    of an Alembic project, revision by revision (PATHS ending in .py: only those revision
    files, as the post-write hook `schemashift init` adds does).

    Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage or input error.
    """

    import gc

    # Linting builds many small objects, with no cycles to speak of, and the process exits
    # right after: the cyclic collector would only cost time (~10% of a big file's run;
    # peak memory is the same, benchmarks/lint_speed.py).
    gc.disable()

    from schemashift.analysis.engine import InputError, read_sources
    from schemashift.config import ConfigError, load_config
    from schemashift.dialects.base import ALIASES, parse_version

    try:
        config = load_config(path=Path(config_path)) if config_path else load_config()
    except ConfigError as exc:
        fail(str(exc))
    revision_files = [Path(p) for p in paths] if paths and all(
        p.endswith(".py") for p in paths) else []  # fmt: skip
    if revision_files and not (alembic_config or config.alembic_config):
        from schemashift.alembic.history import find_alembic_config

        if find_alembic_config(Path.cwd()) is None:
            fail("revision files (.py) are read as part of their Alembic project: pass "
                 "--alembic-config PATH (no alembic.ini or pyproject.toml [tool.alembic] here)")
    alembic_path = _alembic_target(() if revision_files else paths, alembic_config,
                                   config.alembic_config, revision or since or since_git)  # fmt: skip
    if dialect is not None:
        if dialect.lower() not in ALIASES:
            fail(f"unknown dialect {dialect!r} (choose postgres, mysql or sqlite)")
        dialect = ALIASES[dialect.lower()]
    if server_version is not None:
        try:
            parse_version(server_version)
        except ValueError:
            fail(f"--server-version {server_version!r} is not a version like 16 or 8.0.29")
    config = config.with_overrides(dialect=dialect, server_version=server_version)
    if config_path and not Path(config_path).is_file():
        fail(f"{config_path}: no such file")
    if replay_database is not None and alembic_path is None:
        fail("--replay-database needs an Alembic project (--alembic-config), not SQL paths")
    if alembic_path is not None:
        from schemashift.alembic.history import HistoryError
        from schemashift.alembic.lint import lint_history
        from schemashift.analysis.suppress import SuppressionError

        try:
            if replay_database is not None:
                from schemashift.alembic.replay import lint_replay

                report = lint_replay(alembic_path, config, replay_database, revision=revision,
                                     since=since, since_git=since_git,
                                     files=revision_files)  # fmt: skip
            else:
                report = lint_history(alembic_path, config, revision=revision, since=since,
                                      since_git=since_git, files=revision_files)  # fmt: skip
        except (HistoryError, SuppressionError) as exc:
            fail(str(exc))
        _finish(report, fmt, color, verbose, fail_on or config.fail_on or "error", config.unknown)
    stdin_text = None
    if "-" in paths:
        try:
            stdin_text = sys.stdin.read()
        except UnicodeDecodeError:
            fail("stdin: not valid UTF-8")
    try:
        sources = read_sources(paths, stdin_text)
    except InputError as exc:
        fail(str(exc))
    from schemashift.analysis.pipeline import lint_sources
    from schemashift.analysis.suppress import SuppressionError

    schema = _read_schema(schema_path or config.schema)
    catalog = _read_catalog(database_url) if database_url else None
    if catalog is not None and dialect is None:
        from schemashift.execute.database import parse_url

        config = config.with_overrides(dialect=parse_url(database_url or "").dialect)
    # One pipeline for every format (it uses both cores on a big file when one is idle).
    try:
        report = lint_sources(sources, config, schema=schema, catalog=catalog)
    except SuppressionError as exc:
        fail(str(exc))
    _finish(report, fmt, color, verbose, fail_on or config.fail_on or "error", config.unknown)


def _read_catalog(url: str) -> object:
    from schemashift.cli.common import ExitCode
    from schemashift.execute.catalog_facts import read_catalog
    from schemashift.execute.database import DatabaseError

    try:
        return read_catalog(url)
    except DatabaseError as exc:
        fail(str(exc), ExitCode.DATABASE)


def _read_schema(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"--schema {path}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--schema {path}: cannot read: {exc}")


def _finish(
    report: object, fmt: str, color: bool | None, verbose: bool, fail_on: str, unknown: str
) -> None:
    """Render the report in the chosen format and exit with the code its outcome gives."""
    from schemashift.analysis.pipeline import Outcome
    from schemashift.model import LintReport

    assert isinstance(report, LintReport)
    _emit(report, fmt, color, verbose)
    sys.stdout.flush()
    sys.exit(_exit_code(Outcome.of(report), fail_on, unknown))


def _alembic_target(
    paths: tuple[str, ...], option: str | None, configured: str | None, wants_history: object
) -> Path | None:
    """The Alembic config to lint, if this run lints a history (None: SQL files)."""
    if option:
        if paths:
            fail("pass either SQL paths or --alembic-config, not both")
        return Path(option)
    if paths:
        if wants_history:
            fail("--revision, --since and --since-git need an Alembic project, not SQL paths")
        return None
    if configured:
        return Path(configured)
    from schemashift.alembic.history import find_alembic_config  # only when no paths

    found = find_alembic_config(Path.cwd())
    if found is None:
        fail("no paths given and no alembic.ini (or pyproject.toml with [tool.alembic]) here: "
             "pass SQL files, directories, - for stdin, or --alembic-config")  # fmt: skip
    return found


def _emit(report: object, fmt: str, color: bool | None, verbose: bool) -> None:
    from schemashift.model import LintReport
    from schemashift.rules.registry import all_rules

    assert isinstance(report, LintReport)
    if fmt == "sarif":
        from schemashift.report.sarif import render_sarif

        text = render_sarif(report, all_rules(), __version__)
    elif fmt == "json":
        from schemashift.report.json_output import render_json

        text = render_json(report)
    elif fmt == "github":
        from schemashift.report.github import render_github

        text = render_github(report, {r.id: r.name for r in all_rules()})
    else:
        from schemashift.report.text import render_text

        use_color = (
            sys.stdout.isatty() and not os.environ.get("NO_COLOR") if color is None else color
        )
        text = render_text(report, color=use_color, verbose=verbose,
                           rule_names={r.id: r.name for r in all_rules()})  # fmt: skip
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _exit_code(outcome: object, fail_on: str, unknown: str) -> ExitCode:
    from schemashift.analysis.pipeline import Outcome
    from schemashift.model import BREAKING, ERROR, UNKNOWN, WARNING

    assert isinstance(outcome, Outcome)
    failing = {ERROR, WARNING} if fail_on == "warning" else {ERROR}
    breaking = {BREAKING, UNKNOWN} if unknown == "breaking" else {BREAKING}
    if outcome.severities & failing:
        return ExitCode.FINDINGS
    if fail_on == "breaking" and outcome.compatibilities & breaking:
        return ExitCode.FINDINGS
    return ExitCode.OK
