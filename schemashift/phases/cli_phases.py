"""``schemashift expand | backfill | verify | contract | rollback | status``.

TARGET is the path of a ``.sql`` migration (its plan is what ``schemashift plan`` prints
for it; the migration id is the file name without ``.sql``) or an Alembic revision id, the
expand or the contract revision of a pair ``schemashift revision`` wrote (the migration id
is the contract revision's; see schemashift/alembic/plan_revision.py). Exit codes: 0 ok, 2 usage or
input error, 3 gate refused (out of order, verify failed, plan changed, another run holds
the lock, rollback after contract), 4 database error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

EXIT_USAGE, EXIT_GATE, EXIT_DATABASE = 2, 3, 4

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


def _fail(message: str, code: int) -> NoReturn:
    from schemashift.execute.database import mask_error

    click.echo(f"schemashift: error: {mask_error(message)}", err=True)
    sys.exit(code)


def _load_plan(target: str, config: Any) -> Any:
    from schemashift.phases.planner import PlanError, plan_sql

    path = Path(target)
    if path.suffix != ".sql":
        return _load_revision_plan(target, config)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"{target}: no such file", EXIT_USAGE)
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{target}: cannot read: {exc}", EXIT_USAGE)
    try:
        return plan_sql(text, path.stem, config)
    except PlanError as exc:
        _fail(str(exc), EXIT_USAGE)


def _alembic_config_path(config: Any) -> Path | None:
    """``[tool.schemashift] alembic_config``, else alembic.ini / pyproject.toml
    [tool.alembic] in the current directory."""
    from schemashift.alembic.history import find_alembic_config

    if config.alembic_config:
        return Path(config.alembic_config)
    return find_alembic_config(Path.cwd())


def _load_revision_plan(target: str, config: Any) -> Any:
    """TARGET as an Alembic revision id (either one of an expand/contract pair)."""
    from schemashift.alembic.history import HistoryError
    from schemashift.alembic.plan_revision import plan_revision

    found = _alembic_config_path(config)
    if found is None:
        _fail(f"{target}: not a .sql migration, and no Alembic project here to find it in "
              "(no alembic.ini or pyproject.toml [tool.alembic]; set [tool.schemashift] "
              "alembic_config)", EXIT_USAGE)  # fmt: skip
    try:
        return plan_revision(found, target, config.dialect)
    except HistoryError as exc:
        _fail(str(exc), EXIT_USAGE)


def _alembic_url(config: Any) -> str | None:
    """``sqlalchemy.url`` of the Alembic config, if there is one (the last resort)."""
    found = _alembic_config_path(config)
    if found is None:
        return None
    try:
        from schemashift.alembic.history import load_config

        url = load_config(found).get_main_option("sqlalchemy.url")
    except Exception:
        return None
    return url or None


def _config(database_url: str | None = None) -> Any:
    """The project config, with the dialect of the database the command runs on: a plan
    must be made for the database it will run on, whatever the project's default is."""
    from schemashift.config import ConfigError, load_config
    from schemashift.execute.database import DatabaseError, parse_url

    try:
        config = load_config()
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    url = database_url or os.environ.get("SCHEMASHIFT_DATABASE_URL") or _alembic_url(config)
    if url:
        # A bad URL is reported by _runner, with the context of the command.
        with contextlib.suppress(DatabaseError):
            config = config.with_overrides(dialect=parse_url(url).dialect)
    return config


def _guarded(action: Callable[[], Any]) -> Any:
    """Map the engine's errors to one line and the contract's exit codes."""
    from schemashift.execute.database import DatabaseError
    from schemashift.execute.runner import GateRefused, OptionError, error_text

    try:
        return action()
    except GateRefused as exc:
        _fail(str(exc), EXIT_GATE)
    except OptionError as exc:
        _fail(str(exc), EXIT_USAGE)
    except DatabaseError as exc:
        _fail(str(exc), EXIT_DATABASE)
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "pymysql")):
            _fail(f"database error: {error_text(exc)}", EXIT_DATABASE)
        raise


def _runner(database_url: str | None, config: Any, **options: Any) -> Any:
    from schemashift.execute.database import DatabaseError, resolve_url
    from schemashift.execute.runner import Runner, RunOptions

    try:
        url = resolve_url(database_url, None if database_url or os.environ.get(
            "SCHEMASHIFT_DATABASE_URL") else _alembic_url(config))  # fmt: skip
    except DatabaseError as exc:
        _fail(str(exc), EXIT_USAGE)
    if options.get("lock_timeout_ms") is None:
        options["lock_timeout_ms"] = config.lock_timeout_ms
    return _guarded(lambda: Runner(url, config, RunOptions(**options)))


def _report(plan: Any, result: Any) -> None:
    note = "already done" if result.already_done else f"{result.steps_run} step(s) run"
    click.echo(f"{plan.migration}: {result.phase.value} ok ({note})")


def _check_force(force: bool, reason: str | None) -> None:
    if force and not reason:
        _fail("--force needs --reason TEXT: it is recorded in the audit log", EXIT_USAGE)


def _warn(plan: Any) -> None:
    from schemashift.phases.planner import plan_warnings

    for warning in plan_warnings(plan):
        click.echo(f"schemashift: warning: {warning}", err=True)


def _phase_command(name: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("target")
    @database_url_option
    @lock_timeout_option
    @force_option
    @reason_option
    def command(target: str, database_url: str | None, lock_timeout_ms: int | None,
                force: bool, reason: str | None) -> None:  # fmt: skip
        from schemashift.model import Phase

        _check_force(force, reason)
        config = _config(database_url)
        plan = _load_plan(target, config)
        runner = _runner(database_url, config, lock_timeout_ms=lock_timeout_ms, force=force,
                         reason=reason)  # fmt: skip
        _report(plan, _guarded(lambda: runner.run(plan, Phase(name))))

    return command


@click.command("expand")
@click.argument("target")
@database_url_option
@click.option("--for-app", "for_app", metavar="APP@VERSION",
              help="The app version that first works without the old schema (contract is "
                   "refused while older instances of APP are live; default: "
                   "[tool.schemashift] for-app).")  # fmt: skip
@lock_timeout_option
@force_option
@reason_option
def expand_command(target: str, database_url: str | None, lock_timeout_ms: int | None,
                   for_app: str | None, force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the expand phase of TARGET: additive, backward-compatible changes."""
    from schemashift.deploy import VersionError, parse_app_version
    from schemashift.model import Phase

    _check_force(force, reason)
    config = _config(database_url)
    app = version = None
    spec = for_app or config.for_app
    if spec:
        try:
            app, version = parse_app_version(spec)
        except VersionError as exc:
            _fail(f"--for-app: {exc}", EXIT_USAGE)
    plan = _load_plan(target, config)
    _warn(plan)
    runner = _runner(database_url, config, lock_timeout_ms=lock_timeout_ms, for_app=app,
                     for_version=version, force=force, reason=reason)  # fmt: skip
    _report(plan, _guarded(lambda: runner.run(plan, Phase.EXPAND)))


verify_command = _phase_command(
    "verify", "Run the verify phase of TARGET: checks that must hold before contract."
)


@click.command("backfill")
@click.argument("target")
@database_url_option
@click.option("--batch-size", type=click.IntRange(1), default=5000, show_default=True)
@click.option("--rows-per-second", type=click.FloatRange(min=1), default=None,
              help="Throttle the backfill to this average rate.")  # fmt: skip
@click.option("--statement-timeout", "statement_timeout_ms", type=click.IntRange(1),
              default=30_000, show_default=True, help="Per batch, in ms.")  # fmt: skip
@lock_timeout_option
@force_option
@reason_option
def backfill_command(target: str, database_url: str | None, lock_timeout_ms: int | None,
                     batch_size: int, rows_per_second: float | None, statement_timeout_ms: int,
                     force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the backfill phase of TARGET: batched, resumable after a kill."""
    from schemashift.model import Phase

    _check_force(force, reason)
    config = _config(database_url)
    plan = _load_plan(target, config)
    runner = _runner(database_url, config, lock_timeout_ms=lock_timeout_ms, batch_size=batch_size,
                     rows_per_second=rows_per_second, statement_timeout_ms=statement_timeout_ms,
                     force=force, reason=reason)  # fmt: skip
    _report(plan, _guarded(lambda: runner.run(plan, Phase.BACKFILL)))


@click.command("contract")
@click.argument("target")
@database_url_option
@force_option
@reason_option
@lock_timeout_option
def contract_command(target: str, database_url: str | None, lock_timeout_ms: int | None,
                     force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the contract phase of TARGET: remove what only old app versions used."""
    from schemashift.model import Phase

    _check_force(force, reason)
    config = _config(database_url)
    plan = _load_plan(target, config)
    runner = _runner(
        database_url, config, lock_timeout_ms=lock_timeout_ms, force=force, reason=reason
    )
    _report(plan, _guarded(lambda: runner.run(plan, Phase.CONTRACT)))
    _warn(plan)


@click.command("rollback")
@click.argument("target")
@database_url_option
@lock_timeout_option
def rollback_command(target: str, database_url: str | None, lock_timeout_ms: int | None) -> None:
    """Undo the expand of TARGET (any time before contract; after it, fix forward)."""
    config = _config(database_url)
    plan = _load_plan(target, config)
    runner = _runner(database_url, config, lock_timeout_ms=lock_timeout_ms)
    undone = _guarded(lambda: runner.rollback(plan))
    click.echo(f"{plan.migration}: rolled back ({undone} step(s) undone)")


@click.command("status")
@database_url_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
def status_command(database_url: str | None, fmt: str) -> None:
    """Each migration's phase, backfill progress and last event."""
    config = _config(database_url)
    runner = _runner(database_url, config)

    live_rows: list[Any] = []

    def collect() -> list[dict[str, Any]]:
        from schemashift.deploy import live

        out = []
        with runner.session() as state:  # no run lock: status never waits for a phase
            live_rows.extend(live(state, ttl_seconds=config.heartbeat_ttl))
            for row in state.all():
                progress = state.backfill_progress(row.migration)
                last = state.last_event(row.migration)
                out.append(
                    {
                        "migration": row.migration,
                        "phase": row.phase,
                        "status": row.status,
                        "checksum": row.checksum,
                        "for_app": row.for_app,
                        "for_version": row.for_version,
                        "steps_done": list(row.steps_done),
                        "backfill": [
                            {"step": s, "rows_done": d, "rows_total_estimate": t}
                            for s, d, t in progress
                        ],
                        "last_event": None
                        if last is None
                        else {"at": last[0].isoformat(), "action": last[1], "phase": last[2]},
                        "error": row.error,
                        "updated_at": row.updated_at.isoformat(),
                    }
                )
                if row.status not in ("done", "rolled_back"):  # in flight
                    out[-1]["next_phase"] = _next_phase(row.phase)
                    out[-1]["compatibility"] = compatibility(
                        row.phase, row.for_app, row.for_version, live_rows
                    )
        return out

    migrations = _guarded(collect)
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "migrations": migrations,
                               "live": [r.to_json() for r in live_rows]}, indent=2))  # fmt: skip
        return
    if not migrations:
        click.echo("no migrations recorded yet")
        _echo_live(live_rows)
        return
    click.echo(f"{'migration':<32} {'phase':<9} {'status':<12} {'backfill':<20} last event")
    for m in migrations:
        rows = sum(b["rows_done"] for b in m["backfill"])
        total = sum(b["rows_total_estimate"] or 0 for b in m["backfill"])
        backfill = f"{rows:,}/{total:,} rows" if m["backfill"] else "-"
        last = m["last_event"]
        event = f"{last['action']} ({last['phase']}) {last['at'][:19]}" if last else "-"
        click.echo(f"{m['migration']:<32} {m['phase'] or '-':<9} {m['status']:<12} "
                   f"{backfill:<20} {event}")  # fmt: skip
        if m["error"]:
            click.echo(f"{'':<32} error: {m['error']}")
    _echo_live(live_rows)
    for m in migrations:
        if "compatibility" in m:
            _echo_matrix(m)


_PHASES = ("expand", "backfill", "verify", "contract")


def _next_phase(phase: str | None) -> str | None:
    """The phase after ``phase`` (expand when none is done yet; None after contract)."""
    if phase is None:
        return _PHASES[0]
    i = _PHASES.index(phase) if phase in _PHASES else len(_PHASES) - 1
    return _PHASES[i + 1] if i + 1 < len(_PHASES) else None


def compatible(phase: str | None, app: str, version: str, for_app: str | None,
               for_version: str | None) -> bool | None:  # fmt: skip
    """Whether an instance of ``app`` at ``version`` runs on the schema of ``phase``: None
    (unknown) when the migration names no app, or another one; an instance older than
    ``for_version`` runs on expand/backfill/verify but not after contract."""
    from schemashift.deploy import is_older

    if not for_app or not for_version or app != for_app:
        return None
    if phase != "contract":
        return True
    return not is_older(version, for_version)


def compatibility(phase: str | None, for_app: str | None, for_version: str | None,
                  live_rows: list[Any]) -> list[dict[str, Any]]:  # fmt: skip
    """One entry per live instance: is it compatible with the current and the next phase."""
    nxt = _next_phase(phase)
    return [
        {"app": r.app, "version": r.version, "instance": r.instance, "slot": r.slot,
         "current": compatible(phase, r.app, r.version, for_app, for_version),
         "next": None if nxt is None else compatible(nxt, r.app, r.version, for_app,
                                                     for_version)}
        for r in live_rows
    ]  # fmt: skip


def _echo_live(live_rows: list[Any]) -> None:
    if not live_rows:
        click.echo("\nlive versions: none recorded")
        return
    click.echo("\nlive versions:")
    for r in live_rows:
        click.echo(f"  {r.app} {r.version} instance {r.instance} (slot {r.slot or '-'})")


def _word(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "NO")


def _echo_matrix(m: dict[str, Any]) -> None:
    current, nxt = m["phase"] or "-", m["next_phase"] or "-"
    target = (f"for {m['for_app']} >= {m['for_version']}" if m["for_app"]
              else "no --for-app: compatibility unknown")  # fmt: skip
    click.echo(f"\ncompatibility of {m['migration']} ({target}):")
    if not m["compatibility"]:
        click.echo("  no live instances")
        return
    click.echo(f"  {'app':<12} {'version':<12} {'instance':<24} "
               f"{'current (' + current + ')':<20} next ({nxt})")  # fmt: skip
    for c in m["compatibility"]:
        click.echo(f"  {c['app']:<12} {c['version']:<12} {c['instance']:<24} "
                   f"{_word(c['current']):<20} {_word(c['next'])}")  # fmt: skip


COMMANDS = {
    "expand": expand_command,
    "backfill": backfill_command,
    "verify": verify_command,
    "contract": contract_command,
    "rollback": rollback_command,
    "status": status_command,
}
