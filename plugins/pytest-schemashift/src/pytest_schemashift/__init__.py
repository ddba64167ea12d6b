"""pytest-schemashift: the old and the new app version both work on every expanded schema.

``PairApps`` is what the ``schemashift_apps`` fixture maps each expand/contract pair to; the
built-in tests are in ``pytest_schemashift.tests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_schemashift.apps import BACKFILLED, CONTRACTED, EXPANDED, ROLLED_BACK, PairApps

if TYPE_CHECKING:
    from pytest_schemashift.history import Pair


def __getattr__(name: str) -> Any:
    # Pair needs Alembic; pytest imports this package at every start (the pytest11 plugin).
    if name == "Pair":
        from pytest_schemashift.history import Pair

        return Pair
    raise AttributeError(name)


__all__ = ["BACKFILLED", "CONTRACTED", "EXPANDED", "ROLLED_BACK", "Pair", "PairApps"]
__version__ = "0.1.0"
