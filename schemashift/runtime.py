"""What an app imports: report itself to the deployment registry, and check at start-up
that the schema still supports it (DESIGN §4). Light: no click, no sqlglot, no alembic.

```python
from schemashift import runtime

runtime.check(engine, app="api", version=__version__)    # raises SchemaTooNew
handle = runtime.report(engine, app="api", version=__version__, interval=30)
...
handle.stop()                                            # also done at exit
```
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from schemashift.deploy import compare_versions, open_state, record


class SchemaTooNew(RuntimeError):
    """The database was contracted for a newer version of this app (a rollback after a
    contract): running on would fail or corrupt data."""


def _url(engine_or_url: Any) -> str:
    if isinstance(engine_or_url, str):
        return engine_or_url
    url = getattr(engine_or_url, "url", engine_or_url)
    render = getattr(url, "render_as_string", None)
    if render is None:
        raise TypeError(f"expected a SQLAlchemy Engine or a URL string, not {engine_or_url!r}")
    return str(render(hide_password=False))


class Heartbeat:
    """The handle ``report`` returns: a daemon thread refreshing ``last_seen``."""

    def __init__(self, url: str, app: str, version: str, instance: str, environment: str,
                 slot: str | None, traffic: float | None, interval: float,
                 state_schema: str) -> None:  # fmt: skip
        self.url, self.app, self.version, self.instance = url, app, version, instance
        self._args = (environment, slot, traffic)
        self.interval = interval
        self.state_schema = state_schema
        self.beats = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schemashift-heartbeat-{app}",
                                        daemon=True)  # fmt: skip

    def beat(self) -> None:
        with open_state(self.url, self.state_schema) as state:
            record(state, self.app, self.version, self.instance, *self._args)
        self.beats += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:
                self.errors += 1  # the database is away for a moment: try again later

    def start(self) -> Heartbeat:
        self._thread.start()
        atexit.register(self.stop)
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, retire: bool = False) -> None:
        """Stop the heartbeat (idempotent); ``retire=True`` also marks the instance retired."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=max(self.interval, 10))
        atexit.unregister(self.stop)
        if retire:
            from schemashift.deploy import retire as retire_rows

            with open_state(self.url, self.state_schema) as state:
                retire_rows(state, self.app, instance=self.instance)


def report(engine_or_url: Any, app: str, version: str, instance: str | None = None,
           interval: float = 30, *, environment: str = "production", slot: str | None = None,
           traffic: float | None = None, state_schema: str = "schemashift") -> Heartbeat:  # fmt: skip
    """Record this instance now (errors raise), then refresh it every ``interval`` seconds
    from a daemon thread until ``.stop()`` or exit."""
    from schemashift.deploy import default_instance

    handle = Heartbeat(_url(engine_or_url), app, version, instance or default_instance(),
                       environment, slot, traffic, interval, state_schema)  # fmt: skip
    handle.beat()
    return handle.start()


def check(engine_or_url: Any, app: str, version: str, *,
          state_schema: str = "schemashift") -> dict[str, Any]:  # fmt: skip
    """Raise SchemaTooNew when a contracted migration is for a newer version of ``app``;
    else a summary: ``{"app", "version", "ok": True, "contracted": [...], "pending": [...]}``
    (``pending``: migrations for a newer version not contracted yet)."""
    with open_state(_url(engine_or_url), state_schema) as state:
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


def ready(engine_or_url: Any, migration: str, *, state_schema: str = "schemashift") -> bool:
    """True once ``migration`` (its name, like ``0042_rename_user_name``; a path to its
    file works too) has passed its verify phase or is contracted: its new columns are
    backfilled and verified, so a feature flag may move reads to them. False before that,
    after a rollback, or when the migration is unknown to this database."""
    import os.path

    name = os.path.basename(str(migration))
    stem, ext = os.path.splitext(name)
    if ext in (".sql", ".py"):
        name = stem
    with open_state(_url(engine_or_url), state_schema) as state:
        row = state.get(name)
    if row is None or row.status == "rolled_back":
        return False
    return row.status == "done" or row.phase in ("verify", "contract")
