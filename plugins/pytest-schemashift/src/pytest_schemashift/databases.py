"""Throw-away databases on a PostgreSQL or MySQL/MariaDB server, one per pair test.

The server URL names a login that may CREATE and DROP databases; the database in it is
only used to connect: each test gets ``ss_plug_<random>`` and drops it afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from schemashift.execute.database import mask_password
from sqlalchemy.engine import URL, make_url

_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}  # fmt: skip


class DatabaseProblem(Exception):
    """The server cannot give us a database (one line, password masked)."""


def with_driver(url: str | URL) -> URL:
    """The URL with the drivers schemashift talks through: psycopg 3 and PyMySQL."""
    parsed = make_url(url)
    return parsed.set(drivername=_DRIVERS.get(parsed.drivername, parsed.drivername))


def render(url: URL) -> str:
    """The URL as a string the runner and Alembic can connect with (password included:
    never print it; messages use ``mask_password``)."""
    return url.render_as_string(hide_password=False)


def _admin(server: URL) -> sa.Engine:
    return sa.create_engine(server, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """Create ``ss_plug_<random>`` on the server of ``server_url``; yield its URL; drop it."""
    server = with_driver(server_url)
    backend = server.get_backend_name()
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise DatabaseProblem(f"schemashift_server_url {mask_password(server_url)}: "
                              "a PostgreSQL or MySQL/MariaDB server is needed")  # fmt: skip
    name = f"ss_plug_{uuid.uuid4().hex[:12]}"
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    engine = _admin(server)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    except Exception as exc:
        engine.dispose()
        first = (str(getattr(exc, "orig", exc)).strip().splitlines() or [type(exc).__name__])[0]
        raise DatabaseProblem(f"cannot create a database on {mask_password(server_url)}: "
                              f"{mask_password(first)}") from None  # fmt: skip
    try:
        yield render(server.set(database=name))
    finally:
        drop = (f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)" if backend == "postgresql"
                else f"DROP DATABASE IF EXISTS {quoted}")  # fmt: skip
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(drop))
        finally:
            engine.dispose()
