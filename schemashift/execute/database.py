"""Connections from the SQLAlchemy URLs users give us, and safe ways to show those URLs.

The database-facing commands take SQLAlchemy URLs (``postgresql://``,
``postgresql+psycopg://``, ``mysql+pymysql://``, ``sqlite:///path``); the executor talks
to PostgreSQL with psycopg 3 directly (fine control over transactions, ``lock_timeout``
and notices) and to MySQL/MariaDB with PyMySQL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class DatabaseError(RuntimeError):
    """Cannot connect or the database refused us: one line, exit 4."""


@dataclass(frozen=True)
class Target:
    dialect: str  # postgres | mysql | sqlite
    url: str  # as given (never printed: see `safe`)
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str | None
    query: dict[str, str]

    @property
    def safe(self) -> str:
        return mask_password(self.url)


_SCHEMES = {
    "postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql",
    "sqlite": "sqlite",
}  # fmt: skip


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***: never print a password."""
    return re.sub(r"(?<=://)([^:/@]*):[^@]*@", r"\1:***@", url)


def parse_url(url: str) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0].lower()
    dialect = _SCHEMES.get(scheme)
    if dialect is None:
        raise DatabaseError(
            f"unsupported database URL scheme {parts.scheme!r} in {mask_password(url)} "
            "(use postgresql://, postgresql+psycopg://, mysql+pymysql:// or sqlite:///path)"
        )
    if dialect == "sqlite":
        path = url.split(":///", 1)[1] if ":///" in url else ""
        return Target(dialect, url, None, None, None, None, path or ":memory:", {})
    try:
        port = parts.port
    except ValueError:
        raise DatabaseError(f"bad port in database URL {mask_password(url)}") from None
    return Target(
        dialect=dialect,
        url=url,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        database=parts.path.lstrip("/") or None,
        query=dict(parse_qsl(parts.query)),
    )


def resolve_url(option: str | None, alembic_url: str | None = None) -> str:
    """--database-url, else SCHEMASHIFT_DATABASE_URL, else the Alembic config's URL."""
    url = option or os.environ.get("SCHEMASHIFT_DATABASE_URL") or alembic_url
    if not url:
        raise DatabaseError(
            "no database: pass --database-url, set SCHEMASHIFT_DATABASE_URL, "
            "or set sqlalchemy.url in the Alembic config"
        )
    return url


def connect(target: Target, *, autocommit: bool = False) -> Any:
    """A DB-API connection: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB, sqlite3."""
    try:
        if target.dialect == "postgres":
            import psycopg

            kwargs: dict[str, Any] = {
                "host": target.host, "port": target.port, "user": target.user,
                "password": target.password, "dbname": target.database,
                "autocommit": autocommit, "connect_timeout": 10,
            }  # fmt: skip
            kwargs.update({k: v for k, v in target.query.items() if k != "driver"})
            return psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None})
        if target.dialect == "mysql":
            import pymysql

            return pymysql.connect(
                host=target.host or "localhost", port=target.port or 3306,
                user=target.user or "root", password=target.password or "",
                database=target.database, autocommit=autocommit, connect_timeout=10,
            )  # fmt: skip
        if target.dialect == "sqlite":
            return connect_sqlite(target)
    except Exception as exc:
        raise DatabaseError(f"cannot connect to {target.safe}: {_first_line(exc)}") from None
    raise DatabaseError(f"the phase engine does not run on {target.dialect} yet ({target.safe})")


SQLITE_BUSY_TIMEOUT_MS = 5_000


def connect_sqlite(target: Target, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Any:
    """A sqlite3 connection usable from any thread, in autocommit mode (transactions are
    explicit ``BEGIN IMMEDIATE``), waiting up to ``busy_timeout_ms`` for the database's
    write lock, in WAL mode (readers go on while one writer writes)."""
    import sqlite3

    path = target.database or ":memory:"
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                           timeout=busy_timeout_ms / 1000)  # fmt: skip
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return mask_password(text[0] if text else type(exc).__name__)
