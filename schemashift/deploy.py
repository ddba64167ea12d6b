"""The deployment registry and the contract gate (DESIGN §4).

Which app versions run where lives in the target database (``deployments``): instances
report themselves (``schemashift.runtime.report`` with a heartbeat, or ``schemashift deploy
record`` from the pipeline). An instance is *live* while it is not retired and its last
heartbeat is younger than the TTL (``[tool.schemashift] heartbeat-ttl``, default 120 s).

A migration expanded ``--for-app api@2.4.0`` may only be contracted once no live instance
of ``api`` runs a version older than 2.4.0: those are its blockers.

Versions compare as PEP 440 (``packaging``) when they parse so, else as semver-ish tuples
(numbers numerically, pre-release tags before the release). Light module: no click, no
sqlglot (the runtime API imports it).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from functools import total_ordering
from typing import Any

from schemashift.execute.state import DeploymentRow, MigrationRow, State

DEFAULT_TTL_SECONDS = 120
SLOTS = ("blue", "green", "canary")


class VersionError(ValueError):
    """Not a version we can compare (exit 2 on the command line)."""


@total_ordering
class _Loose:
    """A semver-ish version: ``1.2.3``, ``v1.2.3-rc.1``, ``1.2.3+build``."""

    def __init__(self, text: str) -> None:
        m = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:[-.]?([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?",
                         text.strip())  # fmt: skip
        if m is None:
            raise VersionError(f"{text!r} is not a version (PEP 440 or semver, like 2.4.0)")
        release = [int(p) for p in m.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        self.release = tuple(release)
        pre = m.group(2)
        self.pre: tuple[tuple[int, Any], ...] | None = (
            None if not pre else tuple(
                (0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.-]", pre) if p
            )
        )  # fmt: skip

    def _key(self) -> tuple[Any, ...]:
        # A release sorts after its pre-releases.
        return (self.release, (1,) if self.pre is None else (0, self.pre))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Loose) and self._key() == other._key()

    def __lt__(self, other: _Loose) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_version(text: str) -> Any:
    """A comparable version: ``packaging.version.Version`` when PEP 440, else semver-ish."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with pip/setuptools
        return _Loose(text)
    try:
        return Version(text)
    except InvalidVersion:
        return _Loose(text)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``. Two versions of
    different kinds (one PEP 440, one only semver) compare as semver-ish."""
    va, vb = parse_version(a), parse_version(b)
    if type(va) is not type(vb):
        va, vb = _Loose(a), _Loose(b)
    return -1 if va < vb else (1 if va > vb else 0)


def is_older(version: str, than: str) -> bool:
    """``version`` < ``than``; a version that does not parse counts as older (unknown)."""
    try:
        return compare_versions(version, than) < 0
    except VersionError:
        return True


def parse_app_version(text: str) -> tuple[str, str]:
    """``api@2.4.0`` → ("api", "2.4.0")."""
    app, sep, version = text.strip().rpartition("@")
    if not sep or not app or not version:
        raise VersionError(f"{text!r}: expected APP@VERSION, like api@2.4.0")
    parse_version(version)  # raises VersionError when it is no version at all
    return app, version


def default_instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


# -- the registry ---------------------------------------------------------------------


def record(state: State, app: str, version: str, instance: str | None = None,
           environment: str = "production", slot: str | None = None,
           traffic: float | None = None) -> str:  # fmt: skip
    """Upsert one instance (bumps last_seen, clears retired_at); its instance name."""
    if not app:
        raise ValueError("app must not be empty")
    parse_version(version)
    if slot is not None and slot not in SLOTS:
        raise ValueError(f"slot must be one of {', '.join(SLOTS)}, not {slot!r}")
    if traffic is not None and not 0 <= traffic <= 100:
        raise ValueError(f"traffic is a percentage (0-100), not {traffic}")
    name = instance or default_instance()
    state.record_deployment(app, version, name, environment, slot, traffic)
    return name


def retire(state: State, app: str, instance: str | None = None,
           version: str | None = None) -> int:  # fmt: skip
    """Retire the live rows of ``app`` matching ``instance`` and/or ``version``."""
    if instance is None and version is None:
        raise ValueError("retire needs an instance or a version")
    return state.retire_deployments(app, instance, version)


def is_live(row: DeploymentRow, now: Any, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> bool:
    return row.retired_at is None and row.last_seen >= now - timedelta(seconds=ttl_seconds)


def live(state: State, app: str | None = None,
         ttl_seconds: float = DEFAULT_TTL_SECONDS) -> list[DeploymentRow]:  # fmt: skip
    """Instances not retired whose last heartbeat is within the TTL (database time)."""
    now = state.db_now()
    return [r for r in state.deployments(app) if is_live(r, now, ttl_seconds)]


def contract_blockers(state: State, migration_row: MigrationRow,
                      ttl_seconds: float = DEFAULT_TTL_SECONDS) -> list[DeploymentRow]:  # fmt: skip
    """Live instances of the migration's ``for_app`` older than its ``for_version``."""
    if not migration_row.for_app or not migration_row.for_version:
        return []
    return [r for r in live(state, migration_row.for_app, ttl_seconds)
            if is_older(r.version, migration_row.for_version)]  # fmt: skip


def describe(rows: list[DeploymentRow]) -> str:
    """One line per instance: app, version, instance, slot, last seen."""
    return "\n".join(
        f"  {r.app} {r.version} instance {r.instance} ({r.environment}, slot "
        f"{r.slot or '-'}), last seen {r.last_seen.isoformat(timespec='seconds')}"
        for r in rows
    )


def blocker_json(rows: list[DeploymentRow]) -> list[dict[str, Any]]:
    return [
        {"app": r.app, "version": r.version, "instance": r.instance,
         "environment": r.environment, "slot": r.slot, "last_seen": r.last_seen.isoformat()}
        for r in rows
    ]  # fmt: skip


@contextlib.contextmanager
def open_state(url: str, state_schema: str = "schemashift") -> Iterator[State]:
    """The state tables of the database at ``url`` (created on first use), through an
    autocommit connection of its own; no run lock (the registry is not the schema)."""
    from schemashift.execute.database import connect, parse_url
    from schemashift.execute.state import MySQLState, PostgresState, SQLiteState

    target = parse_url(url)
    conn = connect(target, autocommit=True)
    try:
        state: State
        if target.dialect == "postgres":
            state = PostgresState(conn, state_schema)
        elif target.dialect == "mysql":
            state = MySQLState(conn, f"{state_schema}_")
        else:
            state = SQLiteState(conn, f"{state_schema}_")
        state.ensure()
        yield state
    finally:
        conn.close()
