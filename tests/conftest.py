"""Database fixtures: a fresh, throw-away database per test on PostgreSQL and MySQL/MariaDB.

Where the server comes from, in order (resolved once per session - and xdist worker - the
first time a database test needs it):

1. ``SCHEMASHIFT_TEST_POSTGRES_URL`` / ``SCHEMASHIFT_TEST_MYSQL_URL`` (a SQLAlchemy URL of a
   server login that may ``CREATE DATABASE``), e.g.
   ``postgresql://postgres@127.0.0.1:5432/postgres`` and
   ``mysql+pymysql://root@127.0.0.1:3306/test``;
2. otherwise the usual local addresses, probed with a 2 s connect timeout:
   ``postgresql://postgres@127.0.0.1:5432/postgres`` (then the current OS user on the same
   address, the Homebrew / Postgres.app default) when that login may create databases, and
   ``mysql+pymysql://root@127.0.0.1:3306/`` when it may create (and drop) a probe database;
3. otherwise a testcontainers container (one per session and xdist worker) when a Docker
   engine answers;
4. otherwise the test is skipped with the reason - or fails with it when
   ``SCHEMASHIFT_REQUIRE_DB=1`` (CI sets it, so a missing database can never turn into a
   green run of skipped tests).

The end of every run says how many database tests ran, on which server, and how many were
skipped and why (``pytest_terminal_summary``; with xdist the controller counts the reports
of all workers).

``postgres_url`` / ``mysql_url`` yield the SQLAlchemy URL of a database created for the one
test (``ss_test_<random>``) and drop it afterwards. ``pg_conn`` / ``mysql_conn`` are autocommit
connections to that database; ``pg_connect`` / ``mysql_connect`` open more of them (all closed
at teardown).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest
from db_kwargs import mysql_connect_kwargs, pg_connect_kwargs
from sqlalchemy.engine import URL, make_url

PG_ENV = "SCHEMASHIFT_TEST_POSTGRES_URL"
MYSQL_ENV = "SCHEMASHIFT_TEST_MYSQL_URL"
REQUIRE_ENV = "SCHEMASHIFT_REQUIRE_DB"

PG_IMAGE = "postgres:16"
MYSQL_IMAGE = "mariadb:10.11"

# Rule packs installed here (plugins/schemashift-naming, a developer's own) must not change
# what the suite lints; tests/test_rule_packs.py turns them on where it means to.
os.environ.setdefault("SCHEMASHIFT_RULE_PACKS", "none")


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


# Where each kind's server came from in this process ("PostgreSQL 15.8 at 127.0.0.1:5432
# (found at the usual local address)"), for the end-of-run summary. An xdist worker also
# hands it to the controller through ``config.workeroutput``.
_SERVERS: dict[str, str] = {}
_WORKEROUTPUT_KEY = "schemashift_db_servers"
_LABEL = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB"}
PROBE_TIMEOUT = 2  # seconds; libpq's minimum connect_timeout


def _record(config: pytest.Config, kind: str, description: str) -> None:
    _SERVERS[kind] = description
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput.setdefault(_WORKEROUTPUT_KEY, {})[kind] = description


def _short(exc: BaseException) -> str:
    """One line of an exception, for a skip reason."""
    lines = str(exc).strip().splitlines()
    text = " ".join(lines[0].split()).removeprefix("connection failed: ") if lines else ""
    text = text or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _where(url: URL) -> str:
    default_port = 5432 if url.get_backend_name() == "postgresql" else 3306
    return f"{url.host or '127.0.0.1'}:{url.port or default_port}"


def _pg_server(url: URL, timeout: float) -> str:
    """Connect to PostgreSQL; return 'PostgreSQL <version>' when the login may create
    databases, else raise RuntimeError/psycopg.Error saying why not."""
    import psycopg

    kwargs = {**pg_connect_kwargs(url), "connect_timeout": max(2, int(timeout))}
    with psycopg.connect(**kwargs, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), rolcreatedb OR rolsuper"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    if row is None or not row[1]:
        raise RuntimeError(f"role {kwargs['user']!r} may not CREATE DATABASE")
    return f"PostgreSQL {str(row[0]).split()[0]}"


def _mysql_server(url: URL, timeout: float) -> str:
    """Connect to MySQL/MariaDB and create and drop a probe database; return 'MariaDB
    <version>' / 'MySQL <version>', else raise saying why not."""
    import pymysql

    kwargs = mysql_connect_kwargs(url)
    kwargs.pop("database", None)
    conn = pymysql.connect(**kwargs, connect_timeout=timeout)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
            version = str(row[0]) if row else "?"
            name = f"ss_probe_{uuid.uuid4().hex[:12]}"
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"DROP DATABASE `{name}`")
    finally:
        conn.close()
    flavour = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{flavour} {version.split('-')[0]}"


def _server_name(kind: str, url: URL, timeout: float) -> str:
    return (_pg_server if kind == "postgres" else _mysql_server)(url, timeout)


def _local_candidates(kind: str) -> list[URL]:
    """The usual local addresses of a development server."""
    if kind == "mysql":
        return [make_url("mysql+pymysql://root@127.0.0.1:3306/")]
    users = ["postgres"]
    with contextlib.suppress(Exception):
        me = getpass.getuser()
        if me and me not in users:
            users.append(me)  # Homebrew / Postgres.app: the OS user is the superuser
    return [make_url(f"postgresql+psycopg://{user}@127.0.0.1:5432/postgres") for user in users]


def _pg_socket_note() -> str:
    """A hint when PostgreSQL listens only on a Unix socket (the tests connect over TCP)."""
    for directory in ("/var/run/postgresql", "/run/postgresql", "/tmp"):
        if os.path.exists(os.path.join(directory, ".s.PGSQL.5432")):
            return (
                f"; a server listens on the Unix socket in {directory}, but the tests connect"
                " over TCP: enable listen_addresses / a host line in pg_hba.conf, or set"
                f" {PG_ENV} to a host:port login"
            )
    return ""


def _server_url(kind: str, env: str, config: pytest.Config) -> Iterator[URL]:
    """Session-wide server URL (env, else the usual local address, else a container, else
    skip/fail)."""
    label = _LABEL[kind]
    raw = os.environ.get(env, "").strip()
    if raw:
        url = _normalise(make_url(raw), kind)
        try:  # best effort, for the summary; the fixtures report a failing connection
            name = _server_name(kind, url, 5)
        except Exception:
            name = label
        _record(config, kind, f"{name} at {_where(url)} (from {env})")
        yield url
        return

    tried: list[str] = []
    for candidate in _local_candidates(kind):
        try:
            name = _server_name(kind, candidate, PROBE_TIMEOUT)
        except Exception as exc:  # refused, no such role, no privilege, driver missing...
            tried.append(f"{candidate.render_as_string(hide_password=True)}: {_short(exc)}")
            continue
        _record(config, kind, f"{name} at {_where(candidate)} (found at the usual local address)")
        yield candidate
        return
    local = "; ".join(tried)
    if kind == "postgres" and all("refused" in attempt.lower() for attempt in tried):
        local += _pg_socket_note()

    problem = _docker_problem()
    if problem is not None:
        example = (
            "postgresql://postgres@127.0.0.1:5432/postgres"
            if kind == "postgres"
            else "mysql+pymysql://root@127.0.0.1:3306/test"
        )
        _unavailable(
            f"no {kind} server: {env} is unset, nothing usable at the usual local address"
            f" ({local}), and no Docker for testcontainers ({problem}); set {env}"
            f" (e.g. {example}) to a login that may CREATE DATABASE"
        )
    try:
        container, raw_url = _start_container(kind)
    except Exception as exc:
        _unavailable(
            f"no {kind} server: nothing usable at the usual local address ({local}), and"
            f" could not start the {kind} testcontainer: {type(exc).__name__}: {exc}"
        )
        raise  # unreachable: _unavailable raises
    try:
        url = _normalise(make_url(raw_url), kind)
        image = PG_IMAGE if kind == "postgres" else MYSQL_IMAGE
        try:
            name = _server_name(kind, url, 5)
        except Exception:
            name = label
        _record(config, kind, f"{name} in a testcontainers {image} container")
        yield url
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


@pytest.fixture(scope="session")
def _postgres_server_url(pytestconfig: pytest.Config) -> Iterator[URL]:
    yield from _server_url("postgres", PG_ENV, pytestconfig)


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


@pytest.fixture(scope="session")
def _mysql_server_url(pytestconfig: pytest.Config) -> Iterator[URL]:
    yield from _server_url("mysql", MYSQL_ENV, pytestconfig)


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

_PG_FIXTURES = {"_postgres_server_url", "postgres_url", "pg_conn", "pg_connect"}
_MYSQL_FIXTURES = {"_mysql_server_url", "mysql_url", "mysql_conn", "mysql_connect"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag database tests so ``-m 'not postgres'`` / ``-m mysql`` select them: those using
    the fixtures, and those parametrized with the id ``postgres`` / ``mysql`` (they request
    the fixture with ``request.getfixturevalue``; the id is already one of their keywords,
    which is what the end-of-run summary counts)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _PG_FIXTURES or "postgres" in item.keywords:
            item.add_marker(pytest.mark.postgres)
        if names & _MYSQL_FIXTURES or "mysql" in item.keywords:
            item.add_marker(pytest.mark.mysql)


# --------------------------------------------------------------------------- end-of-run summary


class _DbTally:
    """Counts database test reports (on the xdist controller: the reports of all workers)."""

    def __init__(self) -> None:
        self.ran: dict[str, set[str]] = {kind: set() for kind in _LABEL}
        self.skipped: dict[str, dict[str, str]] = {kind: {} for kind in _LABEL}  # id -> why
        self.errored: dict[str, set[str]] = {kind: set() for kind in _LABEL}
        self.servers: dict[str, set[str]] = {kind: set() for kind in _LABEL}

    def add(self, report: pytest.TestReport) -> None:
        kinds = [kind for kind in _LABEL if kind in report.keywords]
        if not kinds:
            return
        skipped = report.skipped and not hasattr(report, "wasxfail")
        for kind in kinds:
            if skipped and report.when in {"setup", "call"}:
                self.ran[kind].discard(report.nodeid)
                self.skipped[kind][report.nodeid] = _skip_reason(report)
            elif report.when == "call":
                self.ran[kind].add(report.nodeid)
            elif report.when == "setup" and report.failed:
                self.errored[kind].add(report.nodeid)

    def lines(self) -> list[str]:
        parts: list[str] = []
        for kind, label in _LABEL.items():
            ran = len(self.ran[kind])
            servers = sorted(self.servers[kind])
            if servers:
                parts.append(f"{ran} ran on {' and '.join(servers)}")
            elif ran:
                parts.append(f"{ran} marked {kind} ran without needing the {label} server")
            else:
                parts.append(f"0 ran on {label}")
        skipped = {nodeid: why for by_id in self.skipped.values() for nodeid, why in by_id.items()}
        parts.append(f"{len(skipped)} skipped")
        errored = set().union(*self.errored.values())
        if errored:
            parts.append(f"{len(errored)} errored in setup (see the errors above)")
        if not any(self.ran.values()) and not skipped and not errored:
            return ["database tests: none in this run"]
        out = ["database tests: " + ", ".join(parts)]
        reasons: dict[str, int] = {}
        for why in skipped.values():
            reasons[why] = reasons.get(why, 0) + 1
        for why, count in sorted(reasons.items(), key=lambda item: -item[1]):
            out.append(f"  {count} skipped: {why}")
        return out


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    why = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return why.removeprefix("Skipped: ")


_TALLY = _DbTally()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _TALLY.add(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect where each worker found its servers."""
    servers = getattr(node, "workeroutput", {}).get(_WORKEROUTPUT_KEY, {})
    for kind, description in servers.items():
        _TALLY.servers.setdefault(kind, set()).add(description)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> Generator[None, object, object]:
    """After the short test summary, just above the final counts line: the database tests."""
    try:
        return (yield)
    finally:
        if not hasattr(config, "workerinput"):  # not on an xdist worker
            for kind, description in _SERVERS.items():  # without xdist: this process
                _TALLY.servers[kind].add(description)
            for line in _TALLY.lines():
                terminalreporter.write_line(line)
