"""Driver keyword arguments for a SQLAlchemy URL, shared by tests/conftest.py and the tests
that open their own connections (a module of its own: ``from conftest import`` is ambiguous
once a subfolder has a conftest.py too)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import URL, make_url


def pg_connect_kwargs(url: URL | str) -> dict[str, Any]:
    """psycopg.connect() keyword arguments for a SQLAlchemy URL."""
    url = make_url(url) if isinstance(url, str) else url
    kwargs: dict[str, Any] = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": url.database or "postgres",
    }
    if url.password is not None:
        kwargs["password"] = str(url.password)
    for key, value in url.query.items():  # e.g. sslmode
        kwargs[key] = value if isinstance(value, str) else value[-1]
    return kwargs



def mysql_connect_kwargs(url: URL | str) -> dict[str, Any]:
    """pymysql.connect() keyword arguments for a SQLAlchemy URL."""
    url = make_url(url) if isinstance(url, str) else url
    kwargs: dict[str, Any] = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": "" if url.password is None else str(url.password),
        "charset": "utf8mb4",
        "autocommit": True,
    }
    if url.database:
        kwargs["database"] = url.database
    return kwargs
