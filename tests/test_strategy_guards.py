"""Where a new user's migration goes wrong: each refusal on a real server, before expand
changes anything (or before contract is marked started), and the checks verify adds for what
contract's DROP COLUMN would silently take with it."""

from __future__ import annotations

import datetime
import subprocess
import sys
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.runner import GateRefused, Runner, RunOptions, VerifyFailed
from schemashift.model import Phase
from schemashift.phases.plan import Plan
from schemashift.phases.planner import plan_sql


def plan(sql: str, dialect: str, migration: str = "m") -> Plan:
    return plan_sql(sql, migration, Config(dialect=dialect))


def runner(url: str, dialect: str) -> Runner:
    return Runner(url, Config(dialect=dialect), RunOptions(quiet=True))


def run(url: str, p: Plan, *phases: str) -> None:
    for phase in phases:
        runner(url, p.dialect).run(p, Phase(phase))


def pg_rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sql).fetchall()]


def my_rows(conn: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        return [tuple(r) for r in cur.fetchall()]


def my(conn: Any, sql: str, *params: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)


def pg_schema(conn: Any) -> list[tuple[Any, ...]]:
    return pg_rows(conn, "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
                         "a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                         "WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 "
                         "AND NOT a.attisdropped ORDER BY 1, 2") + pg_rows(
        conn, "SELECT tgname, 'trigger', '', false FROM pg_trigger WHERE NOT tgisinternal")  # fmt: skip


def pg_state(conn: Any, migration: str = "m") -> list[tuple[Any, ...]]:
    if not pg_rows(conn, "SELECT 1 FROM pg_namespace WHERE nspname = 'schemashift'"):
        return []
    return pg_rows(conn, f"SELECT status FROM schemashift.migrations WHERE migration = '{migration}'")


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def users(pg_conn: Any) -> Any:
    pg_conn.execute("CREATE TABLE users (id int PRIMARY KEY, name varchar(80) NOT NULL)")
    pg_conn.execute("INSERT INTO users SELECT g, 'n' || g FROM generate_series(1, 20) g")
    return pg_conn


@pytest.mark.postgres
@pytest.mark.parametrize(("setup", "sql", "message"), [
    ("", "ALTER TABLE users RENAME COLUMN nme TO full_name;",
     "column users.nme does not exist"),
    ("", "ALTER TABLE userz RENAME COLUMN name TO full_name;", "table userz does not exist"),
    ("ALTER TABLE users ADD COLUMN full_name text",
     "ALTER TABLE users RENAME COLUMN name TO full_name;",
     "column users.full_name already exists (the rename's new name)"),
    ("ALTER TABLE users ADD COLUMN _ss_new_name int",
     "ALTER TABLE users ALTER COLUMN name TYPE integer USING name::integer;",
     "column users._ss_new_name already exists (the type change's shadow column)"),
    ("", "ALTER TABLE users ALTER COLUMN name TYPE integer USING nmae::integer;",
     'USING nmae::integer) is not valid; fix the migration: column "nmae" does not exist'),
    ("", "ALTER TABLE users ALTER COLUMN name TYPE integer USING name + interval '1 day';",
     "is not valid; fix the migration: operator does not exist"),
    ("", "ALTER TABLE users DROP COLUMN legacy;", "column users.legacy does not exist"),
    ("", "ALTER TABLE users ADD COLUMN name text NOT NULL DEFAULT gen_random_uuid()::text;",
     "column users.name already exists (the column this migration adds)"),
    ("CREATE TABLE nokey (id int, name text)",
     "ALTER TABLE nokey RENAME COLUMN name TO full_name;",
     "table nokey has no single-column primary key or unique NOT NULL column"),
])  # fmt: skip
def test_expand_refuses_before_any_change(postgres_url: str, users: Any, setup: str, sql: str,
                                          message: str) -> None:  # fmt: skip
    if setup:
        users.execute(setup)
    before = pg_schema(users)
    p = plan(sql, "postgres")
    with pytest.raises(GateRefused) as refused:
        run(postgres_url, p, "expand")
    text = str(refused.value)
    assert "expand refused (nothing changed)" in text and message in text, text
    assert "\n" not in text
    assert pg_schema(users) == before
    assert pg_state(users) == []  # not even recorded: expand can simply be run again


@pytest.mark.postgres
def test_a_unique_not_null_column_is_key_enough(postgres_url: str, pg_conn: Any) -> None:
    pg_conn.execute("CREATE TABLE tags (code text NOT NULL UNIQUE, label text)")
    pg_conn.execute("INSERT INTO tags SELECT 'c' || g, 'l' || g FROM generate_series(1, 30) g")
    p = plan("ALTER TABLE tags RENAME COLUMN label TO title;", "postgres")
    run(postgres_url, p, "expand", "backfill", "verify", "contract")
    assert pg_rows(pg_conn, "SELECT count(*) FROM tags WHERE title = 'l' || substr(code, 2)") == [(30,)]


@pytest.mark.postgres
def test_cli_refusal_is_one_line_and_exit_3(postgres_url: str, users: Any, tmp_path: Any) -> None:
    (tmp_path / "0001_rename.sql").write_text("ALTER TABLE users RENAME COLUMN nme TO full_name;\n")
    out = subprocess.run([sys.executable, "-m", "schemashift", "expand", "0001_rename.sql",
                          "--database-url", postgres_url],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert "column users.nme does not exist" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.postgres
def test_verify_names_what_contract_would_lose(postgres_url: str, users: Any) -> None:
    users.execute("CREATE UNIQUE INDEX users_name_key ON users (name)")
    users.execute("ALTER TABLE users ADD CONSTRAINT name_not_blank CHECK (name <> '')")
    users.execute("CREATE VIEW user_names AS SELECT id, name FROM users")
    users.execute("CREATE TABLE notes (id int PRIMARY KEY, author text "
                  "CONSTRAINT notes_author_fkey REFERENCES users (name))")  # fmt: skip
    p = plan("ALTER TABLE users RENAME COLUMN name TO full_name;", "postgres")
    run(postgres_url, p, "expand", "backfill")
    with pytest.raises(VerifyFailed, match="users_name_key"):
        run(postgres_url, p, "verify")
    users.execute("CREATE UNIQUE INDEX users_full_name_key ON users (full_name)")
    with pytest.raises(VerifyFailed) as failed:
        run(postgres_url, p, "verify")
    text = str(failed.value)
    for obj in ("view user_names uses users.name", "foreign key notes_author_fkey on notes",
                "check constraint name_not_blank on users.name"):
        assert obj in text, text
    users.execute("DROP VIEW user_names")
    users.execute("ALTER TABLE notes DROP CONSTRAINT notes_author_fkey, ADD CONSTRAINT "
                  "notes_author_fkey2 FOREIGN KEY (author) REFERENCES users (full_name)")  # fmt: skip
    users.execute("ALTER TABLE users ADD CONSTRAINT full_name_not_blank CHECK (full_name <> '')")
    run(postgres_url, p, "verify", "contract")
    assert pg_rows(users, "SELECT count(*) FROM users WHERE full_name = 'n' || id") == [(20,)]


@pytest.mark.postgres
def test_type_change_carries_not_null_and_default_and_rechecks_late_writes(
    postgres_url: str, pg_conn: Any
) -> None:
    pg_conn.execute("CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL DEFAULT '0')")
    pg_conn.execute("INSERT INTO items SELECT g, g::text FROM generate_series(1, 20) g")
    p = plan("ALTER TABLE items ALTER COLUMN code TYPE integer USING code::integer;", "postgres")
    run(postgres_url, p, "expand", "backfill", "verify")
    # The old app writes a value that does not convert after verify: the shadow stays NULL.
    pg_conn.execute("INSERT INTO items (id, code) VALUES (21, 'x21')")
    pg_conn.execute("UPDATE items SET code = 'y' WHERE id = 3")
    with pytest.raises(GateRefused, match=r"contract refused \(nothing changed\).*keys: 3, 21"):
        run(postgres_url, p, "contract")
    contract_started = pg_rows(pg_conn, "SELECT contract_started_at IS NOT NULL FROM "
                                        "schemashift.migrations WHERE migration = 'm'")  # fmt: skip
    assert contract_started == [(False,)]  # rollback is still open
    pg_conn.execute("UPDATE items SET code = '21' WHERE id = 21")
    pg_conn.execute("UPDATE items SET code = '3' WHERE id = 3")
    run(postgres_url, p, "contract")
    assert pg_rows(pg_conn, "SELECT format_type(atttypid, atttypmod), attnotnull FROM "
                            "pg_attribute WHERE attrelid = 'items'::regclass "
                            "AND attname = 'code'") == [("integer", True)]  # fmt: skip
    pg_conn.execute("INSERT INTO items (id) VALUES (22)")  # the default came along
    assert pg_rows(pg_conn, "SELECT code FROM items WHERE id IN (3, 21, 22) ORDER BY id") == [
        (3,), (21,), (0,)]  # fmt: skip


@pytest.mark.postgres
def test_drop_column_rollback_refuses_while_new_rows_hold_null(postgres_url: str, users: Any) -> None:
    users.execute("ALTER TABLE users ADD COLUMN legacy text NOT NULL DEFAULT 'x'")
    users.execute("ALTER TABLE users ALTER COLUMN legacy DROP DEFAULT")
    p = plan("ALTER TABLE users DROP COLUMN legacy;", "postgres")
    run(postgres_url, p, "expand")
    users.execute("INSERT INTO users (id, name) VALUES (100, 'new app')")  # no legacy
    with pytest.raises(GateRefused) as refused:
        runner(postgres_url, "postgres").rollback(p)
    assert "UPDATE users SET legacy = <value> WHERE legacy IS NULL" in str(refused.value)
    users.execute("UPDATE users SET legacy = 'filled' WHERE legacy IS NULL")
    assert runner(postgres_url, "postgres").rollback(p) == 1
    assert pg_rows(users, "SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                          "'users'::regclass AND attname = 'legacy'") == [(True,)]  # fmt: skip


# --------------------------------------------------------------------------- MariaDB / MySQL


@pytest.fixture
def my_users(mysql_conn: Any) -> Any:
    my(mysql_conn, "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, "
                   "name varchar(80) NOT NULL) ENGINE=InnoDB")  # fmt: skip
    for i in range(1, 11):
        my(mysql_conn, "INSERT INTO users (name) VALUES (%s)", f"n{i}")
    return mysql_conn


def my_columns(conn: Any, table: str = "users") -> list[tuple[Any, ...]]:
    return my_rows(conn, "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM "
                         "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                         "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", table)  # fmt: skip


@pytest.mark.mysql
@pytest.mark.parametrize(("sql", "message"), [
    ("ALTER TABLE users RENAME COLUMN id TO user_id;",
     "column users.id is in the PRIMARY KEY or AUTO_INCREMENT"),
    ("ALTER TABLE users MODIFY COLUMN id bigint NOT NULL AUTO_INCREMENT;",
     "column users.id is in the PRIMARY KEY or AUTO_INCREMENT"),
    ("ALTER TABLE users RENAME COLUMN nme TO full_name;", "column users.nme does not exist"),
    ("ALTER TABLE users DROP COLUMN legacy;", "column users.legacy does not exist"),
])  # fmt: skip
def test_mysql_expand_refuses_before_any_change(mysql_url: str, my_users: Any, sql: str,
                                                message: str) -> None:  # fmt: skip
    before = my_columns(my_users)
    p = plan(sql, "mysql")
    with pytest.raises(GateRefused) as refused:
        run(mysql_url, p, "expand")
    assert message in str(refused.value) and "nothing changed" in str(refused.value)
    assert my_columns(my_users) == before
    assert my_rows(my_users, "SELECT COUNT(*) FROM information_schema.TRIGGERS "
                             "WHERE TRIGGER_SCHEMA = DATABASE()") == [(0,)]  # fmt: skip


@pytest.mark.mysql
def test_mysql_verify_names_views_and_foreign_keys(mysql_url: str, my_users: Any) -> None:
    my(my_users, "CREATE UNIQUE INDEX users_name ON users (name)")
    my(my_users, "CREATE VIEW user_names AS SELECT id, name FROM users")
    my(my_users, "CREATE TABLE notes (id int PRIMARY KEY, author varchar(80), CONSTRAINT "
                 "notes_author FOREIGN KEY (author) REFERENCES users (name)) ENGINE=InnoDB")  # fmt: skip
    p = plan("ALTER TABLE users RENAME COLUMN name TO full_name;", "mysql")
    run(mysql_url, p, "expand", "backfill")
    with pytest.raises(VerifyFailed) as failed:
        run(mysql_url, p, "verify")
    for obj in ("view user_names uses users.name", "foreign key notes_author on notes",
                "unique index users_name on users.name"):
        assert obj in str(failed.value), failed.value


@pytest.mark.mysql
def test_mysql_drop_column_rollback_refuses_while_new_rows_hold_null(
    mysql_url: str, my_users: Any
) -> None:
    my(my_users, "ALTER TABLE users ADD COLUMN legacy varchar(10) NOT NULL")
    p = plan("ALTER TABLE users DROP COLUMN legacy;", "mysql")
    run(mysql_url, p, "expand")
    my(my_users, "INSERT INTO users (name) VALUES ('new app')")  # no legacy: NULL
    with pytest.raises(GateRefused, match=r"UPDATE `users` SET `legacy` = <value> WHERE"):
        runner(mysql_url, "mysql").rollback(p)
    my(my_users, "UPDATE users SET legacy = 'filled' WHERE legacy IS NULL")
    runner(mysql_url, "mysql").rollback(p)
    assert my_columns(my_users)[-1][:3] == ("legacy", "varchar(10)", "NO")


@pytest.mark.mysql
def test_mysql_rename_timestamp_not_null_with_both_apps_writing(
    mysql_url: str, mysql_conn: Any, mysql_connect: Any
) -> None:
    my(mysql_conn, "CREATE TABLE ev (id int PRIMARY KEY, at TIMESTAMP NOT NULL, note "
                   "varchar(20)) ENGINE=InnoDB")  # fmt: skip
    t0 = datetime.datetime(2024, 5, 1, 12, 0, 0)

    def at(i: int) -> datetime.datetime:
        return t0 + datetime.timedelta(minutes=i)

    for i in range(1, 31):
        my(mysql_conn, "INSERT INTO ev (id, at) VALUES (%s, %s)", i, at(i))
    old_app, new_app = mysql_connect(), mysql_connect()
    p = plan("ALTER TABLE ev RENAME COLUMN at TO happened_at;", "mysql")
    run(mysql_url, p, "expand")
    # Copy added NOT NULL with a placeholder default, online.
    assert ("happened_at", "timestamp", "NO", "'1970-01-01 00:00:01'") in my_columns(mysql_conn, "ev")
    my(old_app, "INSERT INTO ev (id, at) VALUES (31, %s)", at(31))
    my(new_app, "INSERT INTO ev (id, happened_at) VALUES (32, %s)", at(32))
    my(old_app, "UPDATE ev SET at = %s WHERE id = 2", at(102))
    my(new_app, "UPDATE ev SET happened_at = %s WHERE id = 3", at(103))
    my(old_app, "UPDATE ev SET note = 'old' WHERE id = 4")  # a row not backfilled yet
    assert my_rows(new_app, "SELECT happened_at FROM ev WHERE id IN (31, 32) ORDER BY id") == [
        (at(31),), (at(32),)]  # fmt: skip
    assert my_rows(old_app, "SELECT at FROM ev WHERE id = 3") == [(at(103),)]
    run(mysql_url, p, "backfill")
    my(old_app, "INSERT INTO ev (id, at) VALUES (33, %s)", at(33))
    run(mysql_url, p, "verify")
    my(new_app, "INSERT INTO ev (id, happened_at) VALUES (34, %s)", at(34))
    run(mysql_url, p, "contract")
    cols = my_columns(mysql_conn, "ev")
    assert [c[0] for c in cols] == ["id", "note", "happened_at"]
    assert cols[2][:3] == ("happened_at", "timestamp", "NO") and cols[2][3] in (None, "NULL")
    got = dict(my_rows(mysql_conn, "SELECT id, happened_at FROM ev"))
    expected = {i: at(i) for i in range(1, 35)} | {2: at(102), 3: at(103)}
    assert got == expected
