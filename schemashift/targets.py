"""A phase command's TARGET, resolved to its plan: a ``.sql`` migration file or an Alembic
revision id (the expand or the contract revision of a pair ``schemashift revision`` wrote).

This is integration code: it reads files and Alembic histories, so it sits above the pure
core (planner, strategies) and beside the executor; the CLI and the runtime call it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemashift.config import Config
    from schemashift.phases.plan import Plan


class TargetError(Exception):
    """TARGET cannot be read or planned (one line, for the user)."""


def alembic_config_path(config: Config) -> Path | None:
    """``[tool.schemashift] alembic_config``, else alembic.ini / pyproject.toml
    [tool.alembic] in the current directory."""
    from schemashift.alembic.history import find_alembic_config

    if config.alembic_config:
        return Path(config.alembic_config)
    return find_alembic_config(Path.cwd())


def alembic_url(config: Config) -> str | None:
    """``sqlalchemy.url`` of the Alembic config, if there is one (the last resort)."""
    found = alembic_config_path(config)
    if found is None:
        return None
    try:
        from schemashift.alembic.history import load_config

        url = load_config(found).get_main_option("sqlalchemy.url")
    except Exception:  # a broken alembic.ini is reported by the command that needs it
        return None
    return url or None


def fallback_url(database_url: str | None, config: Config) -> str | None:
    """The Alembic config's URL when neither --database-url nor SCHEMASHIFT_DATABASE_URL
    names one (resolve_url takes it as its last resort)."""
    if database_url or os.environ.get("SCHEMASHIFT_DATABASE_URL"):
        return None
    return alembic_url(config)


def load_plan(target: str, config: Config) -> Plan:
    """The plan of TARGET for ``config.dialect``."""
    from schemashift.phases.planner import PlanError, plan_sql

    path = Path(target)
    if path.suffix.lower() != ".sql":
        return load_revision_plan(target, config)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetError(f"{target}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"{target}: cannot read: {exc}") from None
    try:
        return plan_sql(text, path.stem, config)
    except PlanError as exc:
        raise TargetError(str(exc)) from None


def load_revision_plan(target: str, config: Config) -> Plan:
    """TARGET as an Alembic revision id (either one of an expand/contract pair)."""
    from schemashift.alembic.history import HistoryError
    from schemashift.alembic.plan_revision import plan_revision

    found = alembic_config_path(config)
    if found is None:
        raise TargetError(
            f"{target}: not a .sql migration, and no Alembic project here to find it in "
            "(no alembic.ini or pyproject.toml [tool.alembic]; set [tool.schemashift] "
            "alembic_config)"
        )
    try:
        return plan_revision(found, target, config.dialect)
    except HistoryError as exc:
        raise TargetError(str(exc)) from None
