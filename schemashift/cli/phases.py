"""``schemashift expand | backfill | verify | contract | rollback | status``.

TARGET is the path of a ``.sql`` migration (its plan is what ``schemashift plan`` prints
for it; the migration id is the file name without ``.sql``) or an Alembic revision id, the
expand or the contract revision of a pair ``schemashift revision`` wrote (the migration id
is the contract revision's; see schemashift/alembic/plan_revision.py). Exit codes: 0 ok, 2
usage or input error, 3 gate refused (out of order, verify failed, plan changed, another
run holds the lock, rollback after contract), 4 database error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from schemashift.cli.common import (
    alembic_config_option,
    check_force,
    database_url_option,
    fail,
    force_option,
    guarded,
    load_config_for,
    load_plan,
    lock_timeout_option,
    reason_option,
    runner_for,
    warn,
)

if TYPE_CHECKING:
    from schemashift.phases.plan import Plan


def _report(plan: Any, result: Any) -> None:
    note = "already done" if result.already_done else f"{result.steps_run} step(s) run"
    click.echo(f"{plan.migration}: {result.phase.value} ok ({note})")


def _warn(plan: Plan) -> None:
    from schemashift.phases.planner import plan_warnings

    for warning in plan_warnings(plan):
        warn(warning)


@click.command("expand")
@click.argument("target")
@database_url_option
@alembic_config_option
@click.option("--for-app", "for_app", metavar="APP@VERSION",
              help="The app version that first works without the old schema (contract is "
                   "refused while older instances of APP are live; default: "
                   "[tool.schemashift] for-app).")  # fmt: skip
@lock_timeout_option
@force_option
@reason_option
def expand_command(target: str, database_url: str | None, alembic_config: str | None,
                   lock_timeout_ms: int | None,
                   for_app: str | None, force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the expand phase of TARGET: additive, backward-compatible changes."""
    from schemashift.deploy import VersionError, parse_app_version
    from schemashift.model import Phase

    check_force(force, reason)
    config = load_config_for(database_url, alembic_config)
    app = version = None
    spec = for_app or config.for_app
    if spec:
        try:
            app, version = parse_app_version(spec)
        except VersionError as exc:
            fail(f"--for-app: {exc}")
    plan = load_plan(target, config)
    _warn(plan)
    runner = runner_for(database_url, config, lock_timeout_ms=lock_timeout_ms, for_app=app,
                        for_version=version, force=force, reason=reason)  # fmt: skip
    _report(plan, guarded(lambda: runner.run(plan, Phase.EXPAND)))


@click.command("backfill")
@click.argument("target")
@database_url_option
@alembic_config_option
@click.option("--batch-size", type=click.IntRange(1), default=5000, show_default=True)
@click.option("--rows-per-second", type=click.FloatRange(min=1), default=None,
              help="Throttle the backfill to this average rate.")  # fmt: skip
@click.option("--statement-timeout", "statement_timeout_ms", type=click.IntRange(1),
              default=30_000, show_default=True, help="Per batch, in ms.")  # fmt: skip
@lock_timeout_option
@force_option
@reason_option
def backfill_command(target: str, database_url: str | None, alembic_config: str | None,
                     lock_timeout_ms: int | None,
                     batch_size: int, rows_per_second: float | None, statement_timeout_ms: int,
                     force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the backfill phase of TARGET: batched, resumable after a kill."""
    from schemashift.model import Phase

    check_force(force, reason)
    config = load_config_for(database_url, alembic_config)
    plan = load_plan(target, config)
    runner = runner_for(database_url, config, lock_timeout_ms=lock_timeout_ms,
                        batch_size=batch_size, rows_per_second=rows_per_second,
                        statement_timeout_ms=statement_timeout_ms, force=force,
                        reason=reason)  # fmt: skip
    _report(plan, guarded(lambda: runner.run(plan, Phase.BACKFILL)))


@click.command("verify")
@click.argument("target")
@database_url_option
@alembic_config_option
@lock_timeout_option
@force_option
@reason_option
def verify_command(target: str, database_url: str | None, alembic_config: str | None,
                   lock_timeout_ms: int | None,
                   force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the verify phase of TARGET: checks that must hold before contract."""
    from schemashift.model import Phase

    _run_phase(Phase.VERIFY, target, database_url, alembic_config, lock_timeout_ms, force,
               reason)  # fmt: skip


@click.command("contract")
@click.argument("target")
@database_url_option
@alembic_config_option
@force_option
@reason_option
@lock_timeout_option
def contract_command(target: str, database_url: str | None, alembic_config: str | None,
                     lock_timeout_ms: int | None,
                     force: bool, reason: str | None) -> None:  # fmt: skip
    """Run the contract phase of TARGET: remove what only old app versions used."""
    from schemashift.model import Phase

    plan = _run_phase(Phase.CONTRACT, target, database_url, alembic_config, lock_timeout_ms,
                      force, reason)  # fmt: skip
    _warn(plan)


def _run_phase(phase: Any, target: str, database_url: str | None, alembic_config: str | None,
               lock_timeout_ms: int | None, force: bool, reason: str | None) -> Plan:  # fmt: skip
    """Load TARGET's plan for the database and run one phase of it (verify, contract)."""
    check_force(force, reason)
    config = load_config_for(database_url, alembic_config)
    plan = load_plan(target, config)
    runner = runner_for(database_url, config, lock_timeout_ms=lock_timeout_ms, force=force,
                        reason=reason)  # fmt: skip
    _report(plan, guarded(lambda: runner.run(plan, phase)))
    return plan


@click.command("rollback")
@click.argument("target")
@database_url_option
@alembic_config_option
@lock_timeout_option
def rollback_command(target: str, database_url: str | None, alembic_config: str | None,
                     lock_timeout_ms: int | None) -> None:  # fmt: skip
    """Undo the expand of TARGET (any time before contract; after it, fix forward)."""
    config = load_config_for(database_url, alembic_config)
    plan = load_plan(target, config)
    runner = runner_for(database_url, config, lock_timeout_ms=lock_timeout_ms)
    undone = guarded(lambda: runner.rollback(plan))
    click.echo(f"{plan.migration}: rolled back ({undone} step(s) undone)")


@click.command("status")
@database_url_option
@alembic_config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
def status_command(database_url: str | None, alembic_config: str | None, fmt: str) -> None:
    """Each migration's phase, backfill progress and last event."""
    from schemashift.execute.status import status_document

    config = load_config_for(database_url, alembic_config)
    runner = runner_for(database_url, config)

    def collect() -> dict[str, Any]:
        with runner.session() as state:  # no run lock: status never waits for a phase
            return status_document(state, config.heartbeat_ttl)

    doc = guarded(collect)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    from schemashift.report.status import render_status

    click.echo(render_status(doc), nl=False)


COMMANDS = (expand_command, backfill_command, verify_command, contract_command,
            rollback_command, status_command)  # fmt: skip
