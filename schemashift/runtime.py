"""What an app imports: report itself to the deployment registry, and check at start-up
that the schema still supports it (docs/design.md §4). Light: no click, no sqlglot, no alembic.

```python
from schemashift import runtime

runtime.check(engine, app="api", version=__version__)    # raises SchemaTooNew
handle = runtime.report(engine, app="api", version=__version__, interval=30)
...
handle.stop()                                            # also done at exit
```

Made for a least-privilege app role: no DDL ever (the state tables are created by the
schemashift command line; missing, they raise StateMissing naming what to run), and every
query runs with short lock and statement timeouts (``lock_timeout``, ``statement_timeout``
keywords, in seconds), so a lock on the state tables makes a call fail with a StateError
within seconds instead of blocking the app. The GRANTs an app role needs are in
docs/deployments.md. Exit never waits more than about a second for the heartbeat.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from schemashift.deploy import StateError, StateMissing, compare_versions, open_state, record
from schemashift.execute.database import mask_password
from schemashift.execute.state import MigrationRow

__all__ = ["Heartbeat", "SchemaTooNew", "StateError", "StateMissing", "check", "ready",
           "report"]  # fmt: skip

LOCK_TIMEOUT = 2.0  # seconds a runtime query waits for a lock on the state tables
STATEMENT_TIMEOUT = 5.0  # seconds a runtime query may run
STOP_WAIT = 1.0  # seconds stop() (and so exit) waits for a beat in flight


class SchemaTooNew(RuntimeError):
    """The database was contracted for a newer version of this app (a rollback after a
    contract): running on would fail or corrupt data."""


def _url(engine_or_url: Any) -> str:
    if isinstance(engine_or_url, str):
        return engine_or_url
    url = getattr(engine_or_url, "url", engine_or_url)
    render = getattr(url, "render_as_string", None)
    if render is None:
        raise TypeError("expected a SQLAlchemy Engine or a URL string, not "
                        f"{mask_password(repr(engine_or_url))}")  # fmt: skip
    return str(render(hide_password=False))


def _open(url: str, state_schema: str, lock_timeout: float, statement_timeout: float) -> Any:
    """The state tables as the app sees them: no DDL, bounded waits."""
    return open_state(url, state_schema, create=False, lock_timeout=lock_timeout,
                      statement_timeout=statement_timeout)  # fmt: skip


class Heartbeat:
    """The handle ``report`` returns: a daemon thread refreshing ``last_seen``."""

    def __init__(self, url: str, app: str, version: str, instance: str, environment: str,
                 slot: str | None, traffic: float | None, interval: float,
                 state_schema: str, lock_timeout: float = LOCK_TIMEOUT,
                 statement_timeout: float = STATEMENT_TIMEOUT) -> None:  # fmt: skip
        self.url, self.app, self.version, self.instance = url, app, version, instance
        self._args = (environment, slot, traffic)
        self.interval = interval
        self.state_schema = state_schema
        self._timeouts = (lock_timeout, statement_timeout)
        self.beats = 0
        self.errors = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        # A daemon: a beat in flight (a slow network, a lock) never holds the process.
        self._thread = threading.Thread(target=self._loop, name=f"schemashift-heartbeat-{app}",
                                        daemon=True)  # fmt: skip

    def beat(self) -> None:
        """Record the instance now (errors raise)."""
        self._beat(from_loop=False)

    def _beat(self, from_loop: bool) -> None:
        with _open(self.url, self.state_schema, *self._timeouts) as state:
            if from_loop and self._stop.is_set():
                return  # stopped while connecting: a late beat must not undo a retire
            record(state, self.app, self.version, self.instance, *self._args)
        self.beats += 1

    def _loop(self) -> None:
        # Event.wait returns as soon as stop() sets it: no sleeping out the interval.
        while not self._stop.wait(self.interval):
            try:
                self._beat(from_loop=True)
            except Exception as exc:
                self.errors += 1  # the database is away for a moment: try again later
                self.last_error = str(exc)

    def start(self) -> Heartbeat:
        self._thread.start()
        atexit.register(self.stop)
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, retire: bool = False) -> None:
        """Stop the heartbeat (idempotent; waits at most STOP_WAIT s for a beat in flight,
        which then ends on its own); ``retire=True`` also marks the instance retired."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=STOP_WAIT)
        atexit.unregister(self.stop)
        if retire:
            from schemashift.deploy import retire as retire_rows

            with _open(self.url, self.state_schema, *self._timeouts) as state:
                retire_rows(state, self.app, instance=self.instance)


def report(engine_or_url: Any, app: str, version: str, instance: str | None = None,
           interval: float = 30, *, environment: str = "production", slot: str | None = None,
           traffic: float | None = None, state_schema: str = "schemashift",
           lock_timeout: float = LOCK_TIMEOUT,
           statement_timeout: float = STATEMENT_TIMEOUT) -> Heartbeat:  # fmt: skip
    """Record this instance now (errors raise: StateError, StateMissing), then refresh it
    every ``interval`` seconds from a daemon thread until ``.stop()`` or exit. Needs SELECT,
    INSERT and UPDATE on the ``deployments`` state table."""
    from schemashift.deploy import default_instance

    handle = Heartbeat(_url(engine_or_url), app, version, instance or default_instance(),
                       environment, slot, traffic, interval, state_schema, lock_timeout,
                       statement_timeout)  # fmt: skip
    handle.beat()
    return handle.start()


def check(engine_or_url: Any, app: str, version: str, *, state_schema: str = "schemashift",
          lock_timeout: float = LOCK_TIMEOUT,
          statement_timeout: float = STATEMENT_TIMEOUT) -> dict[str, Any]:  # fmt: skip
    """Raise SchemaTooNew when a contracted migration is for a newer version of ``app``;
    else a summary: ``{"app", "version", "ok": True, "contracted": [...], "pending": [...]}``
    (``pending``: migrations for a newer version not contracted yet). StateError (locked,
    not granted, ...) or StateMissing when the state tables cannot be read. Needs SELECT on
    the ``migrations`` state table."""
    with _open(_url(engine_or_url), state_schema, lock_timeout, statement_timeout) as state:
        rows = [r for r in state.all() if r.for_app == app and r.for_version]
    too_new, contracted, pending = [], [], []
    for row in rows:
        assert row.for_version is not None
        done = row.phase == "contract" or row.status == "done"
        newer = compare_versions(row.for_version, version) > 0
        if done and newer:
            too_new.append(row)
        elif done:
            contracted.append(row.migration)
        elif newer and row.status != "rolled_back":
            pending.append(row.migration)
    if too_new:
        listed = ", ".join(f"{r.migration} (needs {app} >= {r.for_version})" for r in too_new)
        raise SchemaTooNew(
            f"{app} {version} cannot run on this database: it was contracted for a newer "
            f"version: {listed}. Deploy a newer {app}, or fix forward with a migration that "
            "restores what this version needs."
        )
    return {"app": app, "version": version, "ok": True, "contracted": contracted,
            "pending": pending}  # fmt: skip


def ready(engine_or_url: Any, migration: str, *, state_schema: str = "schemashift",
          lock_timeout: float = LOCK_TIMEOUT,
          statement_timeout: float = STATEMENT_TIMEOUT) -> bool:  # fmt: skip
    """True once ``migration`` (its name, like ``0042_rename_user_name``; a path to its
    file works too) has passed its verify phase or is contracted: its new columns are
    backfilled and verified, so a feature flag may move reads to them. False before that,
    after a rollback, or when the migration is unknown to this database. Needs SELECT on
    the ``migrations`` state table."""
    import os.path

    name = os.path.basename(str(migration))
    stem, ext = os.path.splitext(name)
    if ext in (".sql", ".py"):
        name = stem
    with _open(_url(engine_or_url), state_schema, lock_timeout, statement_timeout) as state:
        return is_ready(state.get(name))


def is_ready(row: MigrationRow | None) -> bool:
    """``ready()``'s decision on a migration's row (``schemashift serve`` shares it)."""
    if row is None or row.status == "rolled_back":
        return False
    return row.status == "done" or row.phase in ("verify", "contract")
