"""``schemashift deploy record | retire | list`` and ``schemashift gate contract``.

The deployment registry (schemashift/deploy.py) from a pipeline: record an instance as it
starts (or let the app report itself through ``schemashift.runtime``), retire it when it
stops, list what runs. ``gate contract TARGET`` says whether contract may run now: exit 0,
or 3 with the blockers listed; it changes nothing but the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from schemashift.cli.common import (
    ExitCode,
    database_url_for,
    database_url_option,
    fail,
    guarded,
    load_config_for,
    load_plan,
    runner_for,
)

if TYPE_CHECKING:
    from schemashift.config import Config
    from schemashift.execute.state import State

T = TypeVar("T")


def _with_state(database_url: str | None, action: Callable[[State, Config], T]) -> T:
    from schemashift.deploy import open_state

    config = load_config_for(database_url)
    url = database_url_for(database_url, config)

    def run() -> T:
        with open_state(url, config.state_schema) as state:
            return action(state, config)

    return guarded(run)


@click.group("deploy")
def deploy_group() -> None:
    """The deployment registry: which app versions run where."""


@deploy_group.command("record")
@click.option("--app", required=True, help="The app's name, e.g. api.")
@click.option("--version", "version", required=True, help="Its version (PEP 440 or semver).")
@click.option("--instance", help="This instance's name (default: HOSTNAME-PID).")
@click.option("--environment", default="production", show_default=True)
@click.option("--slot", type=click.Choice(["blue", "green", "canary"]))
@click.option("--traffic", type=click.FloatRange(0, 100), help="Share of traffic, in %.")
@database_url_option
def record_command(app: str, version: str, instance: str | None, environment: str,
                   slot: str | None, traffic: float | None,
                   database_url: str | None) -> None:  # fmt: skip
    """Record (or refresh) a running instance of APP at VERSION."""
    from schemashift.deploy import VersionError, parse_version, record

    try:
        parse_version(version)
    except VersionError as exc:
        fail(str(exc))
    name = _with_state(database_url, lambda state, _config: record(
        state, app, version, instance, environment, slot, traffic))  # fmt: skip
    click.echo(f"recorded {app} {version} instance {name} ({environment})")


@deploy_group.command("retire")
@click.option("--app", required=True)
@click.option("--instance", help="Retire this instance.")
@click.option("--version", "version", help="Retire every instance running this version.")
@database_url_option
def retire_command(app: str, instance: str | None, version: str | None,
                   database_url: str | None) -> None:  # fmt: skip
    """Mark instances of APP retired (they no longer block contract)."""
    from schemashift.deploy import retire

    if (instance is None) == (version is None):
        fail("deploy retire needs exactly one of --instance or --version")
    count = _with_state(database_url, lambda state, _config: retire(state, app, instance,
                                                                     version))  # fmt: skip
    click.echo(f"retired {count} instance(s) of {app}")


@deploy_group.command("list")
@click.option("--app", help="Only this app.")
@click.option("--all", "show_all", is_flag=True, help="Also retired and silent instances.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)  # fmt: skip
@database_url_option
def list_command(app: str | None, show_all: bool, fmt: str, database_url: str | None) -> None:
    """The live instances (not retired, heartbeat within [tool.schemashift] heartbeat-ttl)."""
    from schemashift.deploy import is_live

    def collect(state: Any, config: Any) -> list[dict[str, Any]]:
        now = state.db_now()
        out = []
        for row in state.deployments(app):
            live = is_live(row, now, config.heartbeat_ttl)
            if live or show_all:
                out.append({**row.to_json(), "live": live})
        return out

    rows = _with_state(database_url, collect)
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "deployments": rows}, indent=2))
        return
    if not rows:
        click.echo("no live instances recorded")
        return
    click.echo(f"{'app':<16} {'version':<14} {'instance':<28} {'environment':<12} "
               f"{'slot':<7} {'traffic':>7}  last seen")  # fmt: skip
    for r in rows:
        traffic = "-" if r["traffic"] is None else f"{r['traffic']:g}%"
        state = "" if r["live"] else ("  (retired)" if r["retired_at"] else "  (silent)")
        click.echo(f"{r['app']:<16} {r['version']:<14} {r['instance']:<28} "
                   f"{r['environment']:<12} {r['slot'] or '-':<7} {traffic:>7}  "
                   f"{r['last_seen'][:19]}{state}")  # fmt: skip


@click.group("gate")
def gate_group() -> None:
    """Ask whether a phase may run now, without running it."""


@gate_group.command("contract")
@click.argument("target")
@database_url_option
def gate_contract_command(target: str, database_url: str | None) -> None:
    """Exit 0 when contract of TARGET may run now; 3 with the blockers listed otherwise."""
    from schemashift.deploy import describe

    config = load_config_for(database_url)  # the plan is made for the database's dialect
    plan = load_plan(target, config)
    runner = runner_for(database_url, config)
    blockers = guarded(lambda: runner.gate_contract(plan))
    if blockers:
        row_app = blockers[0].app
        fail(f"{plan.migration}: contract blocked by {len(blockers)} live instance(s) of "
              f"{row_app} older than the version the migration is for:\n"
              + describe(blockers), ExitCode.GATE)  # fmt: skip
    click.echo(f"{plan.migration}: contract may run")


COMMANDS = (deploy_group, gate_group)
