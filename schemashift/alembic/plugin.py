"""schemashift as an Alembic plugin (Alembic's ``alembic.plugins`` entry point, 1.20+).

Alembic loads every plugin when it is imported, so once schemashift is installed the
operations revisions use - ``op.schemashift_change``, ``op.schemashift_backfill``,
``op.schemashift_verify``, ``op.schemashift_sync_trigger`` - exist in any revision
without an import, under plain ``alembic upgrade`` as under schemashift's phase commands.

Kept light: it registers the operations and nothing else (no autogenerate comparators:
the expand/contract split is one line in env.py, ``process_revision_directives``).
"""

from __future__ import annotations

from typing import Any


def setup(plugin: Any) -> None:
    """Called by Alembic with this plugin's ``Plugin`` object."""
    import schemashift.alembic.ops  # noqa: F401 - registers op.schemashift_*
