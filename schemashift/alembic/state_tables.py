"""schemashift's state tables, kept out of Alembic's autogenerate and ``alembic check``.

PostgreSQL keeps them in their own schema (``schemashift``), which autogenerate compares
only with ``include_schemas=True``; MySQL/MariaDB keeps them beside the application's
tables, prefixed ``schemashift_`` (docs/design.md §7). No model declares them, so without
this filter autogenerate proposes to drop them and ``alembic check`` fails.

In env.py::

    from schemashift.alembic import include_object

    context.configure(..., include_object=include_object)

(chain it with a filter of your own: ``include_object=lambda *a: mine(*a) and
include_object(*a)``). ``schemashift revision`` drops such operations itself.
"""

from __future__ import annotations

from typing import Any

STATE_SCHEMA = "schemashift"
STATE_PREFIX = "schemashift_"


def is_state_table(name: str | None, schema: str | None = None) -> bool:
    if schema == STATE_SCHEMA:
        return True
    return bool(name) and str(name).startswith(STATE_PREFIX)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:  # fmt: skip
    """Alembic's ``include_object`` hook: False for schemashift's state tables and what
    belongs to them (indexes, constraints), True for everything else."""
    if type_ == "table":
        return not is_state_table(name, getattr(obj, "schema", None))
    table = getattr(obj, "table", None)
    if table is not None:
        return not is_state_table(getattr(table, "name", None), getattr(table, "schema", None))
    return True
