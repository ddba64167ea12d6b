"""The backfill on real PostgreSQL: keys, resume, atomic checkpoints, throttle, retries, and
the kill test (docs/design.md §3.2: backfill)."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from schemashift.execute.backfill import (
    BackfillError,
    Progress,
    backfill_setting,
    ensure_progress_table,
    resolve_key,
    run_backfill,
)
from schemashift.phases.plan import Backfill
from schemashift.sqltext.triggers import (
    quote_ident,
    split_name,
    sync_trigger_names,
    sync_trigger_sql,
)

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parent.parent


def conninfo(url: str) -> str:
    u = make_url(url)
    kwargs: dict[str, Any] = {
        "host": u.host or "127.0.0.1",
        "port": u.port or 5432,
        "user": u.username or "postgres",
        "dbname": u.database,
    }
    if u.password is not None:
        kwargs["password"] = str(u.password)
    return make_conninfo(**kwargs)


@pytest.fixture
def connect(pg_connect: Callable[..., Any]) -> Callable[[], Any]:
    """What run_backfill wants: a factory of new connections (closed by the fixture too)."""
    return lambda: pg_connect(autocommit=False)


def checkpoint(conn: Any, migration: str = "m1", step: int = 1) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT last_key, rows_done, rows_total_estimate FROM schemashift.backfill_progress "
        "WHERE migration = %s AND step = %s",
        (migration, step),
    ).fetchone()
    return row


def wrong(conn: Any, table: str, condition: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchone()[0])


# --------------------------------------------------------------------------- keys


def test_integer_key_with_gaps(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id bigint PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g * 7, g, NULL FROM generate_series(1, 1000) g")
    pg_conn.execute("DELETE FROM t WHERE id % 3 = 0 OR id BETWEEN 2000 AND 3500")
    n = wrong(pg_conn, "t", "true")
    result = run_backfill(connect, Backfill("t", "b = a * 10", "b IS DISTINCT FROM a * 10"),
                          migration="m1", step=1, batch_size=13, batch_time_ms=150)  # fmt: skip
    assert wrong(pg_conn, "t", "b IS DISTINCT FROM a * 10") == 0
    assert result.rows_done == result.rows_scanned == n
    assert result.batches == -(-n // 13)
    assert result.resumed_from is None
    max_id = pg_conn.execute("SELECT max(id) FROM t").fetchone()[0]
    assert checkpoint(pg_conn) == (str(max_id), n, n)  # count(*): no statistics yet


def test_text_keys_in_collation_order(pg_conn: Any, connect: Any) -> None:
    """Text keys, including the empty string (a real key, unlike a NULL checkpoint), quotes,
    spaces, non-ASCII and digits that sort differently as text than as numbers."""
    pg_conn.execute("CREATE TABLE t (code text PRIMARY KEY, a text, b text)")
    pg_conn.execute("INSERT INTO t SELECT 'k' || g, g::text, NULL FROM generate_series(1, 500) g")
    pg_conn.execute(
        "INSERT INTO t VALUES ('', 'empty', NULL), ('O''Brien', 'q', NULL), ('a b', 's', NULL),"
        " ('ä', 'u', NULL), ('Z', 'z', NULL), ('10', 'ten', NULL), ('9', 'nine', NULL)"
    )
    result = run_backfill(connect, Backfill("t", "b = upper(a)", "b IS DISTINCT FROM upper(a)"),
                          migration="m1", step=1, batch_size=17)  # fmt: skip
    assert wrong(pg_conn, "t", "b IS DISTINCT FROM upper(a)") == 0
    assert result.rows_done == 507
    last = pg_conn.execute("SELECT code FROM t ORDER BY code DESC LIMIT 1").fetchone()[0]
    assert checkpoint(pg_conn)[:2] == (last, 507)  # type: ignore[index]


def test_uuid_keys(pg_conn: Any, connect: Any) -> None:
    """uuid has no max() aggregate: the batch bounds come from ORDER BY … OFFSET instead."""
    pg_conn.execute("CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), a int, b int)")
    pg_conn.execute("INSERT INTO t (a) SELECT g FROM generate_series(1, 2000) g")
    result = run_backfill(connect, Backfill("t", "b = a + 1", "b IS DISTINCT FROM a + 1"),
                          migration="m1", step=1, batch_size=300, batch_time_ms=150)  # fmt: skip
    assert wrong(pg_conn, "t", "b IS DISTINCT FROM a + 1") == 0
    assert (result.rows_done, result.batches) == (2000, 7)


def test_schema_qualified_and_quoted_names(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute('CREATE SCHEMA "App Data"')
    pg_conn.execute('CREATE TABLE "App Data"."Order Lines" ("Line Id" int PRIMARY KEY, '
                    'qty int, "Qty2" int)')  # fmt: skip
    pg_conn.execute('INSERT INTO "App Data"."Order Lines" SELECT g, g, NULL '
                    "FROM generate_series(1, 250) g")  # fmt: skip
    # a same-named table on the search_path that must stay untouched
    pg_conn.execute('CREATE TABLE "Order Lines" ("Line Id" int PRIMARY KEY, qty int, "Qty2" int)')
    pg_conn.execute('INSERT INTO "Order Lines" VALUES (1, 1, NULL)')
    table = '"App Data"."Order Lines"'
    result = run_backfill(connect, Backfill(table, '"Qty2" = qty * 2', '"Qty2" IS NULL'),
                          migration="m1", step=1, batch_size=40)  # fmt: skip
    assert result.rows_done == 250
    assert wrong(pg_conn, table, '"Qty2" IS DISTINCT FROM qty * 2') == 0
    assert wrong(pg_conn, '"Order Lines"', '"Qty2" IS NULL') == 1
    # plain qualified name, and a key named explicitly (quoted) and as the catalog spells it
    pg_conn.execute("CREATE SCHEMA app")
    pg_conn.execute('CREATE TABLE app.items ("ItemId" int PRIMARY KEY, a int, b int)')
    pg_conn.execute("INSERT INTO app.items SELECT g, g, NULL FROM generate_series(1, 30) g")
    for step, key in ((1, '"ItemId"'), (2, "ItemId")):
        pg_conn.execute("UPDATE app.items SET b = NULL")
        done = run_backfill(connect, Backfill("app.items", "b = a", "b IS NULL", key=key),
                            migration="m2", step=step, batch_size=7)  # fmt: skip
        assert done.rows_done == 30


def test_key_resolution(pg_conn: Any) -> None:
    pg_conn.execute("CREATE TABLE pk (id int PRIMARY KEY, u int NOT NULL UNIQUE)")
    pg_conn.execute("CREATE TABLE uq (u bigint NOT NULL, n int UNIQUE, x int)")
    pg_conn.execute("CREATE UNIQUE INDEX ON uq (x) WHERE x > 0")  # partial: not usable
    pg_conn.execute("CREATE UNIQUE INDEX ON uq (u)")
    pg_conn.execute("CREATE TABLE comp (a int, b int, PRIMARY KEY (a, b))")
    pg_conn.execute("CREATE TABLE nokey (a int)")
    pg_conn.execute("CREATE VIEW v AS SELECT * FROM pk")

    key = resolve_key(pg_conn, "pk")
    assert (key.column, key.type, key.primary) == ("id", "integer", True)
    key = resolve_key(pg_conn, "uq")  # the unique index on a NOT NULL column
    assert (key.column, key.type, key.primary) == ("u", "bigint", False)
    key = resolve_key(pg_conn, "uq", "{pk:uq}")
    assert key.column == "u"
    with pytest.raises(BackfillError, match=r"public\.comp: its primary key has 2 columns"):
        resolve_key(pg_conn, "comp")
    with pytest.raises(BackfillError, match="it has no primary key and no unique index"):
        resolve_key(pg_conn, "nokey")
    with pytest.raises(BackfillError, match="is nullable"):
        resolve_key(pg_conn, "uq", "n")
    with pytest.raises(BackfillError, match="not found"):
        resolve_key(pg_conn, "pk", "nope")
    pg_conn.execute("CREATE TABLE noidx (id int PRIMARY KEY, k int NOT NULL)")
    with pytest.raises(BackfillError, match=r"no index leads with key column public\.noidx\.k"):
        resolve_key(pg_conn, "noidx", "k")
    pg_conn.execute("CREATE INDEX ON noidx (k, id)")
    assert resolve_key(pg_conn, "noidx", "k").primary is False  # not unique: fine
    with pytest.raises(BackfillError, match="does not exist"):
        resolve_key(pg_conn, "missing")
    with pytest.raises(BackfillError, match="not a table"):
        resolve_key(pg_conn, "v")
    with pytest.raises(BackfillError, match="bad table name"):
        resolve_key(pg_conn, "pk; DROP TABLE pk")


def test_percent_and_braces_in_the_plan_sql(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, s text, b int, j jsonb)")
    pg_conn.execute("INSERT INTO t SELECT g, g, 'x%' || g, NULL, NULL "
                    "FROM generate_series(1, 100) g")  # fmt: skip
    run_backfill(
        connect,
        Backfill("t", "b = a % 7, j = '{\"k\": 1}'::jsonb", "s LIKE 'x%' AND b IS NULL"),
        migration="m1", step=1, batch_size=30,
    )  # fmt: skip
    assert wrong(pg_conn, "t", "b IS DISTINCT FROM a % 7 OR j <> '{\"k\": 1}'") == 0


def test_text_is_taken_as_it_is_names_with_braces_and_percent(pg_conn: Any, connect: Any) -> None:
    """The runner resolves the plan's references before the backfill: what reaches it is
    SQL, braces and % included ("{pk:t}" is a column here, "p%s" a table)."""
    pg_conn.execute('CREATE TABLE "p%s" (id int PRIMARY KEY, "{pk:t}" int, "b%" text)')
    pg_conn.execute('INSERT INTO "p%s" SELECT g, g, NULL FROM generate_series(1, 20) g')
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY)")  # what {pk:t} used to resolve to
    run_backfill(connect, Backfill('"p%s"', '"b%" = ("{pk:t}" * 2)::text || \'%\'',
                                   '"b%" IS NULL'),
                 migration="m1", step=1, batch_size=6)  # fmt: skip
    assert wrong(pg_conn, '"p%s"', '"b%" IS DISTINCT FROM ("{pk:t}" * 2)::text || \'%\'') == 0


def test_empty_table_and_rerun_after_completion(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE e (id int PRIMARY KEY, a int, b int)")
    result = run_backfill(connect, Backfill("e", "b = a", "b IS NULL"), migration="m1", step=1)
    assert (result.rows_done, result.batches) == (0, 0)

    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 3000) g")
    first = run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=2,
                         batch_size=1000)  # fmt: skip
    assert first.rows_done == 3000
    started = time.perf_counter()
    again = run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=2,
                         batch_size=1000)  # fmt: skip
    assert (again.rows_done, again.batches, again.rows_scanned) == (0, 0, 0)
    assert again.resumed_from == "3000"
    assert again.total_rows_done == 3000
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- apps writing


def test_rows_the_apps_write_during_the_backfill_are_kept_right(pg_conn: Any, connect: Any,
                                                                pg_connect: Any) -> None:  # fmt: skip
    """With the sync trigger from triggers.py: rows inserted behind the checkpoint, inside
    the batch being updated and beyond the end key, and updates by the old app (old column)
    and the new app (new column) on rows done and not yet reached, all end up in sync."""
    pg_conn.execute("CREATE TABLE people (id int PRIMARY KEY, name text, full_name text)")
    pg_conn.execute("INSERT INTO people SELECT g * 10, 'n' || g, NULL "
                    "FROM generate_series(1, 1000) g")  # fmt: skip
    create, _drop = sync_trigger_sql("people", "name", "full_name")
    with pg_conn.transaction():
        for statement in create:
            pg_conn.execute(statement)
    app = pg_connect()

    def writes(conn: Any, batch: int) -> None:
        if batch != 5:  # batch 5 holds ids 2010..2500 locked: the app leaves those alone
            return
        app.execute("INSERT INTO people (id, name) VALUES (15, 'behind'), (2015, 'inside'), "
                    "(20005, 'beyond')")  # fmt: skip
        app.execute("INSERT INTO people (id, full_name) VALUES (16, 'new app')")
        app.execute("UPDATE people SET name = 'renamed' WHERE id IN (10, 9000)")
        app.execute("UPDATE people SET full_name = 'new side' WHERE id IN (20, 8000)")

    result = run_backfill(connect, Backfill("people", "full_name = name",
                                            "full_name IS DISTINCT FROM name"),
                          migration="m1", step=1, batch_size=50,
                          _after_update=writes)  # fmt: skip
    assert wrong(pg_conn, "people", "full_name IS DISTINCT FROM name") == 0
    assert wrong(pg_conn, "people", "true") == 1004
    rows = dict(pg_conn.execute("SELECT id, name FROM people WHERE id IN "
                                "(15, 16, 2015, 20005, 10, 9000, 20, 8000)").fetchall())  # fmt: skip
    assert rows == {15: "behind", 16: "new app", 2015: "inside", 20005: "beyond",
                    10: "renamed", 9000: "renamed", 20: "new side", 8000: "new side"}  # fmt: skip
    # 1000 rows existed: the backfill fixed those the apps had not (9000 and 8000, not
    # reached yet when the apps wrote them, were already right)
    assert result.rows_done == 998
    assert checkpoint(pg_conn)[0] == "10000"  # type: ignore[index]  # the end key at start


def test_sync_trigger_both_directions(pg_conn: Any) -> None:
    pg_conn.execute("CREATE SCHEMA s")
    pg_conn.execute('CREATE TABLE s.t (id int PRIMARY KEY, "Old" int, new bigint, other int)')
    create, drop = sync_trigger_sql("s.t", '"Old"', "new")
    for _ in range(2):  # idempotent
        with pg_conn.transaction():
            for statement in create:
                pg_conn.execute(statement)
    ex = pg_conn.execute
    ex('INSERT INTO s.t (id, "Old") VALUES (1, 10)')  # old app
    ex("INSERT INTO s.t (id, new) VALUES (2, 20)")  # new app
    ex('INSERT INTO s.t (id, "Old", new) VALUES (3, 30, 30)')
    ex('INSERT INTO s.t (id, "Old") VALUES (4, 40)')
    ex('UPDATE s.t SET "Old" = 11 WHERE id = 1')
    ex("UPDATE s.t SET new = 21 WHERE id = 2")
    ex('UPDATE s.t SET "Old" = 32, new = 33 WHERE id = 3')  # both: the new one wins
    ex("UPDATE s.t SET other = 1 WHERE id = 3")  # neither changed, both set: not called
    ex("UPDATE s.t SET new = NULL WHERE id = 4")  # nulls the new side: the old follows
    ex('INSERT INTO s.t (id, "Old", new) VALUES (5, 50, NULL)')
    rows = ex('SELECT id, "Old", new FROM s.t ORDER BY id').fetchall()
    assert rows == [(1, 11, 11), (2, 21, 21), (3, 33, 33), (4, None, None), (5, 50, 50)]
    # the batches of its own backfill (schemashift.backfill = its name, transaction-local)
    # skip it; any other value (another migration's backfill) does not
    with pg_conn.transaction():
        ex("SELECT set_config('schemashift.backfill', 'on', true)")
        ex("UPDATE s.t SET new = 14 WHERE id = 1")
    assert ex('SELECT "Old", new FROM s.t WHERE id = 1').fetchone() == (14, 14)
    ex('UPDATE s.t SET "Old" = 11, new = 11 WHERE id = 1')
    with pg_conn.transaction():
        ex("SELECT set_config('schemashift.backfill', %s, true)",
           (sync_trigger_names("s.t", '"Old"', "new")[1],))  # fmt: skip
        ex("UPDATE s.t SET new = 12 WHERE id = 1")
    ex("UPDATE s.t SET new = 13 WHERE id = 2")  # and the next transaction does not
    assert ex('SELECT "Old", new FROM s.t WHERE id IN (1, 2) ORDER BY id').fetchall() == [
        (11, 12),
        (13, 13),
    ]
    ex('UPDATE s.t SET "Old" = 11, new = 11 WHERE id = 1')
    # a row from before the trigger (not backfilled) is filled by any update
    with pg_conn.transaction():
        for statement in drop:
            pg_conn.execute(statement)
    ex('INSERT INTO s.t (id, "Old") VALUES (6, 60)')
    with pg_conn.transaction():
        for statement in create:
            pg_conn.execute(statement)
    ex("UPDATE s.t SET other = 2 WHERE id = 6")
    assert ex("SELECT new FROM s.t WHERE id = 6").fetchone()[0] == 60
    with pg_conn.transaction():
        for statement in drop:
            pg_conn.execute(statement)
    left = ex("SELECT count(*) FROM pg_trigger WHERE tgrelid = 's.t'::regclass AND NOT tgisinternal"
              ).fetchone()[0]  # fmt: skip
    assert left == 0
    assert ex("SELECT count(*) FROM pg_proc WHERE proname LIKE 'schemashift_sync%'"
              ).fetchone()[0] == 0  # fmt: skip


def test_sync_trigger_with_defaults_and_not_null_on_the_old_column(pg_conn: Any) -> None:
    """A BEFORE trigger sees the old column's DEFAULT as if written: the new column wins
    when it is set; a NOT NULL old column is filled before the constraint is checked."""
    ex = pg_conn.execute
    ex("CREATE TABLE u (id int PRIMARY KEY, name text NOT NULL DEFAULT 'anon', "
       "code int NOT NULL, full_name text, code2 bigint)")  # fmt: skip
    for old, new in (("name", "full_name"), ("code", "code2")):
        with pg_conn.transaction():
            for statement in sync_trigger_sql("u", old, new)[0]:
                ex(statement)
    ex("INSERT INTO u (id, full_name, code2) VALUES (1, 'new-app', 7)")  # new app
    ex("INSERT INTO u (id, name, code) VALUES (2, 'old-app', 8)")  # old app
    ex("INSERT INTO u (id, code) VALUES (3, 9)")  # old app, name from its default
    ex("INSERT INTO u (id, code2) VALUES (4, 10)")  # new app, no name: the old default
    rows = ex("SELECT id, name, full_name, code, code2 FROM u ORDER BY id").fetchall()
    assert rows == [
        (1, "new-app", "new-app", 7, 7),
        (2, "old-app", "old-app", 8, 8),
        (3, "anon", "anon", 9, 9),
        (4, "anon", "anon", 10, 10),
    ]


def test_identifier_helpers() -> None:
    assert split_name("Public.Users") == ("public", "users")
    assert split_name('"My ""S"" chema" . "T"') == ('My "S" chema', "T")
    assert split_name("a.b.c") == ("a", "b", "c")
    for bad in ("a;b", "a.", '"x', '""', "a b", "1a", "a.b.c.d"):
        with pytest.raises(ValueError):
            split_name(bad)
    assert quote_ident("users") == "users"
    assert quote_ident("Users") == '"Users"'
    assert quote_ident("order") == '"order"'
    assert quote_ident('a"b') == '"a""b"'
    names = sync_trigger_names("t" * 60, "o" * 30, "n" * 30)
    assert all(len(name) <= 63 for name in names) and names[0] != names[1]
    create, _ = sync_trigger_sql("t" * 60, "o" * 30, "n" * 30)
    assert f"CREATE TRIGGER {names[0]} BEFORE INSERT" in create[3]


# --------------------------------------------------------------------------- two migrations


def test_backfill_setting_names_its_own_sync_trigger() -> None:
    copy = Backfill("app.people", "full_name = name", "full_name IS DISTINCT FROM name")
    assert backfill_setting(copy, "m1", 2) == sync_trigger_names("app.people", "name",
                                                                 "full_name")[1]  # fmt: skip
    quoted = Backfill('"My T"', '"New = Col" = "Old"', "true")
    assert backfill_setting(quoted, "m1", 2) == sync_trigger_names('"My T"', '"Old"',
                                                                   '"New = Col"')[1]  # fmt: skip
    for transform in ("b = a * 10", "b = a, c = a", "t.b = t.a", "b = 'x'"):
        assert backfill_setting(Backfill("t", transform, ""), "m1", 2) == "schemashift:m1:2"


def test_each_batch_sets_its_own_trigger_name(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 30) g")
    seen: list[str] = []

    def read(conn: Any, number: int) -> None:
        seen.append(conn.execute("SELECT current_setting('schemashift.backfill')").fetchone()[0])

    run_backfill(connect, Backfill("t", "b = a", "b IS DISTINCT FROM a"), migration="m1",
                 step=1, batch_size=10, batch_time_ms=150, _after_update=read)  # fmt: skip
    assert len(seen) >= 3  # (and the last, empty, batch)
    assert set(seen) == {sync_trigger_names("t", "a", "b")[1]}
    # set on the backfill's own session only: no other session sees it
    assert pg_conn.execute("SELECT current_setting('schemashift.backfill', true)"
                           ).fetchone()[0] in (None, "")  # fmt: skip


@pytest.mark.parametrize(("asked", "expected"), [(None, "on"), (False, "off"), (True, "on")])
def test_batches_commit_with_synchronous_commit_on_unless_asked_off(
    pg_conn: Any, connect: Any, asked: bool | None, expected: str
) -> None:
    """On by default: each batch flushes its own WAL, so an app's commit never flushes a
    backlog of the backfill's (benchmarks/README.md); the timeouts are the options'."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 30) g")
    seen: set[tuple[str, ...]] = set()

    def read(conn: Any, number: int) -> None:
        seen.add(tuple(conn.execute(
            "SELECT current_setting('synchronous_commit'), current_setting('lock_timeout'), "
            "current_setting('statement_timeout')").fetchone()))  # fmt: skip

    options: dict[str, Any] = {} if asked is None else {"synchronous_commit": asked}
    run_backfill(connect, Backfill("t", "b = a", "b IS DISTINCT FROM a"), migration="m1",
                 step=1, batch_size=10, lock_timeout_ms=750, statement_timeout_ms=4000,
                 _after_update=read, **options)  # fmt: skip
    assert seen == {(expected, "750ms", "4s")}


@pytest.mark.parametrize("order", ["first-then-second", "second-then-first"])
def test_two_migrations_on_one_table_keep_each_other_in_sync(
    pg_conn: Any, connect: Any, order: str
) -> None:
    """Migration 1 renames a → b, migration 2 (in flight at the same time) renames b → c:
    each has its sync trigger. Migration 1's backfill writes b, the old column of
    migration 2: migration 2's trigger must still fire for those rows (only migration 1's
    own trigger skips them), or c stays stale wherever migration 2's backfill had already
    been."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int, c int, other int)")
    pg_conn.execute("INSERT INTO t (id, a) SELECT g, g * 3 FROM generate_series(1, 500) g")
    for old, new in (("a", "b"), ("b", "c")):
        with pg_conn.transaction():
            for statement in sync_trigger_sql("t", old, new)[0]:
                pg_conn.execute(statement)
    # the apps write meanwhile: both triggers chain (a → b → c)
    pg_conn.execute("UPDATE t SET a = -id WHERE id % 50 = 0")
    pg_conn.execute("INSERT INTO t (id, a) VALUES (1000, 7)")
    first = Backfill("t", "b = a", "b IS DISTINCT FROM a")
    second = Backfill("t", "c = b", "c IS DISTINCT FROM b")
    runs = [("m_first", first), ("m_second", second)]
    for migration, backfill in runs if order == "first-then-second" else runs[::-1]:
        run_backfill(connect, backfill, migration=migration, step=1, batch_size=64)
    assert wrong(pg_conn, "t", "b IS DISTINCT FROM a OR c IS DISTINCT FROM a") == 0
    assert wrong(pg_conn, "t", "a IS NULL") == 0
    assert pg_conn.execute("SELECT a, b, c FROM t WHERE id = 100").fetchone() == (-100,) * 3


def test_a_data_backfill_does_not_silence_another_migrations_trigger(
    pg_conn: Any, connect: Any
) -> None:
    """A migration's backfill that transforms a column (no sync trigger of its own) while
    another migration's rename of that column is in flight and already backfilled."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text, full_name text)")
    pg_conn.execute("INSERT INTO t (id, name) SELECT g, 'n' || g FROM generate_series(1, 300) g")
    with pg_conn.transaction():
        for statement in sync_trigger_sql("t", "name", "full_name")[0]:
            pg_conn.execute(statement)
    run_backfill(connect, Backfill("t", "full_name = name", "full_name IS DISTINCT FROM name"),
                 migration="m_rename", step=1, batch_size=50)  # fmt: skip
    run_backfill(connect, Backfill("t", "name = upper(name)", "name <> upper(name)"),
                 migration="m_upper", step=1, batch_size=50)  # fmt: skip
    assert wrong(pg_conn, "t", "full_name IS DISTINCT FROM name OR name <> upper(name)") == 0


# --------------------------------------------------------------------------- resume


def test_resume_after_a_crash_neither_redoes_nor_skips(pg_conn: Any, connect: Any) -> None:
    """A non-idempotent SET (touches + 1) on every row (no pending filter): a crash after 3
    batches and a resume leave every row touched exactly once."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int, touches int DEFAULT 0)")
    pg_conn.execute("INSERT INTO t (id, a) SELECT g, g FROM generate_series(1, 1000) g")
    backfill = Backfill("t", "b = a * 2 + 1, touches = touches + 1", "")

    def crash(conn: Any, batch: int) -> None:
        if batch == 4:
            raise RuntimeError("simulated crash")

    out = io.StringIO()
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_backfill(connect, backfill, migration="m1", step=1, batch_size=10, batch_time_ms=150,
                     progress=Progress(out, tty=False), _after_update=crash)  # fmt: skip
    assert "stopped after 3 batches of this run (checkpoint: 30); run it again" in out.getvalue()
    assert checkpoint(pg_conn)[:2] == ("30", 30)  # type: ignore[index]
    assert wrong(pg_conn, "t", "touches <> 1") == 970
    assert wrong(pg_conn, "t", "id <= 30 AND touches <> 1") == 0

    result = run_backfill(connect, backfill, migration="m1", step=1, batch_size=10, batch_time_ms=150)
    assert result.resumed_from == "30"
    assert (result.rows_done, result.batches, result.total_rows_done) == (970, 97, 1000)
    assert wrong(pg_conn, "t", "touches <> 1 OR b IS DISTINCT FROM a * 2 + 1") == 0


def test_two_runs_of_one_step_at_once_touch_every_row_once(pg_conn: Any, connect: Any) -> None:
    """A second run of the same step started while the first is inside a batch (a killed
    run's batch still in flight looks the same): it waits for the checkpoint row, finds it
    moved, and goes on from there; the two runs share the walk and no row is updated
    twice (a non-idempotent SET: touches + 1)."""
    import threading

    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int, touches int DEFAULT 0)")
    pg_conn.execute("INSERT INTO t (id, a) SELECT g, g FROM generate_series(1, 300) g")
    backfill = Backfill("t", "b = a, touches = touches + 1", "")
    second: list[Any] = []

    def run_second() -> None:
        second.append(run_backfill(connect, backfill, migration="m1", step=1, batch_size=10,
                                   batch_time_ms=150))  # fmt: skip

    thread = threading.Thread(target=run_second)

    def start_second(conn: Any, batch: int) -> None:
        if batch == 3:  # inside the 4th batch's transaction: the second run starts there
            thread.start()
            time.sleep(0.5)  # …and waits for this batch's lock on the checkpoint row

    first = run_backfill(connect, backfill, migration="m1", step=1, batch_size=10,
                         batch_time_ms=150, _after_update=start_second)  # fmt: skip
    thread.join(timeout=60)
    # it started from what the first run had committed before that batch (30 rows when
    # no batch was resized; a slow machine may have resized one)
    assert second and 0 < int(second[0].resumed_from) < 300
    assert first.rows_scanned + second[0].rows_scanned == 300  # each key walked once…
    assert first.batches > 3 and second[0].batches > 0  # …by both, taking turns
    assert wrong(pg_conn, "t", "touches <> 1 OR b IS DISTINCT FROM a") == 0
    assert checkpoint(pg_conn)[:2] == ("300", 300)  # type: ignore[index]


def test_checkpoint_commits_with_the_update_or_not_at_all(pg_conn: Any, connect: Any) -> None:
    """A statement failing after the UPDATE, inside the batch transaction, before the
    checkpoint write: nothing of that batch is applied, so a kill between the two can never
    leave updated rows without their checkpoint (or the reverse)."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 100) g")
    backfill = Backfill("t", "b = a", "b IS NULL")

    def fail_at(batch_no: int) -> Callable[[Any, int], None]:
        def hook(conn: Any, batch: int) -> None:
            if batch == batch_no:
                conn.execute("SELECT 1 / 0")

        return hook

    with pytest.raises(BackfillError, match="division by zero") as info:
        run_backfill(connect, backfill, migration="m1", step=1, batch_size=10, batch_time_ms=150,
                     _after_update=fail_at(1))  # fmt: skip
    assert isinstance(info.value.__cause__, psycopg.errors.DivisionByZero)
    assert wrong(pg_conn, "t", "b IS NOT NULL") == 0
    assert checkpoint(pg_conn)[:2] == (None, 0)  # type: ignore[index]

    with pytest.raises(BackfillError):
        run_backfill(connect, backfill, migration="m1", step=1, batch_size=10, batch_time_ms=150,
                     _after_update=fail_at(3))  # fmt: skip
    assert wrong(pg_conn, "t", "b IS NOT NULL") == 20
    assert checkpoint(pg_conn)[:2] == ("20", 20)  # type: ignore[index]
    assert run_backfill(connect, backfill, migration="m1", step=1, batch_size=10, batch_time_ms=150).rows_done == 80


def test_progress_table_matches_the_state_module(pg_conn: Any) -> None:
    from schemashift.execute.state import PostgresState

    ensure_progress_table(pg_conn, "mine")
    PostgresState(pg_conn, "theirs").ensure()
    ensure_progress_table(pg_conn, "theirs")  # existing: left alone
    PostgresState(pg_conn, "mine").ensure()  # and the other way round

    def layout(schema: str) -> list[tuple[Any, ...]]:
        return list(pg_conn.execute(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'backfill_progress' ORDER BY ordinal_position", (schema,)
        ).fetchall())  # fmt: skip

    assert layout("mine") == layout("theirs")
    assert [c[0] for c in layout("mine")] == ["migration", "step", "last_key", "rows_done",
                                              "rows_total_estimate", "updated_at"]  # fmt: skip


# --------------------------------------------------------------------------- throttle, retries


def test_throttle_holds_the_average_rate(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 2000) g")
    started = time.perf_counter()
    result = run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=1,
                          batch_size=100, rows_per_second=2500)  # fmt: skip
    elapsed = time.perf_counter() - started
    assert result.rows_done == 2000
    assert 0.7 <= elapsed < 3.0  # 2000 rows at 2500 rows/s: 0.8 s (less the last batch's wait)
    pg_conn.execute("UPDATE t SET b = NULL")
    started = time.perf_counter()
    run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=2,
                 batch_size=100)  # fmt: skip
    assert time.perf_counter() - started < elapsed


def test_lock_timeout_is_retried_with_backoff(pg_conn: Any, connect: Any,
                                              pg_connect: Any) -> None:  # fmt: skip
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 100) g")
    blocker = pg_connect(autocommit=False)
    blocker.execute("SELECT * FROM t WHERE id = 55 FOR UPDATE")  # an app's long transaction
    release = threading.Timer(0.8, blocker.rollback)
    release.start()
    try:
        result = run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1",
                              step=1, batch_size=20, lock_timeout_ms=100, backoff_base_s=0.05,
                              max_retries=30)  # fmt: skip
    finally:
        release.join()
    assert result.retries >= 1
    assert result.rows_done == 100
    assert wrong(pg_conn, "t", "b IS NULL") == 0

    pg_conn.execute("UPDATE t SET b = NULL")
    blocker.execute("SELECT * FROM t WHERE id = 55 FOR UPDATE")
    try:
        with pytest.raises(BackfillError, match=r"failed 3 times, giving up: .*lock") as info:
            run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=2,
                         batch_size=20, lock_timeout_ms=50, backoff_base_s=0.01,
                         max_retries=2)  # fmt: skip
        assert isinstance(info.value.__cause__, psycopg.errors.LockNotAvailable)
    finally:
        blocker.rollback()
    assert checkpoint(pg_conn, step=2)[:2] == ("40", 40)  # type: ignore[index]


def test_statement_timeout_halves_the_batch(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 150) g")
    slow = Backfill("t", "b = a", "b IS NULL AND pg_sleep(0.002) IS NOT NULL")
    result = run_backfill(connect, slow, migration="m1", step=1, batch_size=256,
                          statement_timeout_ms=120, backoff_base_s=0.01)  # fmt: skip
    assert result.retries >= 2  # 256 rows ~0.3 s, 128 ~0.26 s: both over 120 ms
    assert result.rows_done == 150
    assert wrong(pg_conn, "t", "b IS NULL") == 0


def test_sql_errors_name_the_batch(pg_conn: Any, connect: Any) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 10) g")
    with pytest.raises(BackfillError, match=r"batch after id = None failed: .*nope"):
        run_backfill(connect, Backfill("t", "b = nope", "b IS NULL"), migration="m1", step=1)


# --------------------------------------------------------------------------- progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_log_lines_off_a_tty() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = Progress(out, tty=False, interval=5.0, clock=clock)
    p.start("backfill t", 1000)
    for _ in range(8):
        clock.now += 1.0
        p.update(p.done + 50, p.done + 50)
    p.finish()
    lines = out.getvalue().splitlines()
    assert "starting, about 1,000 rows" in lines[0]
    assert "250/1,000 rows (25%), 50 rows/s, ETA 0:15" in lines[1]  # at t+5 s only
    assert len(lines) == 3 and "done, 400 rows updated" in lines[2]
    assert "\r" not in out.getvalue()


def test_progress_bar_on_a_tty() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = Progress(out, tty=True, clock=clock)
    p.start("bf", None)
    for _ in range(20):
        clock.now += 0.01  # 100 updates a second: at most 10 redraws a second are drawn
        p.update(p.done + 10)
    draws = out.getvalue().count("\r")
    assert 2 <= draws <= 4
    p.total = 400
    clock.now += 1
    p.update(200)
    p.note("retry 1/8")
    p.finish("done")
    text = out.getvalue()
    assert "[############------------] 200/400 rows (50%)" in text
    assert "\x1b[K" in text and "bf: retry 1/8\n" in text and text.endswith("bf: done\n")


def test_quiet_progress_and_no_progress_print_nothing(
    pg_conn: Any, connect: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b int)")
    pg_conn.execute("INSERT INTO t SELECT g, g, NULL FROM generate_series(1, 10) g")
    run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=1,
                 progress=Progress(quiet=True))  # fmt: skip
    run_backfill(connect, Backfill("t", "b = a", "b IS NULL"), migration="m1", step=2)
    captured = capfd.readouterr()
    assert captured.out == captured.err == ""
    run_backfill(connect, Backfill("t", "b = a", "true"), migration="m1", step=3,
                 progress=Progress())  # fmt: skip
    err = capfd.readouterr().err
    assert "starting, about 10 rows" in err and "done, 10 rows updated" in err


# --------------------------------------------------------------------------- kill test

KILL_ROWS = 1_000_000
KILLS = 10

CHILD = """
import sys, psycopg
from schemashift.execute.backfill import run_backfill
from schemashift.phases.plan import Backfill
conninfo = sys.argv[1]
print("ready", flush=True)
result = run_backfill(
    lambda: psycopg.connect(conninfo),
    Backfill("big", "new_col = old_col * 2 + 1, touches = touches + 1", ""),
    migration="kill", step=0, batch_size=10_000,
)
print("done", result.rows_done, result.resumed_from, flush=True)
"""


@pytest.fixture
def big_table(pg_conn: Any) -> Iterator[Any]:
    pg_conn.execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, old_col int NOT NULL, new_col bigint, "
        "touches int NOT NULL DEFAULT 0)"
    )
    pg_conn.execute(f"INSERT INTO big (id, old_col) SELECT g * 3, (g::bigint * 7919) % 100003 "
                    f"FROM generate_series(1, {KILL_ROWS}) g")  # fmt: skip
    # what the expand phase installs: rows the app writes meanwhile are right at once
    pg_conn.execute(
        "CREATE FUNCTION big_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.new_col := NEW.old_col * 2 + 1; RETURN NEW; END $$"
    )
    pg_conn.execute("CREATE TRIGGER big_sync BEFORE INSERT OR UPDATE OF old_col ON big "
                    "FOR EACH ROW EXECUTE FUNCTION big_sync()")  # fmt: skip
    yield pg_conn


@pytest.mark.slow
def test_kill_test_sigkill_at_random_points(big_table: Any, postgres_url: str,
                                           pg_connect: Any) -> None:  # fmt: skip
    """A 1,000,000-row backfill (batch 10,000) in a child process, SIGKILLed at random points
    10 times and restarted each time, while an app keeps updating random rows; then run
    to the end. The SET is not idempotent (touches + 1) and has no pending filter, so a
    redone batch shows as touches = 2 and a skipped one as touches = 0 (and new_col
    wrong): every row must have touches = 1 and the right new_col, the row count must be
    unchanged, and the checkpoint must count exactly 1,000,000 rows."""
    seed = int(os.environ.get("SCHEMASHIFT_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    info = conninfo(postgres_url)
    stop = threading.Event()
    app_errors: list[BaseException] = []
    app_writes = [0]

    def app() -> None:
        conn = pg_connect()
        app_rng = random.Random(seed + 1)
        try:
            while not stop.is_set():
                g = app_rng.randrange(1, KILL_ROWS + 1)
                conn.execute("UPDATE big SET old_col = old_col + 1 WHERE id = %s", (g * 3,))
                app_writes[0] += 1
                time.sleep(0.005)
        except BaseException as exc:  # reported by the test
            app_errors.append(exc)

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, info], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.stderr else "")
        return proc

    def rows_done() -> int:
        if (
            big_table.execute("SELECT to_regclass('schemashift.backfill_progress')").fetchone()[0]
            is None
        ):
            return 0
        row = checkpoint(big_table, "kill", 0)
        return int(row[1]) if row else 0

    # Where the kills land: spread over the whole table (sorted random targets for the
    # checkpoint, then a random 0-80 ms more, so the kill hits a random point of a batch:
    # the UPDATE, the checkpoint write, the commit, between batches), and some early in a
    # run (connecting, resolving the key, waiting for the killed run's locks).
    targets = sorted(rng.uniform(0.02, 0.92) * KILL_ROWS for _ in range(KILLS))
    writer = threading.Thread(target=app, daemon=True)
    writer.start()
    kills, progress = 0, [0]
    try:
        while kills < KILLS:
            proc = start()
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.0, 0.3))
            else:
                deadline = time.monotonic() + 60
                while rows_done() < targets[kills] and proc.poll() is None:
                    assert time.monotonic() < deadline, f"no progress (seed {seed})"
                    time.sleep(0.005)
                time.sleep(rng.uniform(0.0, 0.08))
            if proc.poll() is not None:
                pytest.fail(f"the backfill finished before kill {kills + 1} (seed {seed})")
            proc.kill()  # SIGKILL
            proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
            kills += 1
            progress.append(rows_done())
        final = start()
        out, err = final.communicate(timeout=240)
        assert final.returncode == 0, err
    finally:
        stop.set()
        writer.join(timeout=10)
    assert not app_errors, app_errors
    assert kills >= KILLS
    assert progress == sorted(progress), progress  # the checkpoint never went back
    assert progress[-1] < KILL_ROWS, "every kill landed after the end: not a kill test"
    assert out.startswith("done"), out
    print(f"kill test seed {seed}: checkpoint rows after each kill {progress[1:]}, "
          f"{app_writes[0]} app writes; final run: {out.strip()}")  # fmt: skip

    bad = big_table.execute(
        "SELECT count(*) FILTER (WHERE new_col IS DISTINCT FROM old_col * 2 + 1), "
        "count(*) FILTER (WHERE touches <> 1), count(*) FROM big"
    ).fetchone()
    assert bad == (0, 0, KILL_ROWS), f"seed {seed}: wrong, touched not once, rows: {bad}"
    final_checkpoint = checkpoint(big_table, "kill", 0)
    assert final_checkpoint is not None
    assert final_checkpoint[:2] == (str(3 * KILL_ROWS), KILL_ROWS)
    assert app_writes[0] > 0
