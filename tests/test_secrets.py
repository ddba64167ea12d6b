"""A password is never printed, in any form (schemashift/execute/database.py).

Properties over generated connection strings (URL userinfo with unencoded ``@ : / ? #``,
query-string passwords, libpq key=value settings, raw or percent-encoded): the masked text
is exactly the URL with the password replaced by ***, so the password never shows while
the host and the database still do; ``parse_url`` reads the same password back; and the
command line never prints it, whatever fails.
"""

from __future__ import annotations

import os
import re
import string
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from schemashift.execute.database import (
    DatabaseError,
    Target,
    connect,
    mask_error,
    mask_password,
    mask_secret,
    parse_url,
)

ROOT = Path(__file__).parent.parent

SCHEMES = ["postgresql", "postgresql+psycopg", "mysql+pymysql", "mariadb"]
# Printable characters, the URL delimiters and a space among them (no tab or newline: a
# connection string is one line).
PRINTABLE = "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
PASSWORD_KEYS = ["password", "PASSWORD", "Password", "pass", "pwd", "passwd", "pass%77ord"]

users = st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9_.-]{0,11}", fullmatch=True))
hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{1,12}(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.from_regex(r"10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
    st.just("[::1]"),
)
ports = st.one_of(st.none(), st.integers(1, 65535))
databases = st.from_regex(r"[a-z][a-z0-9_]{2,15}", fullmatch=True)
passwords = st.one_of(
    st.text(alphabet=PRINTABLE, min_size=1, max_size=24),
    st.text(alphabet="@:/?#%&= +'\"[]a1", min_size=1, max_size=16),  # delimiters mostly
)
other_params = st.lists(st.sampled_from(["sslmode=require", "application_name=me@laptop",
                                         "connect_timeout=5", "charset=utf8mb4"]),
                        max_size=2, unique=True)  # fmt: skip


def forms(password: str) -> set[str]:
    """The password as it may be written: raw and percent-encoded."""
    return {password, quote(password, safe=""), quote_plus(password), quote(password)}


def assert_hidden(masked: str, expected: str, password: str) -> None:
    assert masked == expected
    shown = masked.replace("***", "\0")  # the mask itself is no leak of a password "*"
    for form in forms(password):
        if form not in expected.replace("***", "\0"):  # no coincidence (a host, "db", ...)
            assert form not in shown, (form, masked)


# -- URLs: the password in the userinfo ---------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheme=st.sampled_from(SCHEMES), user=users, password=passwords, encode=st.booleans(),
       host=hosts, port=ports, database=databases, params=other_params)  # fmt: skip
@example(scheme="postgresql", user="u", password="p@ss:w/rd#1%", encode=False, host="h",
         port=5432, database="db", params=[])  # fmt: skip
@example(scheme="postgresql", user="u", password="1?a=b", encode=False, host="h", port=None,
         database="db", params=[])  # fmt: skip
@example(scheme="mysql+pymysql", user=None, password="a@b?c@d", encode=False, host="h",
         port=None, database="db", params=["application_name=me@laptop"])  # fmt: skip
@example(scheme="postgresql", user=None, password="1@/1?1=", encode=False, host="h",
         port=None, database="db", params=[])  # fmt: skip
@example(scheme="postgresql", user="u", password="/x?a=b", encode=False, host="h",
         port=None, database="db", params=[])  # fmt: skip
def test_userinfo_password_is_masked(scheme: str, user: str | None, password: str,
                                     encode: bool, host: str, port: int | None, database: str,
                                     params: list[str]) -> None:  # fmt: skip
    # Raw digits then '/' or '?' read as a port and a path to any URL parser (documented in
    # _userinfo_at): such a password must be encoded.
    assume(encode or not re.match(r"\d+[/?]", password))
    written = quote(password, safe="") if encode else password
    hostport = host + (f":{port}" if port else "")
    query = ("?" + "&".join(params)) if params else ""
    url = f"{scheme}://{user or ''}:{written}@{hostport}/{database}{query}"
    masked = mask_password(url)
    assert_hidden(masked, f"{scheme}://{user or ''}:***@{hostport}/{database}{query}", password)
    # parse_url reads the same userinfo back (a raw '%' followed by hex digits is an escape).
    target = parse_url(url)
    assert (target.user, target.host, target.port, target.database) == (
        user, host.strip("[]"), port, database)  # fmt: skip
    if encode or not re.search("%[0-9A-Fa-f]{2}", password):
        assert target.password == password
    assert target.safe == masked


# -- URLs: the password in the query string -----------------------------------------------


@settings(max_examples=400, deadline=None)
@given(scheme=st.sampled_from(SCHEMES), user=users, password=passwords, encode=st.booleans(),
       key=st.sampled_from(PASSWORD_KEYS), host=hosts, port=ports, database=databases,
       before=other_params, after=other_params)  # fmt: skip
@example(scheme="postgresql", user=None, password="p@ss", encode=False, key="password",
         host="h", port=5432, database="db", before=[], after=[])  # fmt: skip
def test_query_password_is_masked(scheme: str, user: str | None, password: str, encode: bool,
                                  key: str, host: str, port: int | None, database: str,
                                  before: list[str], after: list[str]) -> None:  # fmt: skip
    # An unencoded '&' that starts another key= ends the value for every URL parser.
    assume(encode or not re.search(r"&[^&=]*=", password))
    written = quote(password, safe="") if encode else password
    hostport = host + (f":{port}" if port else "")
    userinfo = f"{user}@" if user else ""
    head = f"{scheme}://{userinfo}{hostport}/{database}?"
    url = head + "&".join([*before, f"{key}={written}", *after])
    masked = mask_password(url)
    assert_hidden(masked, head + "&".join([*before, f"{key}=***", *after]), password)
    target = parse_url(url)
    assert (target.host, target.database) == (host.strip("[]"), database)
    if encode:
        assert target.password == password
    assert target.safe == masked


# -- libpq key=value ----------------------------------------------------------------------


def libpq_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@settings(max_examples=300, deadline=None)
@given(password=passwords, host=hosts, database=databases, spaces=st.booleans(),
       key=st.sampled_from(["password", "PASSWORD", "pass", "pwd"]))  # fmt: skip
@example(password="a b", host="h", database="db", spaces=False, key="password")
@example(password="it's", host="h", database="db", spaces=True, key="password")
def test_dsn_password_is_masked(password: str, host: str, database: str, spaces: bool,
                                key: str) -> None:  # fmt: skip
    eq = " = " if spaces else "="
    dsn = f"host={host} port=5432 dbname={database} user=app {key}{eq}{libpq_value(password)}"
    tail = " connect_timeout=10"
    masked = mask_password(dsn + tail)
    assert_hidden(masked, f"host={host} port=5432 dbname={database} user=app {key}{eq}***"
                  + tail, password)  # fmt: skip


# -- a known secret in any text -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(password=passwords, database=databases)
@example(password="p@ss:w/rd#1%", database="db")
def test_known_secret_is_masked_in_any_text(password: str, database: str) -> None:
    target = parse_url(f"postgresql://app:{quote(password, safe='')}@db.internal/{database}")
    assert target.password == password
    said = [password, quote(password, safe=""), quote_plus(password), quote(password),
            "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'",
            repr(password), password.replace("'", "''")]  # fmt: skip
    text = (f"cannot connect to {target.url}: FATAL: " + " | ".join(said)
            + f' for user "app" on {database}')  # fmt: skip
    masked = mask_secret(text, target)
    frame = f"cannot connect to postgresql://app:***@db.internal/{database}: FATAL: "
    assume(password not in frame + f' for user "app" on {database}')
    for form in forms(password):
        assert form not in masked.replace(frame, "").replace("***", "\0"), (form, masked)
    assert masked.startswith(frame) and masked.endswith(f' for user "app" on {database}')


def test_secret_equal_to_the_user_keeps_the_url_readable() -> None:
    target = parse_url("postgresql://postgres:postgres@localhost/postgres")
    masked = mask_secret('cannot connect to postgresql://postgres:postgres@localhost/postgres: '
                         'password authentication failed for user "postgres"', target)  # fmt: skip
    assert masked == ("cannot connect to postgresql://postgres:***@localhost/postgres: "
                      'password authentication failed for user "***"')  # fmt: skip


def test_urls_inside_free_text() -> None:
    text = ("cannot connect to postgresql://u:p@ss/w@h:5432/db: user x@y failed; "
            "also mysql+pymysql://root:hunter2@127.0.0.1/app and host=h password='a b' x=1\n"
            "next line postgresql://u@h/db?sslmode=require&Password=s3cret")  # fmt: skip
    assert mask_password(text) == (
        "cannot connect to postgresql://u:***@h:5432/db: user x@y failed; "
        "also mysql+pymysql://root:***@127.0.0.1/app and host=h password=*** x=1\n"
        "next line postgresql://u@h/db?sslmode=require&Password=***"
    )


def test_mask_is_idempotent_and_leaves_plain_urls_alone() -> None:
    for url in ("postgresql://u@h:5432/db?sslmode=require", "sqlite:///tmp/x.db",
                "postgresql:///db?host=/var/run/postgresql", "mysql+pymysql://root@h/app"):  # fmt: skip
        assert mask_password(url) == url
    once = mask_password("postgresql://u:p@ss@h/db?password=x")
    assert mask_password(once) == once == "postgresql://u:***@h/db?password=***"


def test_a_forgotten_host_masks_the_password_in_the_port() -> None:
    # postgresql://user:secret/db: no '@', so "secret" would be the port.
    with pytest.raises(DatabaseError) as info:
        parse_url("postgresql://user:secret/db")
    assert "secret" not in str(info.value) and "bad port" in str(info.value)


def test_database_error_masks_its_target() -> None:
    target = parse_url("postgresql://u:p%40ss%20w@h/db")
    error = DatabaseError("driver said: password 'p@ss w' and p%40ss+w were refused", target)
    assert "p@ss" not in str(error) and "p%40ss" not in str(error)
    assert str(error) == "driver said: password '***' and *** were refused"
    assert "p@ss" not in repr(target) and "p%40ss" not in repr(target)


def test_mask_error_knows_the_urls_given_to_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["schemashift", "status", "--database-url",
                                      "postgresql://u:hunter2@h/db"])  # fmt: skip
    monkeypatch.setenv("SCHEMASHIFT_DATABASE_URL", "mysql+pymysql://r:s3cr%3At@h/db")
    assert mask_error("failed: hunter2 and s3cr:t and s3cr%3At") == "failed: *** and *** and ***"


# -- a real role with a password full of delimiters ---------------------------------------


@pytest.mark.parametrize("encode", [False, True])
def test_parse_and_connect_with_an_unencoded_password(postgres_url: str, pg_conn: Any,
                                                      encode: bool) -> None:  # fmt: skip
    """Trust auth accepts any password: the Target must carry the right pieces, and the
    connection must be made as the role."""
    from sqlalchemy.engine import make_url

    password = "p@ss:w/rd#1%"
    role = f"ss_pw_{uuid.uuid4().hex[:10]}"
    pg_conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'p@ss:w/rd#1%'")
    try:
        base = make_url(postgres_url)
        written = quote(password, safe="") if encode else password
        url = f"postgresql://{role}:{written}@{base.host}:{base.port}/{base.database}"
        target = parse_url(url)
        assert (target.user, target.password, target.host, target.port, target.database) == (
            role, password, base.host, base.port, base.database)  # fmt: skip
        assert target.safe == f"postgresql://{role}:***@{base.host}:{base.port}/{base.database}"
        conn = connect(target, autocommit=True)
        try:
            assert conn.execute("SELECT current_user").fetchone()[0] == role
        finally:
            conn.close()
        # The command line works with it too, and never prints it.
        pg_conn.execute(f'GRANT CREATE ON DATABASE "{base.database}" TO {role}')
        result = run_cli("status", "--format", "json", "--database-url", url)
        assert result.returncode == 0 and '"migrations": []' in result.stdout, result.stderr
        assert_nothing_printed(result, password)
    finally:
        pg_conn.execute(f"DROP OWNED BY {role}")
        pg_conn.execute(f"DROP ROLE {role}")


# -- the command line never prints a password ---------------------------------------------


def run_cli(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCHEMASHIFT_DEBUG", "SCHEMASHIFT_DATABASE_URL")}  # fmt: skip
    if env_url is not None:
        env["SCHEMASHIFT_DATABASE_URL"] = env_url
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=60)  # fmt: skip


def assert_nothing_printed(result: subprocess.CompletedProcess[str], password: str) -> None:
    out = result.stdout + result.stderr
    for form in forms(password):
        assert form not in out, (form, out)
    assert "Traceback" not in out


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int,
                          password: str) -> None:  # fmt: skip
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schemashift: error: "), result.stderr
    assert_nothing_printed(result, password)


SECRET = "Hunter2@x:y/z?#%&= w"
UNREACHABLE = [
    f"postgresql://app:{SECRET}@127.0.0.1:1/shop",
    f"postgresql+psycopg://app:{quote(SECRET, safe='')}@127.0.0.1:1/shop",
    f"postgresql://app@127.0.0.1:1/shop?sslmode=disable&password={quote(SECRET, safe='')}",
    f"postgresql://app@127.0.0.1:1/shop?PASSWORD={SECRET.replace('&', '%26')}",
    f"mysql+pymysql://app:{SECRET}@127.0.0.1:1/shop",
    f"mariadb://app:{quote(SECRET, safe='')}@127.0.0.1:1/shop",
]
BAD = [
    ("postgresql://app:Hunter2secret/shop", "Hunter2secret"),  # the @host forgotten
    ("postgresql://app:Hunter2secret@127.0.0.1:99999/shop", "Hunter2secret"),
    ("ftp://app:Hunter2secret@127.0.0.1/shop", "Hunter2secret"),
    ("host=127.0.0.1 port=1 password='Hunter2 secret'", "Hunter2 secret"),
    (f"postgresql://app:{SECRET}@127.0.0.1:1/shop?sslmode=nonsense", SECRET),
]


@pytest.fixture
def sql_migration(tmp_path: Path) -> Path:
    path = tmp_path / "0001_add_note.sql"
    path.write_text("ALTER TABLE users ADD COLUMN note text;\n")
    return path


@pytest.mark.parametrize("url", UNREACHABLE)
@pytest.mark.parametrize("command", ["status", "status-json", "expand", "deploy-record",
                                     "gate"])  # fmt: skip
def test_cli_never_prints_the_password_of_an_unreachable_database(
    url: str, command: str, sql_migration: Path
) -> None:
    args = {
        "status": ["status"],
        "status-json": ["status", "--format", "json"],
        "expand": ["expand", str(sql_migration)],
        "deploy-record": ["deploy", "record", "--app", "api", "--version", "1.0"],
        "gate": ["gate", "contract", str(sql_migration)],
    }[command]
    assert_one_error_line(run_cli(*args, "--database-url", url), 4, SECRET)
    assert_one_error_line(run_cli(*args, env_url=url), 4, SECRET)


@pytest.mark.parametrize(("url", "password"), BAD)
@pytest.mark.parametrize("command", ["status", "expand"])
def test_cli_never_prints_the_password_of_a_bad_url(url: str, password: str, command: str,
                                                    sql_migration: Path) -> None:  # fmt: skip
    args = ["status", "--format", "json"] if command == "status" else ["expand",
                                                                       str(sql_migration)]  # fmt: skip
    assert_one_error_line(run_cli(*args, "--database-url", url), 4, password)


def test_status_json_with_a_password(postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    url = f"postgresql://{base.username}:{SECRET}@{base.host}:{base.port}/{base.database}"
    result = run_cli("status", "--format", "json", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert '"migrations": []' in result.stdout
    assert_nothing_printed(result, SECRET)


def test_target_repr_hides_the_password() -> None:
    target = parse_url("postgresql://u:hunter2@h/db?password=hunter2")
    assert "hunter2" not in repr(target)
    assert isinstance(target, Target) and target.password == "hunter2"
