"""Fixtures of the ``schemashift serve`` tests: a migration on a real PostgreSQL database
and apps under Starlette's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_support import MIGRATION, TOKEN, Migration, make_table

from schemashift.config import Config


@pytest.fixture
def migration(tmp_path: Path, postgres_url: str, pg_conn: Any) -> Migration:
    make_table(pg_conn, 200)
    path = tmp_path / f"{MIGRATION}.sql"
    path.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    return Migration(postgres_url, path)


@pytest.fixture
def client_for() -> Iterator[Callable[..., Any]]:
    """``client_for(url, token=..., protect_reads=...)``: a TestClient of a fresh app."""
    with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx works the same here
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from schemashift.serve.app import ServeSettings, create_app

    opened: list[Any] = []

    def make(url: str, *, token: str | None = TOKEN, protect_reads: bool = False,
             config: Config | None = None) -> Any:  # fmt: skip
        app = create_app(ServeSettings(url, config or Config(), token, protect_reads))
        client = TestClient(app, raise_server_exceptions=False)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
