"""Compatibility facts on PostgreSQL 15 the classifier stands on (docs/hazards.md §5):
what the old app version's queries do after a change."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_key_integer_to_text_breaks_old_lookups(pg_conn: Any) -> None:
    """After ALTER COLUMN id TYPE text, the old app's `WHERE id = 5` (an integer literal or
    an integer parameter) has no operator: SS106 calls a key's family change breaking."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
    pg_conn.execute("INSERT INTO t VALUES (5, 1)")
    assert pg_conn.execute("SELECT n FROM t WHERE id = %s", (5,)).fetchone() == (1,)
    pg_conn.execute("ALTER TABLE t ALTER COLUMN id TYPE text")
    with pytest.raises(psycopg.errors.UndefinedFunction, match="text = integer"):
        pg_conn.execute("SELECT n FROM t WHERE id = 5")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        pg_conn.execute("SELECT n FROM t WHERE id = %s", (5,))


def test_non_key_integer_to_text_keeps_old_writes(pg_conn: Any) -> None:
    """A non-key integer column turned text still takes the old app's integer writes
    (assignment casts): the change is compatible for writers."""
    pg_conn.execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
    pg_conn.execute("ALTER TABLE t ALTER COLUMN n TYPE text")
    pg_conn.execute("INSERT INTO t (id, n) VALUES (%s, %s)", (1, 42))
    assert pg_conn.execute("SELECT n FROM t").fetchone() == ("42",)
