"""Database fixtures: a fresh, throw-away database per test on PostgreSQL and MySQL/MariaDB.

Where the server comes from, in order:

1. ``SCHEMASHIFT_TEST_POSTGRES_URL`` / ``SCHEMASHIFT_TEST_MYSQL_URL`` (a SQLAlchemy URL of a
   server login that may ``CREATE DATABASE``), e.g.
   ``postgresql://postgres@127.0.0.1:5432/postgres`` and
   ``mysql+pymysql://root@127.0.0.1:3306/test``;
2. otherwise a testcontainers container (one per session and xdist worker) when a Docker
   engine answers;
3. otherwise the test is skipped with the reason - or fails with it when
   ``SCHEMASHIFT_REQUIRE_DB=1`` (CI sets it, so a missing database can never turn into a
   green run of skipped tests).

``postgres_url`` / ``mysql_url`` yield the SQLAlchemy URL of a database created for the one
test (``ss_test_<random>``) and drop it afterwards. ``pg_conn`` / ``mysql_conn`` are autocommit
connections to that database; ``pg_connect`` / ``mysql_connect`` open more of them (all closed
at teardown).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import URL, make_url

PG_ENV = "SCHEMASHIFT_TEST_POSTGRES_URL"
MYSQL_ENV = "SCHEMASHIFT_TEST_MYSQL_URL"
REQUIRE_ENV = "SCHEMASHIFT_REQUIRE_DB"

PG_IMAGE = "postgres:16"
MYSQL_IMAGE = "mariadb:10.11"


def _require_db() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(reason: str) -> None:
    """Skip the test - or fail it when SCHEMASHIFT_REQUIRE_DB=1 - with the same reason."""
    if _require_db():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def _docker_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker  # lazy: only needed without the env URLs

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure means "no usable Docker"
        return f"{type(exc).__name__}: {exc}"
    return None


def _start_container(kind: str) -> tuple[Any, str]:
    """Start a PostgreSQL or MariaDB testcontainer; return (container, server URL)."""
    if kind == "postgres":
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer
        container = PostgresContainer(PG_IMAGE, driver="psycopg")
        container.start()
        return container, container.get_connection_url()
    try:
        from testcontainers.community.mysql import MySqlContainer
    except ImportError:
        from testcontainers.mysql import MySqlContainer
    container = MySqlContainer(MYSQL_IMAGE, dialect="pymysql", username="root", password="test")
    container.start()
    return container, container.get_connection_url()


def _server_url(kind: str, env: str) -> Iterator[URL]:
    """Session-wide server URL (env, else container, else skip/fail)."""
    raw = os.environ.get(env, "").strip()
    if raw:
        yield _normalise(make_url(raw), kind)
        return
    problem = _docker_problem()
    if problem is not None:
        _unavailable(
            f"no {kind} server: set {env} (e.g. "
            + (
                "postgresql://postgres@127.0.0.1:5432/postgres"
                if kind == "postgres"
                else "mysql+pymysql://root@127.0.0.1:3306/test"
            )
            + f") or make Docker usable for testcontainers ({problem})"
        )
    try:
        container, url = _start_container(kind)
    except Exception as exc:
        _unavailable(f"could not start the {kind} testcontainer: {type(exc).__name__}: {exc}")
        raise  # unreachable: _unavailable raises
    try:
        yield _normalise(make_url(url), kind)
    finally:
        container.stop()


def _normalise(url: URL, kind: str) -> URL:
    """Pin the driver we have installed (psycopg 3 / PyMySQL)."""
    if kind == "postgres":
        if url.get_backend_name() != "postgresql":
            raise pytest.UsageError(f"{PG_ENV} must be a postgresql:// URL, got {url!r}")
        if "+" not in url.drivername:
            url = url.set(drivername="postgresql+psycopg")
    else:
        if url.get_backend_name() not in {"mysql", "mariadb"}:
            raise pytest.UsageError(f"{MYSQL_ENV} must be a mysql:// URL, got {url!r}")
        if "+" not in url.drivername:
            url = url.set(drivername=f"{url.get_backend_name()}+pymysql")
    return url


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _new_db_name() -> str:
    return f"ss_test_{uuid.uuid4().hex[:16]}"


# --------------------------------------------------------------------------- PostgreSQL


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


@pytest.fixture(scope="session")
def _postgres_server_url() -> Iterator[URL]:
    yield from _server_url("postgres", PG_ENV)


@pytest.fixture
def postgres_url(_postgres_server_url: URL) -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL database created for this test, dropped after it."""
    import psycopg

    name = _new_db_name()
    try:
        admin = psycopg.connect(**pg_connect_kwargs(_postgres_server_url), autocommit=True)
    except psycopg.Error as exc:
        _unavailable(f"cannot connect to PostgreSQL at {_postgres_server_url!r}: {exc}")
        raise
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _render(_postgres_server_url.set(database=name))
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
    finally:
        admin.close()


@pytest.fixture
def pg_connect(postgres_url: str) -> Iterator[Callable[..., Any]]:
    """Factory: ``pg_connect(autocommit=True)`` opens another psycopg connection to the test
    database (closed at teardown)."""
    import psycopg

    opened: list[psycopg.Connection[Any]] = []

    def connect(*, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = psycopg.connect(**pg_connect_kwargs(postgres_url), autocommit=autocommit, **kwargs)
        opened.append(conn)
        return conn

    yield connect
    for conn in reversed(opened):
        with contextlib.suppress(Exception):
            conn.close()


@pytest.fixture
def pg_conn(pg_connect: Callable[..., Any]) -> Any:
    """A psycopg 3 autocommit connection to this test's fresh PostgreSQL database."""
    return pg_connect()


# --------------------------------------------------------------------------- MySQL / MariaDB


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


@pytest.fixture(scope="session")
def _mysql_server_url() -> Iterator[URL]:
    yield from _server_url("mysql", MYSQL_ENV)


@pytest.fixture
def mysql_url(_mysql_server_url: URL) -> Iterator[str]:
    """SQLAlchemy URL of a MySQL/MariaDB database created for this test, dropped after it."""
    import pymysql

    name = _new_db_name()
    server_kwargs = mysql_connect_kwargs(_mysql_server_url)
    server_kwargs.pop("database", None)
    try:
        admin = pymysql.connect(**server_kwargs)
    except pymysql.MySQLError as exc:
        _unavailable(f"cannot connect to MySQL at {_mysql_server_url!r}: {exc}")
        raise
    try:
        with admin.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        try:
            yield _render(_mysql_server_url.set(database=name))
        finally:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture
def mysql_connect(mysql_url: str) -> Iterator[Callable[..., Any]]:
    """Factory: ``mysql_connect()`` opens another PyMySQL autocommit connection to the test
    database (closed at teardown)."""
    import pymysql

    opened: list[Any] = []

    def connect(**kwargs: Any) -> Any:
        conn = pymysql.connect(**{**mysql_connect_kwargs(mysql_url), **kwargs})
        opened.append(conn)
        return conn

    yield connect
    for conn in reversed(opened):
        with contextlib.suppress(Exception):
            conn.close()


@pytest.fixture
def mysql_conn(mysql_connect: Callable[..., Any]) -> Any:
    """A PyMySQL autocommit connection to this test's fresh MySQL/MariaDB database."""
    return mysql_connect()


# --------------------------------------------------------------------------- markers

_PG_FIXTURES = {"postgres_url", "pg_conn", "pg_connect"}
_MYSQL_FIXTURES = {"mysql_url", "mysql_conn", "mysql_connect"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag database tests so ``-m 'not postgres'`` / ``-m mysql`` select them."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _PG_FIXTURES:
            item.add_marker(pytest.mark.postgres)
        if names & _MYSQL_FIXTURES:
            item.add_marker(pytest.mark.mysql)
