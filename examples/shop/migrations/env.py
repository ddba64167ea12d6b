"""Alembic environment of the shop example.

The database URL comes from ``SCHEMASHIFT_DATABASE_URL`` when it is set, else from
``sqlalchemy.url`` in alembic.ini. A caller may also hand over an open connection in
``config.attributes["connection"]`` (the Alembic cookbook recipe for running migrations
from code and tests).
"""

from __future__ import annotations

import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

# The project directory (the one holding alembic.ini and the ``shop`` package), so that
# ``import shop`` works whatever the current directory is.
PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from shop.models import Base  # noqa: E402

try:  # schemashift's state tables are no model's: keep them out of autogenerate/check
    from schemashift.alembic import include_object
except ImportError:  # the history also runs where schemashift is not installed
    include_object = None

URL_ENV = "SCHEMASHIFT_DATABASE_URL"

config = context.config

# Set up logging from the ini, unless the caller (a test, a tool) asked us not to touch it.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = os.environ.get(URL_ENV) or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(f"no database URL: set {URL_ENV} or sqlalchemy.url in alembic.ini")
    return url


def run_migrations_offline() -> None:
    """Render the migrations as SQL (``alembic upgrade --sql``); needs no database."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
        # One transaction per revision: revision 0006 commits in the middle
        # (autocommit_block), which Alembic recommends pairing with this.
        transaction_per_migration=True,
        # Autogenerate on SQLite writes batch operations (ALTER is limited there).
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against a live database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
