"""Revisions that ask the database: answered offline from the schema model
(alembic/inspector.py), and replayed on a real scratch database (alembic/replay.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_alembic_history import cli, make_project, rev

from schemashift.alembic.history import read_history

R1 = rev("r1", None, """
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )
    op.create_index("ix_users_name", "users", ["name"])
""")
R2 = rev("r2", "r1", """
    bind = op.get_bind()
    insp = sa.inspect(bind)
    columns = [c["name"] for c in insp.get_columns("users")]
    if "email" not in columns and insp.has_table("users"):
        op.add_column("users", sa.Column("email", sa.String(100)))  # ADD-EMAIL
    if "ix_users_name" in [i["name"] for i in insp.get_indexes("users")]:
        op.create_index("ix_users_email", "users", ["email"])  # INDEX-EMAIL
    if insp.has_table("missing"):
        op.drop_table("users")  # NEVER
    users = sa.table("users", sa.column("id"), sa.column("email"))
    rows = bind.execute(sa.select(users.c.id)).fetchall()
    for row in rows:
        bind.execute(users.update().where(users.c.id == row[0]).values(email="x"))
    bind.execute(sa.text("UPDATE users SET email = 'none' WHERE email IS NULL"))  # UPDATE
    assert insp.get_pk_constraint("users")["constrained_columns"] == ["id"]
    assert insp.get_foreign_keys("users") == []
""")
R3 = rev("r3", "r2", """
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(50), nullable=True)  # BATCH
""")


def line_of(path: Path, marker: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(marker)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, {"r1": R1, "r2": R2, "r3": R3})


def _at(revision: object, words: str) -> list[int]:
    return [s.statement.line for s in revision.statements  # type: ignore[attr-defined]
            if words in " ".join(s.statement.sql.split())]  # fmt: skip


def test_database_reads_are_answered_from_the_model_offline(project: Path) -> None:
    versions = project.parent / "migrations" / "versions"
    r2 = versions / "r2.py"
    revisions = read_history(project, "postgres")
    assert [r.info.status for r in revisions] == ["analysed"] * 3
    _, second, third = revisions
    assert second.info.note is not None and second.info.note.startswith("modelled")
    assert revisions[0].info.note is None
    assert _at(second, "ALTER TABLE users ADD COLUMN email") == [line_of(r2, "ADD-EMAIL")]
    assert _at(second, "CREATE INDEX ix_users_email") == [line_of(r2, "INDEX-EMAIL")]
    assert _at(second, "UPDATE users SET email = 'none'") == [line_of(r2, "# UPDATE")]
    assert not _at(second, "DROP TABLE")
    assert not _at(second, "SELECT")  # a query finds no rows and is no change
    assert _at(third, "ALTER TABLE users ALTER COLUMN name DROP NOT NULL") == [
        line_of(versions / "r3.py", "BATCH")]  # fmt: skip


def test_sqlite_batch_mode_copies_the_table_from_the_model(project: Path) -> None:
    r3 = project.parent / "migrations" / "versions" / "r3.py"
    revisions = read_history(project, "sqlite")
    assert [r.info.status for r in revisions] == ["analysed"] * 3
    third = revisions[2]
    created = _at(third, "CREATE TABLE _alembic_tmp_users")
    assert created == [line_of(r3, "BATCH")]
    sql = " ".join(s.statement.sql for s in third.statements)
    assert "email VARCHAR(100)" in sql and "name VARCHAR(50)," in sql  # nullable now
    assert "ALTER TABLE _alembic_tmp_users RENAME TO users" in sql


def test_a_revision_alone_is_answered_from_the_revisions_before(project: Path) -> None:
    only = read_history(project, "postgres", revision="r2")
    assert len(only) == 1 and only[0].info.status == "analysed"
    assert _at(only[0], "ALTER TABLE users ADD COLUMN email")


def test_raw_ddl_and_reflection_feed_the_model(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, 'op.execute("CREATE TABLE things (id INT PRIMARY KEY, v TEXT)")\n'
                              'op.execute("ALTER TABLE things RENAME TO items")'),
        "a2": rev("a2", "a1", """
            meta = sa.MetaData()
            meta.reflect(op.get_bind())
            items = meta.tables["items"]
            op.add_column("items", sa.Column("n_" + items.c.v.name, sa.Integer))
        """),
    })  # fmt: skip
    revisions = read_history(ini, "postgres")
    assert [r.info.status for r in revisions] == ["analysed", "analysed"]
    assert _at(revisions[1], "ALTER TABLE items ADD COLUMN n_v INTEGER")


def _replay(project: Path, url: str) -> tuple[int, dict[str, object], str]:
    proc = cli("lint", "--alembic-config", str(project), "--replay-database", url,
               "--format", "json", cwd=project.parent)  # fmt: skip
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}, proc.stderr


def _check_replay(project: Path, url: str, dialect: str) -> None:
    versions = project.parent / "migrations" / "versions"
    code, doc, err = _replay(project, url)
    assert code in (0, 1), err
    assert doc["dialect"] == dialect
    revisions = doc["revisions"]
    assert [r["status"] for r in revisions] == ["analysed"] * 3, revisions
    assert all(str(r["note"]).startswith("replayed on") for r in revisions)
    by_sql = {(s["file"].split("/")[-1], " ".join(s["sql"].split())): s["line"]
              for s in doc["statements"]}  # fmt: skip
    r2 = versions / "r2.py"

    def line(file: str, words: str) -> int:
        found = [ln for (f, sql), ln in by_sql.items() if f == file and words in sql]
        assert found, (words, sorted(by_sql))
        return found[0]

    assert line("r1.py", "CREATE TABLE users") == line_of(versions / "r1.py", "op.create_table")
    assert line("r2.py", "ADD COLUMN email") == line_of(r2, "ADD-EMAIL")
    assert line("r2.py", "ix_users_email") == line_of(r2, "INDEX-EMAIL")
    assert line("r2.py", "SET email = 'none'") == line_of(r2, "# UPDATE")
    assert line("r2.py", "SELECT users.id") == line_of(r2, "rows = bind.execute")
    # Catalog reads and the version table are not the revision's SQL.
    assert not [sql for (_, sql) in by_sql if "alembic_version" in sql or "pg_catalog" in sql
                or "information_schema" in sql.lower()]  # fmt: skip
    # Batch mode runs its operations when the block ends: at the `with` line.
    assert line("r3.py", "name") == line_of(versions / "r3.py", "with op.batch_alter_table")


@pytest.mark.postgres
def test_replay_on_postgres_records_the_executed_sql_at_its_lines(
    project: Path, postgres_url: str
) -> None:
    _check_replay(project, postgres_url, "postgres")


@pytest.mark.mysql
def test_replay_on_mariadb_records_the_executed_sql_at_its_lines(
    project: Path, mysql_url: str
) -> None:
    _check_replay(project, mysql_url, "mysql")


def test_replay_on_sqlite_runs_batch_mode_for_real(project: Path, tmp_path: Path) -> None:
    code, doc, err = _replay(project, f"sqlite:///{tmp_path / 'scratch.db'}")
    assert code in (0, 1), err
    assert [r["status"] for r in doc["revisions"]] == ["analysed"] * 3
    assert any("_alembic_tmp_users" in s["sql"] for s in doc["statements"])


@pytest.mark.postgres
def test_replay_refuses_a_database_that_is_not_empty(project: Path, postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE keep_me (id int)")
    engine.dispose()
    secret = postgres_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    code, doc, err = _replay(project, secret)
    assert code == 2 and not doc
    assert err.count("\n") == 1 and "not empty" in err and "keep_me" in err
    assert "s3cret-pw" not in err


def test_replay_needs_an_alembic_project(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text("SELECT 1;\n")
    proc = cli("lint", str(tmp_path / "m.sql"), "--replay-database", "sqlite://")
    assert proc.returncode == 2 and "--replay-database needs an Alembic project" in proc.stderr


@pytest.mark.postgres
def test_replay_on_an_asyncio_driver_runs_through_run_sync(tmp_path: Path,
                                                           postgres_url: str) -> None:  # fmt: skip
    """An asyncio URL (prefect replays on asyncpg) is replayed on the async engine's sync
    facade inside ``run_sync``, as an asyncio env.py runs it: the SQL, at its lines, and a
    driver-level ``exec_driver_sql`` read."""
    pytest.importorskip("greenlet")
    project = make_project(tmp_path, {
        "r1": R1,
        "r2": rev("r2", "r1", """
            found = op.get_bind().exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_users_name'").first()
            if found is not None:
                op.drop_index("ix_users_name", table_name="users")  # DROP-INDEX
        """),
    })  # fmt: skip
    url = postgres_url.replace("postgresql://", "postgresql+psycopg_async://", 1)
    code, doc, err = _replay(project, url)
    assert code in (0, 1), err
    revisions = doc["revisions"]
    assert isinstance(revisions, list)
    assert [r["status"] for r in revisions] == ["analysed", "analysed"], revisions
    statements = doc["statements"]
    assert isinstance(statements, list)
    (drop,) = [s for s in statements if s["sql"].startswith("DROP INDEX")]
    r2 = project.parent / "migrations" / "versions" / "r2.py"
    assert drop["line"] == line_of(r2, "DROP-INDEX")
    (read,) = [s for s in statements if "pg_indexes" in s["sql"]]
    assert read["line"] == line_of(r2, "exec_driver_sql")
