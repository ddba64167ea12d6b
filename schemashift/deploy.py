"""The deployment registry and the contract gate (docs/design.md §4).

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
import math
import os
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from functools import total_ordering
from typing import Any

from schemashift.execute.database import DatabaseError
from schemashift.execute.state import DeploymentRow, MigrationRow, State
from schemashift.model import Phase

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


class StateError(DatabaseError):
    """The state tables cannot be used as asked: missing, of an older layout, not granted,
    locked too long, or the database is away. The message says what to do."""


class StateMissing(StateError):
    """The state tables do not exist (yet): the runtime never creates them."""


# What an app role needs (docs/deployments.md): read the migrations, upsert its heartbeat.
_PG_GRANTS = ("GRANT USAGE ON SCHEMA {s} TO {r}; GRANT SELECT ON {s}.migrations TO {r}; "
              "GRANT SELECT, INSERT, UPDATE ON {s}.deployments TO {r}")  # fmt: skip
_MYSQL_GRANTS = ("GRANT SELECT ON `{d}`.`{p}migrations` TO {r}; "
                 "GRANT SELECT, INSERT, UPDATE ON `{d}`.`{p}deployments` TO {r}")  # fmt: skip


@contextlib.contextmanager
def open_state(url: str, state_schema: str = "schemashift", *, create: bool = True,
               lock_timeout: float | None = None,
               statement_timeout: float | None = None) -> Iterator[State]:  # fmt: skip
    """The state tables of the database at ``url`` through an autocommit connection of its
    own; no run lock (the registry is not the schema).

    ``create=True`` (the command line) creates or upgrades the tables first; ``create=False``
    (the runtime: an app role may not CREATE) runs no DDL at all, and a missing table
    raises StateMissing naming what to run. ``lock_timeout`` / ``statement_timeout``
    (seconds) bound every query of this connection, so that a lock held on the state
    tables cannot block the caller for ever. Driver errors on the state tables become a
    StateError with a clear, masked message."""
    from schemashift.execute.database import connect, parse_url
    from schemashift.execute.state import MySQLState, PostgresState, SQLiteState

    target = parse_url(url)
    conn = connect(target, autocommit=True)
    try:
        _set_timeouts(conn, target.dialect, lock_timeout, statement_timeout)
        state: State
        if target.dialect == "postgres":
            state = PostgresState(conn, state_schema)
        elif target.dialect == "mysql":
            state = MySQLState(conn, f"{state_schema}_")
        else:
            state = SQLiteState(conn, f"{state_schema}_")
        if create:
            state.ensure()
        yield state
    except Exception as exc:
        error = _state_error(exc, target, state_schema, create, lock_timeout, statement_timeout)
        if error is None:
            raise
        raise error from None
    finally:
        conn.close()


def _set_timeouts(conn: Any, dialect: str, lock_timeout: float | None,
                  statement_timeout: float | None) -> None:  # fmt: skip
    """Session limits for this connection (it is ours alone, closed after use)."""
    if dialect == "postgres":
        for name, seconds in (("lock_timeout", lock_timeout),
                              ("statement_timeout", statement_timeout)):  # fmt: skip
            if seconds is not None:
                conn.execute(f"SET {name} = {max(1, round(seconds * 1000))}")
    elif dialect == "mysql":
        with conn.cursor() as cur:
            if lock_timeout is not None:  # whole seconds, at least 1
                secs = max(1, math.ceil(lock_timeout))
                cur.execute("SET SESSION lock_wait_timeout = %s, innodb_lock_wait_timeout = %s",
                            (secs, secs))  # fmt: skip
            if statement_timeout is not None:
                if "mariadb" in str(conn.get_server_info()).lower():
                    cur.execute("SET SESSION max_statement_time = %s", (float(statement_timeout),))
                else:  # MySQL: milliseconds, SELECTs only (the writes wait on locks above)
                    cur.execute("SET SESSION max_execution_time = %s",
                                (max(1, round(statement_timeout * 1000)),))  # fmt: skip
    elif lock_timeout is not None:  # SQLite: how long to wait for the write lock
        conn.execute(f"PRAGMA busy_timeout = {max(1, round(lock_timeout * 1000))}")


def _state_error(exc: Exception, target: Any, schema: str, create: bool,
                 lock_timeout: float | None,
                 statement_timeout: float | None) -> StateError | None:  # fmt: skip
    """A clear StateError for a driver error on the state tables; None for anything else."""
    from schemashift.execute.database import _first_line

    module = type(exc).__module__
    if not module.startswith(("psycopg", "pymysql", "sqlite3")):
        return None
    detail = _first_line(exc, target)
    # psycopg: the SQLSTATE; PyMySQL: the server's error number (its sqlstate is coarser).
    code = str(exc.args[0] if module.startswith("pymysql") and exc.args
               else getattr(exc, "sqlstate", None) or "")  # fmt: skip
    where = (f"tables {schema}_* of database {target.database}" if target.dialect != "postgres"
             else f"schema {schema}")  # fmt: skip
    missing = code in ("42P01", "3F000", "1146") or "no such table" in detail
    if missing:
        return StateMissing(
            f"the schemashift state tables are missing ({where} in {target.safe}: {detail}). "
            "They are created by any schemashift phase command (schemashift expand ...) or "
            "by `schemashift deploy record`, run by a role that may create them; the runtime "
            "never creates them", target)  # fmt: skip
    if code in ("42703", "1054"):
        return StateError(
            f"the schemashift state tables ({where}) have an older layout than this "
            f"schemashift ({detail}): run any schemashift command once (e.g. `schemashift "
            "status`) with a role that may alter them, to upgrade them", target)  # fmt: skip
    if code in ("42501", "1142", "1143", "1044"):
        role = target.user or "the app's role"
        if create:
            return StateError(
                f"{role} may not create or use the schemashift state tables ({where}: "
                f"{detail}): run schemashift as a role that may create them (an app's "
                "role needs less: see docs/deployments.md)", target)  # fmt: skip
        grants = (_PG_GRANTS.format(s=schema, r=role) if target.dialect == "postgres" else
                  _MYSQL_GRANTS.format(d=target.database, p=f"{schema}_", r=f"'{role}'@'%'"))  # fmt: skip
        return StateError(
            f"{role} may not use the schemashift state tables ({detail}). An app needs: "
            f"{grants} (see docs/deployments.md)", target)  # fmt: skip
    if code in ("55P03", "1205"):
        waited = "" if lock_timeout is None else f" (lock timeout {lock_timeout:g} s)"
        return StateError(
            f"the schemashift state tables ({where}) are locked{waited}: {detail}; a "
            "schemashift run or a DBA holds a lock on them, try again later", target)  # fmt: skip
    if code in ("57014", "1969", "3024", "1317"):
        ran = "" if statement_timeout is None else f" (statement timeout {statement_timeout:g} s)"
        return StateError(
            f"a query on the schemashift state tables ({where}) was cancelled{ran}: "
            f"{detail}; try again later", target)  # fmt: skip
    return StateError(f"schemashift state tables ({where} in {target.safe}): {detail}", target)


# -- the compatibility decision -------------------------------------------------------------

# The phases in the order they run (the Phase enum's order).
PHASE_NAMES = tuple(p.value for p in Phase)


def next_phase(phase: str | None) -> str | None:
    """The phase after ``phase`` (expand when none is done yet; None after contract)."""
    if phase is None:
        return PHASE_NAMES[0]
    i = PHASE_NAMES.index(phase) if phase in PHASE_NAMES else len(PHASE_NAMES) - 1
    return PHASE_NAMES[i + 1] if i + 1 < len(PHASE_NAMES) else None


def compatible(phase: str | None, app: str, version: str, for_app: str | None,
               for_version: str | None) -> bool | None:  # fmt: skip
    """Whether an instance of ``app`` at ``version`` runs on the schema of ``phase``: None
    (unknown) when the migration names no app, or another one; an instance older than
    ``for_version`` runs on expand/backfill/verify but not after contract."""
    if not for_app or not for_version or app != for_app:
        return None
    if phase != "contract":
        return True
    return not is_older(version, for_version)


def compatibility(phase: str | None, for_app: str | None, for_version: str | None,
                  live_rows: list[DeploymentRow]) -> list[dict[str, Any]]:  # fmt: skip
    """One entry per live instance: is it compatible with the current and the next phase."""
    nxt = next_phase(phase)
    return [
        {"app": r.app, "version": r.version, "instance": r.instance, "slot": r.slot,
         "current": compatible(phase, r.app, r.version, for_app, for_version),
         "next": None if nxt is None else compatible(nxt, r.app, r.version, for_app,
                                                     for_version)}
        for r in live_rows
    ]  # fmt: skip
