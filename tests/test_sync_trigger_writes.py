"""The PostgreSQL sync trigger reads which column an UPDATE names, not only the values:
before the backfill reaches a row its new column is NULL, so the new app clearing the new
column and an update of other columns leave the same row values; only the SET list tells
them apart (a statement-level `UPDATE OF new` trigger flags it)."""

from __future__ import annotations

from typing import Any

import pytest

from schemashift.config import Config
from schemashift.execute.runner import Runner, RunOptions
from schemashift.model import Phase
from schemashift.phases.planner import plan_sql

pytestmark = pytest.mark.postgres


def test_new_app_clearing_the_new_column_before_the_backfill(postgres_url: str,
                                                             pg_conn: Any) -> None:  # fmt: skip
    pg_conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, phone text, email text)")
    pg_conn.execute("INSERT INTO users SELECT g, 'p' || g, 'e' || g FROM generate_series(1, 6) g")
    plan = plan_sql("ALTER TABLE users RENAME COLUMN phone TO phone_number", "m_null",
                    Config(dialect="postgres"))  # fmt: skip
    runner = Runner(postgres_url, Config(), RunOptions(quiet=True))
    runner.run(plan, Phase.EXPAND)
    # before the backfill: the new app clears row 1's number, updates row 2's email only;
    # the old app changes row 3's phone; the new app sets row 4's number in a multi-column
    # update; one statement clears rows 5 and 6 together
    pg_conn.execute("UPDATE users SET phone_number = NULL WHERE id = 1")
    pg_conn.execute("UPDATE users SET email = 'new2' WHERE id = 2")
    pg_conn.execute("UPDATE users SET phone = 'old3' WHERE id = 3")
    pg_conn.execute("UPDATE users SET phone_number = 'n4', email = 'x4' WHERE id = 4")
    pg_conn.execute("UPDATE users SET phone_number = NULL WHERE id IN (5, 6)")
    # the flag is per statement: an update naming only other columns after those fills
    pg_conn.execute("UPDATE users SET email = 'later' WHERE id = 2")
    rows = pg_conn.execute("SELECT id, phone, phone_number FROM users ORDER BY id").fetchall()
    assert rows == [(1, None, None), (2, "p2", "p2"), (3, "old3", "old3"), (4, "n4", "n4"),
                    (5, None, None), (6, None, None)]  # fmt: skip
    for phase in (Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT):
        runner.run(plan, phase)
    after = pg_conn.execute("SELECT id, phone_number FROM users ORDER BY id").fetchall()
    assert after == [(1, None), (2, "p2"), (3, "old3"), (4, "n4"), (5, None), (6, None)]
    left = pg_conn.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal").fetchone()
    assert left == (0,)
