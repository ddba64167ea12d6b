"""The two findings squawk has that we lacked, on the paths users take: a SQL file run
statement by statement, and an Alembic revision's ``autocommit_block()``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ENV = """\
from alembic import context
context.configure(url=context.config.get_main_option("sqlalchemy.url"), transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
"""
REVISION = '''\
revision = "a1"
down_revision = None
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.add_column("t", sa.Column("c", sa.Integer()))
    op.create_index("ix_t_c", "t", ["c"])
    with op.get_context().autocommit_block():
        op.add_column("t", sa.Column("d", sa.Integer()))
        op.create_index("ix_t_d", "t", ["d"], postgresql_concurrently=True)


def downgrade():
    pass
'''


def _lint(*args: str, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "schemashift", "lint", "--format", "json", *args],
                         cwd=cwd, capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def _rules_by_line(doc: dict) -> dict[int, set[str]]:
    return {s["line"]: {f["rule"] for f in s["findings"]} for s in doc["statements"]}


def test_autocommit_block_add_column_is_not_idempotent(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = .\nsqlalchemy.url = postgresql://u@localhost/db\n")
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "versions" / "a1.py").write_text(REVISION)
    rules = _rules_by_line(_lint("--alembic-config", "alembic.ini", cwd=tmp_path))
    # In the revision's transaction: a failure rolls everything back, nothing to guard.
    assert "SS405" not in rules[8] and "SS405" not in rules[9]
    # Inside autocommit_block(): the ADD COLUMN commits on its own (squawk:
    # prefer-robust-stmts); the CONCURRENTLY index is SS404's.
    assert "SS405" in rules[11]
    assert "SS404" in rules[12] and "SS405" not in rules[12]
    # The plain CREATE INDEX scans under SHARE with no statement_timeout.
    assert "SS503" in rules[9]


def test_statement_timeout_set_in_the_file_silences_ss503(tmp_path: Path) -> None:
    sql = tmp_path / "m.sql"
    sql.write_text(textwrap.dedent("""\
        SET lock_timeout = '2s';
        ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2);
        SET statement_timeout = '30s';
        ALTER TABLE orders ALTER COLUMN note TYPE varchar(10);
        """))
    rules = _rules_by_line(_lint(str(sql), cwd=tmp_path))
    assert "SS503" in rules[2]
    assert "SS503" not in rules[4]
