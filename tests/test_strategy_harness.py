"""Every strategy end to end on a real database, in pgroll's shape (one table-driven
harness, many small cases) with Reshape's ``intermediate(old_app, new_app)`` step.

Per case:

1. set up the schema and seed rows; snapshot the schema;
2. plan the migration SQL (the plan must use the case's strategy);
3. expand; an "old app" connection and a "new app" connection, each using its own
   column and table names, insert, update and read, and each sees the other's writes;
4. rollback: the schema is back to the snapshot, and every row (the apps' writes
   included) reads right in the old schema;
5. expand again, backfill, verify, contract: the final schema is the new one and every
   row is right in it.

Both PostgreSQL and MySQL/MariaDB run through ``schemashift.execute.runner.Runner``
(its state, run lock, lock timeouts and retries, and the dialect's batched backfill).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemashift.config import Config
from schemashift.model import Phase
from schemashift.phases.plan import PHASE_ORDER, Plan
from schemashift.phases.planner import plan_sql
from schemashift.strategies.common import is_check

runner_module = pytest.importorskip("schemashift.execute.runner")
Runner = runner_module.Runner
RunOptions = runner_module.RunOptions
VerifyFailed = runner_module.VerifyFailed


# --------------------------------------------------------------------------- apps


class App:
    """One app version's connection (autocommit): the SQL it would send."""

    def __init__(self, conn: Any, dialect: str, name: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.name = name

    def execute(self, sql: str, *params: Any) -> None:
        if self.dialect == "mysql":
            with self.conn.cursor() as cur:
                cur.execute(sql, params or None)
        else:
            self.conn.execute(sql, params or None)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.dialect == "mysql":
            with self.conn.cursor() as cur:
                cur.execute(sql, params or None)
                return [tuple(r) for r in cur.fetchall()]
        return [tuple(r) for r in self.conn.execute(sql, params or None).fetchall()]

    def one(self, sql: str, *params: Any) -> Any:
        rows = self.rows(sql, *params)
        assert len(rows) == 1, f"{self.name}: expected one row from {sql!r}, got {rows}"
        return rows[0][0] if len(rows[0]) == 1 else rows[0]

    def fails(self, sql: str, *params: Any, match: str = "") -> None:
        """The statement is refused (a constraint the expand already enforces)."""
        with pytest.raises(Exception, match=match):
            self.execute(sql, *params)


@dataclass(frozen=True)
class Case:
    name: str
    strategy: str  # the strategy the plan must use
    setup: str
    migration: str
    # Old and new app side by side after expand: writes, reads, each sees the other's.
    intermediate: Callable[[App, App], None]
    # Rows as the old app version reads them after rollback (data intact).
    after_rollback: Callable[[App], None]
    # The new schema after contract, and every row in it.
    after_contract: Callable[[App], None]
    # Fix data so that verify passes; when set, verify must fail first and name the keys.
    fix_before_verify: Callable[[App], None] | None = None
    offending_keys: Sequence[Any] = ()
    marks: Sequence[Any] = field(default_factory=tuple)


# --------------------------------------------------------------------------- schema snapshots


def pg_schema(app: App) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "columns": app.rows(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attidentity, col_description(c.oid, a.attnum) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY 1, 2"
        ),
        "constraints": app.rows(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ),
        "indexes": app.rows(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ),
        "triggers": app.rows("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
        "functions": app.rows(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1"
        ),
        "relations": app.rows(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'v', 'S') ORDER BY 1"
        ),
        "sequences": app.rows(
            "SELECT sequencename, data_type::text FROM pg_sequences WHERE schemaname = 'public' "
            "ORDER BY 1"
        ),
    }


def mysql_schema(app: App) -> dict[str, list[tuple[Any, ...]]]:
    user_tables = "TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE 'schemashift%%'"
    return {
        "columns": app.rows(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
            f"COLUMN_COMMENT FROM information_schema.COLUMNS WHERE {user_tables} ORDER BY 1, 2"
        ),
        "indexes": app.rows(
            "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE "
            f"FROM information_schema.STATISTICS WHERE {user_tables} ORDER BY 1, 2, 3"
        ),
        "triggers": app.rows(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1"
        ),
        "tables": app.rows(
            f"SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE {user_tables} "
            "ORDER BY 1"
        ),
    }


def pg_columns(app: App, table: str) -> list[str]:
    return [
        r[0]
        for r in app.rows(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attname",
            table,
        )
    ]


def pg_column(app: App, table: str, column: str) -> tuple[str, bool, str | None]:
    """(type, NOT NULL, default) of a column."""
    result: tuple[str, bool, str | None] = app.one(
        "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid "
        "AND d.adnum = a.attnum WHERE a.attrelid = %s::regclass AND a.attname = %s",
        table,
        column,
    )
    return result


def leftovers(app: App) -> list[tuple[Any, ...]]:
    """schemashift's own objects (triggers, functions, checks, shadows) left in the schema."""
    return app.rows(
        "SELECT 'trigger', tgname::text FROM pg_trigger WHERE NOT tgisinternal "
        "UNION ALL SELECT 'function', proname::text FROM pg_proc "
        "WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'schemashift%%' "
        "UNION ALL SELECT 'constraint', conname::text FROM pg_constraint "
        "WHERE conname LIKE 'ck\\_%%not\\_null' "
        "UNION ALL SELECT 'column', attname::text FROM pg_attribute a JOIN pg_class c "
        "ON c.oid = a.attrelid WHERE c.relkind = 'r' AND attname LIKE '\\_ss\\_%%' "
        "AND NOT attisdropped"
    )


# --------------------------------------------------------------------------- PostgreSQL cases


def _rename_column_intermediate(old: App, new: App, *, any_write_syncs: bool = True) -> None:
    """Both app versions write during the window. ``any_write_syncs``: a write to another
    column of a row the backfill has not reached syncs it too (PostgreSQL, MySQL; SQLite's
    triggers fire on UPDATE OF either renamed column only)."""
    old.execute("INSERT INTO users (id, name, email) VALUES (10, 'old-app', 'o@x')")
    new.execute("INSERT INTO users (id, full_name, email) VALUES (11, 'new-app', 'n@x')")
    assert new.one("SELECT full_name FROM users WHERE id = 10") == "old-app"
    assert old.one("SELECT name FROM users WHERE id = 11") == "new-app"
    old.execute("UPDATE users SET name = 'ann (old)' WHERE id = 1")
    new.execute("UPDATE users SET full_name = 'bob (new)' WHERE id = 2")
    assert new.one("SELECT full_name FROM users WHERE id = 1") == "ann (old)"
    assert old.one("SELECT name FROM users WHERE id = 2") == "bob (new)"
    # A row the backfill has not reached yet is synced by any write to it.
    new.execute("UPDATE users SET email = 'c2@x' WHERE id = 3")
    if any_write_syncs:
        assert new.one("SELECT full_name FROM users WHERE id = 3") == "cid"


_RENAMED = [(1, "ann (old)"), (2, "bob (new)"), (3, "cid"), (10, "old-app"), (11, "new-app")]


def _rename_column_final(app: App) -> None:
    assert pg_columns(app, "users") == ["email", "full_name", "id"]
    assert app.rows("SELECT id, full_name FROM users ORDER BY id") == _RENAMED
    assert pg_column(app, "users", "full_name")[1] is True  # NOT NULL carried over
    assert leftovers(app) == []


def _rename_column_default_final(app: App) -> None:
    _rename_column_final(app)
    assert pg_column(app, "users", "full_name")[2] == "'anon'::text"
    app.execute("INSERT INTO users (id, email) VALUES (20, 'd@x')")
    assert app.one("SELECT full_name FROM users WHERE id = 20") == "anon"


def _rename_table_intermediate(old: App, new: App) -> None:
    oid = old.one("INSERT INTO orders (total) VALUES (70) RETURNING id")
    nid = new.one("INSERT INTO purchases (total) VALUES (80) RETURNING id")
    assert new.one("SELECT total FROM purchases WHERE id = %s", oid) == 70
    assert old.one("SELECT total FROM orders WHERE id = %s", nid) == 80
    old.execute("UPDATE orders SET total = total + 1 WHERE id = 1")
    assert new.one("SELECT total FROM purchases WHERE id = 1") == 11
    old.execute("DELETE FROM orders WHERE id = 2")
    assert new.rows("SELECT id FROM purchases WHERE id = 2") == []
    # Defaults come from the table through the view.
    old.execute("INSERT INTO orders DEFAULT VALUES")
    assert new.one("SELECT count(*) FROM purchases WHERE total = 0") == 1


def _rename_table_final(app: App) -> None:
    assert app.rows("SELECT relname FROM pg_class WHERE relname IN ('orders', 'purchases')") == [
        ("purchases",)
    ]
    assert app.rows("SELECT id, total FROM purchases ORDER BY id") == [
        (1, 11), (3, 30), (4, 70), (5, 80), (6, 0)]  # fmt: skip


def _narrow_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO items (id, qty) VALUES (10, 5)")
    new.execute("INSERT INTO items (id, qty) VALUES (11, 6)")
    new.execute("UPDATE items SET qty = 7 WHERE id = 1")
    assert old.one("SELECT qty FROM items WHERE id = 11") == 6
    assert new.one("SELECT qty FROM items WHERE id = 10") == 5
    # A value the new type cannot hold: the old app's write still succeeds (the shadow stays
    # NULL and verify names the row), it must never fail because of the new column.
    old.execute("INSERT INTO items (id, qty) VALUES (12, 10000000000)")
    assert old.one("SELECT qty FROM items WHERE id = 12") == 10000000000
    assert old.one("SELECT _ss_new_qty FROM items WHERE id = 12") is None


def _narrow_fix(app: App) -> None:
    app.execute("UPDATE items SET qty = 12 WHERE id = 12")


_NARROWED = [(1, 7), (2, 2), (10, 5), (11, 6), (12, 12)]
_NARROW_KEPT = [(1, 7), (2, 2), (10, 5), (11, 6), (12, 10000000000)]


def _narrow_final(app: App) -> None:
    assert pg_column(app, "items", "qty") == ("integer", True, "1")
    assert app.rows("SELECT id, qty FROM items ORDER BY id") == _NARROWED
    assert leftovers(app) == []


def _using_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO items (id, code) VALUES (10, ' 42 ')")
    new.execute("UPDATE items SET code = '7' WHERE id = 1")
    assert new.one("SELECT code FROM items WHERE id = 10") == " 42 "
    # Text that is no integer: the old app's write succeeds (the cast would fail the row).
    old.execute("INSERT INTO items (id, code) VALUES (12, 'abc')")
    old.execute("UPDATE items SET code = 'x1' WHERE id = 2")
    assert old.rows("SELECT id FROM items WHERE _ss_new_code IS NULL ORDER BY id") == [(2,), (12,)]


def _using_fix(app: App) -> None:
    app.execute("UPDATE items SET code = '12' WHERE id = 12")
    app.execute("UPDATE items SET code = '20' WHERE id = 2")


def _using_final(app: App) -> None:
    assert pg_column(app, "items", "code")[0] == "integer"
    assert app.rows("SELECT id, code FROM items ORDER BY id") == [
        (1, 7), (2, 20), (10, 42), (12, 12)]  # fmt: skip


def _token_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name) VALUES (10, 'old-app')")
    new.execute(
        "INSERT INTO users (id, name, token) VALUES (11, 'new-app', "
        "'00000000-0000-0000-0000-000000000011')"
    )
    assert new.one("SELECT token IS NOT NULL FROM users WHERE id = 10") is True
    assert old.one("SELECT name FROM users WHERE id = 11") == "new-app"


def _token_final(app: App) -> None:
    assert pg_column(app, "users", "token")[:2] == ("uuid", True)
    assert app.one("SELECT count(*) FROM users WHERE token IS NULL") == 0
    assert app.one("SELECT count(DISTINCT token) FROM users") == app.one(
        "SELECT count(*) FROM users"
    )
    assert leftovers(app) == []


def _status_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name) VALUES (10, 'old-app')")
    new.execute("INSERT INTO users (id, name, status) VALUES (11, 'new-app', 'vip')")
    assert old.one("SELECT name FROM users WHERE id = 11") == "new-app"
    assert new.one("SELECT status FROM users WHERE id = 10") is None


def _status_final(app: App) -> None:
    assert pg_column(app, "users", "status")[:2] == ("text", True)
    assert app.rows("SELECT id, status FROM users ORDER BY id") == [
        (1, "active"), (2, "active"), (3, "active"), (10, "active"), (11, "active")]  # fmt: skip


def _set_not_null_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name, email) VALUES (10, 'old-app', NULL)")
    new.execute("INSERT INTO users (id, name, email) VALUES (11, 'new-app', 'n@x')")
    assert old.one("SELECT email FROM users WHERE id = 11") == "n@x"


def _set_not_null_final(app: App) -> None:
    assert pg_column(app, "users", "email")[1] is True
    assert app.rows("SELECT id, email FROM users ORDER BY id") == [
        (1, "a@x"), (2, "unknown"), (3, "unknown"), (10, "unknown"), (11, "n@x")]  # fmt: skip
    assert leftovers(app) == []


def _fk_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO children (id, parent_id) VALUES (10, 1)")
    new.execute("INSERT INTO children (id, parent_id) VALUES (11, 2)")
    assert new.one("SELECT count(*) FROM children WHERE id IN (10, 11)") == 2
    # NOT VALID is enforced for new writes from expand on.
    new.fails("INSERT INTO children (id, parent_id) VALUES (12, 99)", match="foreign key")


def _fk_final(app: App) -> None:
    assert (
        app.one("SELECT convalidated FROM pg_constraint WHERE conname = 'children_parent_fk'")
        is True
    )
    assert app.rows("SELECT id FROM children ORDER BY id") == [(1,), (10,), (11,)]


def _unique_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name, email) VALUES (10, 'old-app', 'o@x')")
    new.execute("INSERT INTO users (id, name, email) VALUES (11, 'new-app', 'n@x')")
    old.fails("INSERT INTO users (id, name, email) VALUES (12, 'dup', 'n@x')", match="duplicate")
    assert new.one("SELECT name FROM users WHERE email = 'o@x'") == "old-app"


def _unique_final(app: App) -> None:
    assert app.one("SELECT contype FROM pg_constraint WHERE conname = 'users_email_key'") == "u"
    assert app.one("SELECT count(*) FROM users") == 5


def _check_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO items (id, qty) VALUES (10, 3)")
    new.fails("INSERT INTO items (id, qty) VALUES (11, -1)", match="check")
    assert new.one("SELECT qty FROM items WHERE id = 10") == 3


def _check_final(app: App) -> None:
    assert (
        app.one("SELECT convalidated FROM pg_constraint WHERE conname = 'items_qty_positive'")
        is True
    )
    assert app.rows("SELECT id, qty FROM items ORDER BY id") == [(1, 1), (2, 5), (10, 3)]


def _index_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name, email) VALUES (10, 'old-app', 'o@x')")
    new.execute("INSERT INTO users (id, name, email) VALUES (11, 'new-app', 'n@x')")
    assert old.one("SELECT name FROM users WHERE email = 'n@x'") == "new-app"


def _index_final(app: App) -> None:
    assert (
        app.one(
            "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'users_email_idx'::regclass"
        )
        is True
    )


def _drop_column_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name, legacy) VALUES (10, 'old-app', 'l10')")
    # The new app version no longer writes legacy: expand dropped its NOT NULL.
    new.execute("INSERT INTO users (id, name) VALUES (11, 'new-app')")
    assert old.rows("SELECT name, legacy FROM users WHERE id = 11") == [("new-app", None)]
    assert new.one("SELECT name FROM users WHERE id = 10") == "old-app"
    # (Rollback restores NOT NULL only when no NULL is left: see test_drop_column_rollback.)
    old.execute("UPDATE users SET legacy = 'l11' WHERE id = 11")


def _drop_column_final(app: App) -> None:
    assert pg_columns(app, "users") == ["email", "id", "name"]
    assert app.one("SELECT count(*) FROM users") == 5


def _drop_table_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO audit (note) VALUES ('still written by the old app')")
    new.execute("INSERT INTO users (id, name) VALUES (11, 'new-app')")


def _drop_table_final(app: App) -> None:
    assert app.rows("SELECT relname FROM pg_class WHERE relname = 'audit'") == []


def _bigint_intermediate(old: App, new: App) -> None:
    a = old.one("INSERT INTO accounts (name) VALUES ('old-app') RETURNING id")
    b = new.one("INSERT INTO accounts (name) VALUES ('new-app') RETURNING id")
    new.execute("INSERT INTO sessions (account_id) VALUES (%s)", a)
    old.execute("INSERT INTO sessions (account_id) VALUES (%s)", b)
    assert new.one("SELECT name FROM accounts WHERE id = %s", a) == "old-app"
    assert old.one("SELECT count(*) FROM sessions") == 4


def _bigint_final(app: App) -> None:
    assert pg_column(app, "accounts", "id")[:2] == ("bigint", True)
    assert (
        app.one(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = 'accounts'::regclass AND i.indisprimary"
        )
        == "id"
    )
    assert app.one("SELECT conname FROM pg_constraint WHERE conrelid = 'accounts'::regclass "
                   "AND contype = 'p'") == "accounts_pkey"  # fmt: skip
    assert app.one("SELECT convalidated FROM pg_constraint WHERE conrelid = "
                   "'sessions'::regclass AND contype = 'f'") is True  # fmt: skip
    assert app.one("SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint "
                   "WHERE conrelid = 'sessions'::regclass AND contype = 'f'") is None  # fmt: skip
    assert app.rows("SELECT id, name FROM accounts ORDER BY id") == [
        (1, "a"), (2, "b"), (3, "old-app"), (4, "new-app")]  # fmt: skip
    # The sequence goes on, past what an integer holds.
    app.execute("SELECT setval(pg_get_serial_sequence('accounts', 'id'), 3000000000)")
    assert app.one("INSERT INTO accounts (name) VALUES ('big') RETURNING id") == 3000000001
    app.execute("INSERT INTO sessions (account_id) VALUES (4)")  # (still int: its own migration)
    app.fails("INSERT INTO sessions (account_id) VALUES (999)", match="foreign key")
    assert leftovers(app) == []


def _identity_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO tickets (title) VALUES ('old-app')")
    new.execute("INSERT INTO tickets (title) VALUES ('new-app')")
    assert new.rows("SELECT id, title FROM tickets ORDER BY id")[-2:] == [
        (3, "old-app"), (4, "new-app")]  # fmt: skip


def _identity_final(app: App) -> None:
    assert pg_column(app, "tickets", "id")[:2] == ("bigint", True)
    assert app.one("SELECT attidentity FROM pg_attribute WHERE attrelid = 'tickets'::regclass "
                   "AND attname = 'id'") == "d"  # fmt: skip
    assert app.one("INSERT INTO tickets (title) VALUES ('after') RETURNING id") == 5


USERS = (
    "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text);"
    "INSERT INTO users VALUES (1, 'ann', 'a@x'), (2, 'bob', NULL), (3, 'cid', NULL);"
)

PG_CASES = [
    Case(
        "rename_column",
        "rename_column",
        USERS,
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        _rename_column_intermediate,
        lambda app: _expect(app, "SELECT id, name FROM users ORDER BY id", _RENAMED),
        _rename_column_final,
    ),
    Case(
        "rename_column_with_default",
        "rename_column",
        USERS.replace("name text NOT NULL", "name text NOT NULL DEFAULT 'anon'"),
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        _rename_column_intermediate,
        lambda app: _expect(app, "SELECT id, name FROM users ORDER BY id", _RENAMED),
        _rename_column_default_final,
    ),
    Case(
        "rename_table",
        "rename_table",
        "CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL DEFAULT 0);"
        "INSERT INTO orders (total) VALUES (10), (20), (30);",
        "ALTER TABLE orders RENAME TO purchases;",
        _rename_table_intermediate,
        lambda app: _expect(
            app,
            "SELECT id, total FROM orders ORDER BY id",
            [(1, 11), (3, 30), (4, 70), (5, 80), (6, 0)],
        ),
        _rename_table_final,
    ),
    Case(
        "change_column_type_narrowing",
        "change_column_type",
        "CREATE TABLE items (id int PRIMARY KEY, qty bigint NOT NULL DEFAULT 1);"
        "INSERT INTO items VALUES (1, 1), (2, 2);",
        "ALTER TABLE items ALTER COLUMN qty TYPE integer;",
        _narrow_intermediate,
        lambda app: _expect(app, "SELECT id, qty FROM items ORDER BY id", _NARROW_KEPT),
        _narrow_final,
        fix_before_verify=_narrow_fix,
        offending_keys=[12],
    ),
    Case(
        "change_column_type_using",
        "change_column_type",
        "CREATE TABLE items (id int PRIMARY KEY, code text);"
        "INSERT INTO items VALUES (1, '1'), (2, '20');",
        "ALTER TABLE items ALTER COLUMN code TYPE integer USING trim(code)::integer;",
        _using_intermediate,
        lambda app: _expect(
            app, "SELECT id, code FROM items ORDER BY id",
            [(1, "7"), (2, "x1"), (10, " 42 "), (12, "abc")],
        ),
        _using_final,
        fix_before_verify=_using_fix,
        offending_keys=[2, 12],
    ),
    Case(
        "add_not_null_column_volatile_default",
        "add_not_null_column",
        USERS,
        "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
        _token_intermediate,
        lambda app: _expect(app, "SELECT count(*) FROM users", [(5,)]),
        _token_final,
    ),
    Case(
        "add_not_null_column_without_default",
        "add_not_null_column",
        USERS,
        "ALTER TABLE users ADD COLUMN status text NOT NULL;\n"
        "UPDATE users SET status = 'active' WHERE status IS NULL;",
        _status_intermediate,
        lambda app: _expect(app, "SELECT count(*) FROM users", [(5,)]),
        _status_final,
    ),
    Case(
        "set_not_null",
        "set_not_null",
        USERS,
        "UPDATE users SET email = 'unknown' WHERE email IS NULL;\n"
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        _set_not_null_intermediate,
        lambda app: _expect(
            app, "SELECT id, email FROM users WHERE id >= 10 ORDER BY id", [(10, None), (11, "n@x")]
        ),
        _set_not_null_final,
    ),
    Case(
        "add_foreign_key",
        "add_foreign_key",
        "CREATE TABLE parents (id int PRIMARY KEY);"
        "CREATE TABLE children (id int PRIMARY KEY, parent_id int);"
        "INSERT INTO parents VALUES (1), (2); INSERT INTO children VALUES (1, 1), (2, 42);",
        "ALTER TABLE children ADD CONSTRAINT children_parent_fk FOREIGN KEY (parent_id) "
        "REFERENCES parents (id);",
        _fk_intermediate,
        lambda app: _expect(app, "SELECT id FROM children ORDER BY id", [(1,), (2,), (10,), (11,)]),
        _fk_final,
        fix_before_verify=lambda app: app.execute("DELETE FROM children WHERE id = 2"),
        offending_keys=(2,),
    ),
    Case(
        "add_unique",
        "add_unique",
        USERS,
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
        _unique_intermediate,
        lambda app: _expect(app, "SELECT count(*) FROM users", [(5,)]),
        _unique_final,
    ),
    Case(
        "add_check",
        "add_check",
        "CREATE TABLE items (id int PRIMARY KEY, qty int);"
        "INSERT INTO items VALUES (1, 1), (2, -5);",
        "ALTER TABLE items ADD CONSTRAINT items_qty_positive CHECK (qty > 0);",
        _check_intermediate,
        lambda app: _expect(
            app, "SELECT id, qty FROM items ORDER BY id", [(1, 1), (2, -5), (10, 3)]
        ),
        _check_final,
        fix_before_verify=lambda app: app.execute("UPDATE items SET qty = 5 WHERE id = 2"),
        offending_keys=(2,),
    ),
    Case(
        "create_index",
        "create_index",
        USERS,
        "CREATE INDEX users_email_idx ON users (email);",
        _index_intermediate,
        lambda app: _expect(app, "SELECT count(*) FROM users", [(5,)]),
        _index_final,
    ),
    Case(
        "drop_column",
        "drop_column",
        "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text, "
        "legacy text NOT NULL); INSERT INTO users VALUES (1, 'ann', NULL, 'l1'), "
        "(2, 'bob', NULL, 'l2'), (3, 'cid', NULL, 'l3');",
        "ALTER TABLE users DROP COLUMN legacy;",
        _drop_column_intermediate,
        lambda app: _expect(
            app,
            "SELECT id, legacy FROM users WHERE id >= 10 ORDER BY id",
            [(10, "l10"), (11, "l11")],
        ),
        _drop_column_final,
    ),
    Case(
        "drop_table",
        "drop_table",
        USERS + "CREATE TABLE audit (id serial PRIMARY KEY, note text);",
        "DROP TABLE audit;",
        _drop_table_intermediate,
        lambda app: _expect(app, "SELECT note FROM audit", [("still written by the old app",)]),
        _drop_table_final,
    ),
    Case(
        "bigint_primary_key",
        "bigint_primary_key",
        "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);"
        "CREATE TABLE sessions (id serial PRIMARY KEY, "
        "account_id int NOT NULL REFERENCES accounts (id));"
        "INSERT INTO accounts (name) VALUES ('a'), ('b');"
        "INSERT INTO sessions (account_id) VALUES (1), (2);",
        "ALTER TABLE accounts ALTER COLUMN id TYPE bigint;",
        _bigint_intermediate,
        lambda app: _expect(
            app,
            "SELECT id, name FROM accounts ORDER BY id",
            [(1, "a"), (2, "b"), (3, "old-app"), (4, "new-app")],
        ),
        _bigint_final,
    ),
    Case(
        "bigint_primary_key_identity",
        "bigint_primary_key",
        "CREATE TABLE tickets (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, title text);"
        "INSERT INTO tickets (title) VALUES ('a'), ('b');",
        "ALTER TABLE tickets ALTER COLUMN id TYPE bigint;",
        _identity_intermediate,
        lambda app: _expect(app, "SELECT count(*) FROM tickets", [(4,)]),
        _identity_final,
    ),
]


def _expect(app: App, sql: str, rows: list[tuple[Any, ...]]) -> None:
    assert app.rows(sql) == rows


# --------------------------------------------------------------------------- the harness


def _run_case(
    case: Case,
    runner: Any,
    connect: Callable[[], Any],
    dialect: str,
    snapshot: Callable[[App], dict[str, list[tuple[Any, ...]]]],
) -> None:
    admin = App(connect(), dialect, "setup")
    for statement in _statements(case.setup):
        admin.execute(statement)
    before = snapshot(admin)

    plan = plan_sql(case.migration, case.name, Config(dialect=dialect))
    assert any(s.endswith(f" {case.strategy}") for s in plan.strategies), plan.strategies
    _check_plan_shape(plan)

    runner.run(plan, Phase.EXPAND)
    old, new = App(connect(), dialect, "old app"), App(connect(), dialect, "new app")
    case.intermediate(old, new)

    runner.rollback(plan)
    assert snapshot(admin) == before, "rollback did not restore the schema"
    case.after_rollback(old)

    runner.run(plan, Phase.EXPAND)
    runner.run(plan, Phase.BACKFILL)
    if case.fix_before_verify is not None:
        with pytest.raises(VerifyFailed) as failed:
            runner.run(plan, Phase.VERIFY)
        assert list(failed.value.keys) == list(case.offending_keys)
        case.fix_before_verify(admin)
    runner.run(plan, Phase.VERIFY)
    runner.run(plan, Phase.CONTRACT)
    case.after_contract(App(connect(), dialect, "new app after contract"))


def _check_plan_shape(plan: Plan) -> None:
    for step in plan.steps:
        assert step.why, f"step without a why: {step.description}"
        if step.phase is Phase.EXPAND and not is_check(step):  # a check changes nothing
            assert step.rollback, f"expand step without a rollback: {step.description}"
    assert [s.phase for s in plan.steps] == sorted(
        (s.phase for s in plan.steps), key=PHASE_ORDER.index
    )


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in PG_CASES])
def test_postgres_strategy(case: Case, postgres_url: str, pg_connect: Callable[..., Any]) -> None:
    runner = Runner(postgres_url, Config(), RunOptions(quiet=True, lock_timeout_ms=5000))
    _run_case(case, runner, pg_connect, "postgres", pg_schema)


def test_every_postgres_strategy_has_a_case() -> None:
    from schemashift.strategies import STRATEGIES, strategy_name

    covered = {c.strategy for c in PG_CASES if not c.marks}
    names = {strategy_name(s) for s in STRATEGIES if "postgres" in s.DIALECTS}
    assert names - covered == set()


def test_drop_column_rollback_refused_while_nulls_written_meanwhile(
    postgres_url: str, pg_connect: Callable[..., Any]
) -> None:
    """The new app version wrote rows without the column; a rollback cannot make it NOT
    NULL again without inventing data, so it is refused, naming the UPDATE that gives those
    rows a value - then it restores NOT NULL."""
    app = App(pg_connect(), "postgres", "app")
    for statement in _statements(
        "CREATE TABLE users (id int PRIMARY KEY, legacy text NOT NULL);"
        "INSERT INTO users VALUES (1, 'l1')"
    ):
        app.execute(statement)
    plan = plan_sql("ALTER TABLE users DROP COLUMN legacy;", "drop_legacy", Config())
    runner = Runner(postgres_url, Config(), RunOptions(quiet=True))
    runner.run(plan, Phase.EXPAND)
    app.execute("INSERT INTO users (id) VALUES (2)")
    with pytest.raises(runner_module.GateRefused,
                       match="UPDATE users SET legacy = <value> WHERE legacy IS NULL"):
        runner.rollback(plan)
    assert pg_column(app, "users", "legacy")[1] is False
    app.execute("UPDATE users SET legacy = 'l2' WHERE id = 2")
    runner.rollback(plan)
    assert pg_column(app, "users", "legacy")[1] is True
    assert app.one("SELECT col_description('users'::regclass, 2)") is None


# --------------------------------------------------------------------------- MySQL / MariaDB


def _my_rename_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO users (id, name, email) VALUES (10, 'old-app', 'o@x')")
    new.execute("INSERT INTO users (id, full_name, email) VALUES (11, 'new-app', 'n@x')")
    assert new.one("SELECT full_name FROM users WHERE id = 10") == "old-app"
    assert old.one("SELECT name FROM users WHERE id = 11") == "new-app"
    old.execute("UPDATE users SET name = 'ann (old)' WHERE id = 1")
    new.execute("UPDATE users SET full_name = 'bob (new)' WHERE id = 2")
    assert new.one("SELECT full_name FROM users WHERE id = 1") == "ann (old)"
    assert old.one("SELECT name FROM users WHERE id = 2") == "bob (new)"


def _my_rename_final(app: App) -> None:
    cols = app.rows(
        "SELECT COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' ORDER BY COLUMN_NAME"
    )
    assert [c[:2] for c in cols] == [("email", "YES"), ("full_name", "NO"), ("id", "NO")]
    assert app.rows("SELECT id, full_name FROM users ORDER BY id") == _RENAMED
    assert app.rows("SHOW TRIGGERS") == []
    app.execute("INSERT INTO users (id, email) VALUES (20, 'd@x')")
    assert app.one("SELECT full_name FROM users WHERE id = 20") == "anon"


def _my_narrow_intermediate(old: App, new: App) -> None:
    old.execute("INSERT INTO items (id, qty) VALUES (10, 5)")
    new.execute("INSERT INTO items (id, qty) VALUES (11, 6)")
    new.execute("UPDATE items SET qty = 7 WHERE id = 1")
    assert old.one("SELECT qty FROM items WHERE id = 11") == 6
    # Does not fit the new type: the old app's write succeeds all the same (shadow NULL).
    old.execute("INSERT INTO items (id, qty) VALUES (12, 10000000000)")
    assert old.one("SELECT _ss_new_qty FROM items WHERE id = 12") is None


def _my_narrow_final(app: App) -> None:
    assert app.one(
        "SELECT CONCAT(COLUMN_TYPE, ' ', IS_NULLABLE) FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND COLUMN_NAME = 'qty'"
    ) in ("int(11) NO", "int NO")
    assert app.rows("SELECT id, qty FROM items ORDER BY id") == _NARROWED
    assert app.rows("SHOW TRIGGERS") == []


def _my_status_final(app: App) -> None:
    assert (
        app.one(
            "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'users' AND COLUMN_NAME = 'status'"
        )
        == "NO"
    )
    assert app.rows("SELECT DISTINCT status FROM users") == [("active",)]


def _my_drop_final(app: App) -> None:
    assert app.rows(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'users' ORDER BY 1"
    ) == [("email",), ("id",), ("name",)]


def _my_index_final(app: App) -> None:
    assert (
        app.one(
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'users' AND INDEX_NAME = 'users_email_idx'"
        )
        == 1
    )


MY_USERS = (
    "CREATE TABLE users (id int PRIMARY KEY, name varchar(50) NOT NULL DEFAULT 'anon', "
    "email varchar(50) NULL);"
    "INSERT INTO users VALUES (1, 'ann', 'a@x'), (2, 'bob', NULL), (3, 'cid', NULL);"
)

MYSQL_CASES = [
    Case(
        "rename_column",
        "rename_column",
        MY_USERS,
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        _my_rename_intermediate,
        lambda app: _expect(app, "SELECT id, name FROM users ORDER BY id", _RENAMED),
        _my_rename_final,
    ),
    Case(
        "change_column_type_narrowing",
        "change_column_type",
        "CREATE TABLE items (id int PRIMARY KEY, qty bigint NOT NULL DEFAULT 1);"
        "INSERT INTO items VALUES (1, 1), (2, 2);",
        "ALTER TABLE items MODIFY COLUMN qty int NOT NULL DEFAULT 1;",
        _my_narrow_intermediate,
        lambda app: _expect(app, "SELECT id, qty FROM items ORDER BY id", _NARROW_KEPT),
        _my_narrow_final,
        fix_before_verify=_narrow_fix,
        offending_keys=[12],
    ),
    Case(
        "add_not_null_column",
        "add_not_null_column",
        MY_USERS,
        "ALTER TABLE users ADD COLUMN status varchar(20) NOT NULL;\n"
        "UPDATE users SET status = 'active' WHERE status IS NULL;",
        _status_intermediate,
        lambda app: _expect(app, "SELECT COUNT(*) FROM users", [(5,)]),
        _my_status_final,
    ),
    Case(
        "drop_column",
        "drop_column",
        "CREATE TABLE users (id int PRIMARY KEY, name varchar(50) NOT NULL, "
        "email varchar(50) NULL, legacy varchar(20) NOT NULL COMMENT 'kept for v1');"
        "INSERT INTO users VALUES (1, 'ann', NULL, 'l1'), (2, 'bob', NULL, 'l2'), "
        "(3, 'cid', NULL, 'l3');",
        "ALTER TABLE users DROP COLUMN legacy;",
        _drop_column_intermediate,
        lambda app: _expect(
            app,
            "SELECT id, legacy FROM users WHERE id >= 10 ORDER BY id",
            [(10, "l10"), (11, "l11")],
        ),
        _my_drop_final,
    ),
    Case(
        "create_index",
        "create_index",
        MY_USERS,
        "CREATE INDEX users_email_idx ON users (email);",
        _index_intermediate,
        lambda app: _expect(app, "SELECT COUNT(*) FROM users", [(5,)]),
        _my_index_final,
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in MYSQL_CASES])
def test_mysql_strategy(case: Case, mysql_url: str, mysql_connect: Callable[..., Any]) -> None:
    runner = Runner(mysql_url, Config(dialect="mysql"), RunOptions(quiet=True))
    _run_case(case, runner, mysql_connect, "mysql", mysql_schema)


def test_every_mysql_strategy_has_a_case() -> None:
    from schemashift.strategies import STRATEGIES, strategy_name

    names = {strategy_name(s) for s in STRATEGIES if "mysql" in s.DIALECTS}
    assert names - {c.strategy for c in MYSQL_CASES} == {"drop_table"}  # contract-only, trivial
