"""The runtime API as a least-privilege app role (docs/deployments.md): with exactly the
documented GRANTs and no CREATE, ``runtime.check``, ``runtime.ready`` and ``runtime.report``
(+ ``stop``) work on PostgreSQL and MariaDB once the command line has created the state
tables; without the grants, or without the tables, they fail with a clear StateError
naming what to do, not a SQL error."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from schemashift import deploy, runtime
from schemashift.execute.database import DatabaseError


def app_name() -> str:
    return f"ss_app_{uuid.uuid4().hex[:10]}"


def as_role(admin_url: str, role: str, password: str = "pw") -> str:
    return (
        make_url(admin_url)
        .set(username=role, password=password)
        .render_as_string(hide_password=False)
    )


def seed(admin_url: str) -> None:
    """The state tables, created by the admin (as a schemashift command would), with one
    migration for api >= 2.0.0 past its verify phase."""
    with deploy.open_state(admin_url) as state:
        state.start("0042_rename", {"steps": []}, "c0ffee", "api", "2.0.0")
        state.set_phase("0042_rename", "verify", "running")


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def exercise(app_url: str, admin_url: str) -> None:
    """Every runtime call, as the app role."""
    summary = runtime.check(app_url, "api", "1.4.0")
    assert summary["ok"] and summary["pending"] == ["0042_rename"]
    assert runtime.ready(app_url, "0042_rename")
    assert not runtime.ready(app_url, "0043_unknown")
    handle = runtime.report(app_url, "api", "1.4.0", "app-1", interval=0.1, slot="blue")
    try:
        wait_for(lambda: handle.beats >= 3)
    finally:
        handle.stop(retire=True)
    assert handle.errors == 0, handle.last_error
    with deploy.open_state(admin_url) as state:
        (row,) = state.deployments("api")
    assert (row.instance, row.version, row.slot) == ("app-1", "1.4.0", "blue")
    assert row.retired_at is not None


def clear(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    """The error is ours and says it all: no driver exception chained to it."""
    assert isinstance(exc_info.value, DatabaseError)
    assert exc_info.value.__suppress_context__ and exc_info.value.__cause__ is None
    assert "Traceback" not in str(exc_info.value)
    return str(exc_info.value)


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_role(postgres_url: str, pg_conn: Any) -> Iterator[Callable[[list[str]], str]]:
    """``make(grants)``: a LOGIN role (unique name) with exactly these GRANT statements
    (``{r}``: the role); its URL. Dropped at the end."""
    made: list[str] = []

    def make(grants: list[str]) -> str:
        role = app_name()
        pg_conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        made.append(role)
        for grant in grants:
            pg_conn.execute(grant.format(r=role))
        return as_role(postgres_url, role)

    yield make
    for role in made:
        with contextlib.suppress(Exception):
            pg_conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
        pg_conn.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
        pg_conn.execute(f"DROP OWNED BY {role}")
        pg_conn.execute(f"DROP ROLE {role}")


PG_GRANTS = [
    "GRANT USAGE ON SCHEMA schemashift TO {r}",
    "GRANT SELECT ON schemashift.migrations TO {r}",
    "GRANT SELECT, INSERT, UPDATE ON schemashift.deployments TO {r}",
]


def test_least_privilege_role_on_postgres(postgres_url: str, pg_role: Any) -> None:
    seed(postgres_url)
    app_url = pg_role(PG_GRANTS)
    import psycopg

    # Really least privilege: it may not create anything, in the state schema or public.
    with psycopg.connect(make_url(app_url).render_as_string(hide_password=False)
                         .replace("+psycopg", ""), autocommit=True) as conn:  # fmt: skip
        for ddl in ("CREATE TABLE schemashift.x (i int)", "CREATE TABLE public.x (i int)",
                    "CREATE SCHEMA other"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
    exercise(app_url, postgres_url)


def test_postgres_role_without_grants_gets_a_clear_error(postgres_url: str,
                                                         pg_role: Any) -> None:  # fmt: skip
    seed(postgres_url)
    nothing = pg_role([])
    for call in (lambda: runtime.check(nothing, "api", "1.4.0"),
                 lambda: runtime.ready(nothing, "0042_rename"),
                 lambda: runtime.report(nothing, "api", "1.4.0", "app-1")):  # fmt: skip
        with pytest.raises(runtime.StateError) as info:
            call()
        message = clear(info)
        assert "may not use the schemashift state tables" in message
        assert "GRANT USAGE ON SCHEMA schemashift TO ss_app_" in message
        assert "GRANT SELECT, INSERT, UPDATE ON schemashift.deployments" in message
    # Reading is not writing: check() works, report() names the missing grant.
    reader = pg_role(PG_GRANTS[:2])
    assert runtime.check(reader, "api", "1.4.0")["ok"]
    with pytest.raises(runtime.StateError, match=r"permission denied for table deployments"):
        runtime.report(reader, "api", "1.4.0", "app-1")


def test_postgres_missing_state_tables_say_what_to_run(postgres_url: str,
                                                       pg_role: Any) -> None:  # fmt: skip
    app_url = pg_role([])
    for call in (lambda: runtime.check(app_url, "api", "1.4.0"),
                 lambda: runtime.report(app_url, "api", "1.4.0", "app-1")):  # fmt: skip
        with pytest.raises(runtime.StateMissing) as info:
            call()
        message = clear(info)
        assert "state tables are missing" in message and "schemashift deploy record" in message
        assert ":pw@" not in message
    # The command line creates them (as a role that may); then the grants suffice.
    with deploy.open_state(postgres_url):
        pass
    assert runtime.check(pg_role(PG_GRANTS), "api", "1.4.0")["ok"]


# -- MariaDB ------------------------------------------------------------------------------


@pytest.fixture
def mysql_user(mysql_url: str, mysql_conn: Any) -> Iterator[Callable[[list[str]], str]]:
    """``make(grants)``: a user (unique name, from any host and from localhost) with exactly
    these GRANT statements (``{d}``: the test database, ``{u}``: the user); its URL."""
    made: list[str] = []
    database = make_url(mysql_url).database
    hosts = ("%", "localhost")

    def make(grants: list[str]) -> str:
        user = app_name()
        with mysql_conn.cursor() as cur:
            for host in hosts:
                cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY 'pw'")
                made.append(f"'{user}'@'{host}'")
                for grant in grants:
                    cur.execute(grant.format(d=database, u=f"'{user}'@'{host}'"))
        return as_role(mysql_url, user)

    yield make
    with mysql_conn.cursor() as cur:
        for account in made:
            cur.execute(f"DROP USER IF EXISTS {account}")


MYSQL_GRANTS = [
    "GRANT SELECT ON `{d}`.`schemashift_migrations` TO {u}",
    "GRANT SELECT, INSERT, UPDATE ON `{d}`.`schemashift_deployments` TO {u}",
]


def test_least_privilege_user_on_mariadb(mysql_url: str, mysql_user: Any) -> None:
    seed(mysql_url)
    app_url = mysql_user(MYSQL_GRANTS)
    import pymysql

    kwargs = make_url(app_url)
    conn = pymysql.connect(host=kwargs.host, port=kwargs.port, user=kwargs.username,
                           password="pw", database=kwargs.database)  # fmt: skip
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError):
            cur.execute("CREATE TABLE schemashift_x (i int)")  # no CREATE
    finally:
        conn.close()
    exercise(app_url, mysql_url)


def test_mariadb_user_without_grants_gets_a_clear_error(mysql_url: str,
                                                        mysql_user: Any) -> None:  # fmt: skip
    seed(mysql_url)
    reader = mysql_user(MYSQL_GRANTS[:1])
    assert runtime.check(reader, "api", "1.4.0")["ok"]
    with pytest.raises(runtime.StateError) as info:
        runtime.report(reader, "api", "1.4.0", "app-1")
    message = clear(info)
    assert "may not use the schemashift state tables" in message
    assert "GRANT SELECT, INSERT, UPDATE ON" in message and "schemashift_deployments" in message
    # Not even the database: the connection itself is refused, in one clear line.
    nothing = mysql_user([])
    with pytest.raises(
        DatabaseError, match=r"cannot connect to mysql\+pymysql://ss_app_\w+:\*\*\*@"
    ):
        runtime.check(nothing, "api", "1.4.0")


def test_mariadb_missing_state_tables_say_what_to_run(mysql_url: str, mysql_user: Any) -> None:
    app_url = mysql_user(["GRANT SELECT ON `{d}`.* TO {u}"])
    with pytest.raises(runtime.StateMissing) as info:
        runtime.ready(app_url, "0042_rename")
    message = clear(info)
    assert "schemashift_*" in message and "schemashift deploy record" in message
