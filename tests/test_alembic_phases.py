"""The phase commands with an Alembic revision as TARGET, on real PostgreSQL: a rename pair
written by ``schemashift revision`` goes expand → backfill → verify → contract through the
CLI, with Alembic's own ``alembic_version`` kept right at every step."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command

# the fixtures too: a temp Alembic project with v1 applied, and an empty second database
from test_alembic_autogen import V1, Project, fresh_url, generate, project  # noqa: F401

from schemashift.alembic.plan_revision import RevisionPlanError, plan_revision
from schemashift.model import Phase

pytestmark = pytest.mark.postgres

V2 = V1.replace('"name", sa.String(50)', '"full_name", sa.String(80)')
V1_COLUMNS = {"id": False, "name": False, "email": True, "legacy": False}
V2_COLUMNS = {"id": False, "full_name": False, "email": True, "legacy": False}


def run(p: Project, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SCHEMASHIFT_DEBUG", "SCHEMASHIFT_DATABASE_URL")}  # fmt: skip
    if url:
        env["SCHEMASHIFT_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=p.root, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def versions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}


def rename_pair(p: Project) -> tuple[str, str]:
    result = generate(p, V2)
    assert result.expand is not None and result.contract is not None
    return result.expand.revision, result.contract.revision


def test_plan_of_a_revision_pair(project: Project) -> None:  # noqa: F811
    p = project
    before = versions(p.engine)
    expand, contract = rename_pair(p)
    plan = plan_revision(p.ini, contract, "postgres")
    assert plan.migration == contract
    assert plan_revision(p.ini, expand, "postgres").checksum == plan.checksum  # either id
    assert plan.phases_present == (Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT)
    # One recipe book: the revision pair runs the same rename strategy a .sql file gets,
    # step for step (its checks, the copy and trigger, the backfill, verify, contract).
    from schemashift.config import Config
    from schemashift.phases.planner import plan_sql

    same = plan_sql("ALTER TABLE users RENAME COLUMN name TO full_name", "x",
                    Config().with_overrides(dialect="postgres"))  # fmt: skip
    ours = [s for s in plan.steps if not s.description.startswith(("alembic_version", "LockTimeout"))]
    assert [(s.phase, s.description, s.sql, s.rollback) for s in ours[:len(same.steps)]] == \
        [(s.phase, s.description, s.sql, s.rollback) for s in same.steps]  # fmt: skip
    assert any("ADD COLUMN IF NOT EXISTS full_name" in sql for s in ours for sql in s.sql)
    (_, backfill), = plan.phase(Phase.BACKFILL)  # fmt: skip
    assert backfill.backfill is not None and backfill.backfill.table == "users"
    contract_steps = [s for _, s in plan.phase(Phase.CONTRACT)]
    assert any("DROP COLUMN name" in sql for s in contract_steps for sql in s.sql)
    # the model's wider type for the renamed column, once the trigger is gone
    assert any("TYPE VARCHAR(80)" in sql for s in contract_steps for sql in s.sql)
    stamp = plan.phase(Phase.EXPAND)[-1][1]
    old_expand = (before - {p.contract_root}).pop()
    # set-based, as Alembic's head bookkeeping: the parent's row goes, the revision's comes
    assert stamp.sql[0] == f"DELETE FROM alembic_version WHERE version_num IN ('{old_expand}')"
    assert f"SELECT '{expand}' WHERE NOT EXISTS" in stamp.sql[1]
    assert stamp.verify is not None and "UNION ALL" in stamp.verify.sql
    assert stamp.rollback and expand in stamp.rollback[0]
    # a lone expand revision (v1's) is a one-phase plan named after itself
    lone = plan_revision(p.ini, old_expand, "postgres")
    assert lone.migration == old_expand and lone.phases_present == (Phase.EXPAND,)
    with pytest.raises(RevisionPlanError, match="not a revision"):
        plan_revision(p.ini, "nosuchrev", "postgres")


def test_the_whole_story_through_the_cli(project: Project, fresh_url: str) -> None:  # noqa: F811
    p, url = project, project.url
    expand, contract = rename_pair(p)
    shown = ok(run(p, "plan", contract))
    assert f"plan {contract}" in shown and "BACKFILL" in shown and "CONTRACT" in shown
    ok(run(p, "expand", contract, url=url))
    assert p.columns() == {**V1_COLUMNS, "full_name": True}
    assert versions(p.engine) == {expand, p.contract_root}
    # both app versions write while they run side by side
    p.sql("INSERT INTO users (name, legacy) VALUES ('old app', 'l')")
    p.sql("INSERT INTO users (full_name, legacy) VALUES ('new app', 'l')")
    p.sql("UPDATE users SET name = 'n1 renamed' WHERE id = 1")
    p.sql("UPDATE users SET full_name = 'n2 renamed' WHERE id = 2")
    # contract is gated on the phases before it
    refused = run(p, "contract", contract, url=url)
    assert refused.returncode == 3 and "run backfill first" in refused.stderr
    ok(run(p, "backfill", contract, "--batch-size", "7", url=url))
    assert p.sql("SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name")[0][0] == 0
    ok(run(p, "verify", expand, url=url))  # the expand id names the same migration
    assert "contract ok" in ok(run(p, "contract", contract, url=url))
    assert p.columns() == V2_COLUMNS
    names = {r[0] for r in p.sql("SELECT full_name FROM users")}
    assert {"n5", "n25", "old app", "new app", "n1 renamed", "n2 renamed"} <= names
    assert len(names) == 27
    assert p.sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal") == []
    # Alembic's bookkeeping is what a plain `alembic upgrade heads` leaves behind …
    p.upgrade("heads", fresh_url)
    fresh = sa.create_engine(fresh_url, poolclass=sa.pool.NullPool)
    try:
        assert versions(p.engine) == versions(fresh) == {contract}
    finally:
        fresh.dispose()
    # … so upgrading afterwards runs nothing (it would fail re-adding full_name)
    p.upgrade("heads")
    assert versions(p.engine) == {contract} and p.columns() == V2_COLUMNS
    command.check(p.config())
    status = ok(run(p, "status", url=url))
    assert contract in status and "done" in status


def test_rollback_after_expand(project: Project) -> None:  # noqa: F811
    p, url = project, project.url
    before = versions(p.engine)
    expand, contract = rename_pair(p)
    ok(run(p, "expand", expand, url=url))
    assert "full_name" in p.columns() and versions(p.engine) == {expand, p.contract_root}
    p.sql("INSERT INTO users (full_name, legacy) VALUES ('new app', 'l')")
    assert "rolled back" in ok(run(p, "rollback", contract, url=url))
    assert p.columns() == V1_COLUMNS
    assert versions(p.engine) == before
    assert p.sql("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")[0][0] == 0
    assert p.sql("SELECT count(*) FROM users WHERE name = 'new app'")[0][0] == 1
    # Alembic sees the pair as not applied: `upgrade heads` applies both
    p.upgrade("heads")
    assert p.columns() == V2_COLUMNS and versions(p.engine) == {contract}


def test_database_url_from_the_alembic_config_and_errors(project: Project) -> None:  # noqa: F811
    p = project
    _, contract = rename_pair(p)
    # no --database-url, no SCHEMASHIFT_DATABASE_URL: the Alembic config's sqlalchemy.url
    ok(run(p, "expand", contract))
    assert "full_name" in p.columns()
    for args in (("expand", "nosuchrev"), ("backfill", "nosuchrev")):
        proc = run(p, *args)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("schemashift: error: nosuchrev")
    outside = subprocess.run([sys.executable, "-m", "schemashift", "expand", "abc123"],
                             cwd=p.root.parent, capture_output=True, text=True,
                             check=False)  # fmt: skip
    assert outside.returncode == 2 and "no Alembic project" in outside.stderr
    assert "Traceback" not in outside.stderr
