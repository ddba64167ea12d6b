"""What a user hands the pair test: rows to seed and the two app versions' checks.

A check stands for one app version's queries. It gets a connection inside a transaction
(committed when the check returns, rolled back when it raises) and the stage it runs at, so
rows it writes can differ between calls (a check runs more than once per pair).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pytest imports the plugin at every start: keep SQLAlchemy out of it
    from sqlalchemy import Connection

Seed = Callable[["Connection"], object]
Check = Callable[["Connection", str], object]

# The stages a check runs at, in order (see pair_run.py).
EXPANDED = "expanded"  # old app: expand is done, the new app has not shipped
ROLLED_BACK = "rolled back"  # old app: the expand was rolled back (the revision's downgrade)
BACKFILLED = "backfilled"  # both apps: backfill is done, both versions are live
CONTRACTED = "contracted"  # new app: contract is done, the old version is gone


@dataclass(frozen=True)
class PairApps:
    """The seed and the app checks of one expand/contract pair.

    ``seed`` writes rows on the schema before the pair (the previous app version's shape);
    ``old_app`` is what the version before the change does, ``new_app`` what the version
    after it does. An assertion (or any error) in a check fails the pair test, naming the
    pair, the stage and what the check raised.
    """

    old_app: Check
    new_app: Check
    seed: Seed | None = None
