"""schemashift as a real Alembic plugin: the ``alembic.plugins`` entry point registers
``op.schemashift_*`` when Alembic is imported (a revision needs no import), ``init`` adds a
post-write hook that lints each revision ``alembic revision`` writes, and ``lint`` takes
revision files as paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop"
BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMASHIFT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if url:
        env["SCHEMASHIFT_DATABASE_URL"] = url
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def shop(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    return project


def test_importing_alembic_registers_the_operations_and_stays_light() -> None:
    code = ("import sys, alembic\nfrom alembic.operations import Operations\n"
            "print(all(hasattr(Operations, n) for n in ('schemashift_change', "
            "'schemashift_backfill', 'schemashift_verify', 'schemashift_sync_trigger')), "
            "'sqlglot' in sys.modules)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "False"]


def test_init_adds_the_post_write_hook_and_it_lints_the_new_revision(tmp_path: Path) -> None:
    project = shop(tmp_path)
    out = run(["schemashift", "init", "--dialect", "postgres"], project)
    assert out.returncode == 0 and "post-write hook" in out.stdout
    ini = (project / "alembic.ini").read_text()
    assert "hooks = schemashift" in ini
    assert "schemashift.options = lint --alembic-config %(here)s/alembic.ini " \
           "REVISION_SCRIPT_FILENAME" in ini  # fmt: skip
    again = run(["schemashift", "init", "--dialect", "postgres"], project)
    assert again.returncode == 0 and (project / "alembic.ini").read_text() == ini  # idempotent
    written = run(["alembic", "revision", "-m", "empty", "--head", "expand@head"], project)
    assert written.returncode == 0, written.stderr
    assert "Running post write hook 'schemashift'" in written.stdout + written.stderr
    assert "1 revision(s) read" in written.stdout + written.stderr


def test_lint_takes_revision_files(tmp_path: Path) -> None:
    project = shop(tmp_path)
    one = run(["schemashift", "lint", "--alembic-config", "alembic.ini",
               "migrations/versions/0003_rename_user_name.py"], project)  # fmt: skip
    assert one.returncode == 1 and "SS101" in one.stdout
    assert "1 revision(s) read" in one.stdout and "0002" not in one.stdout
    bad = run(["schemashift", "lint", "--alembic-config", "alembic.ini", "nope.py"], project)
    assert bad.returncode == 2 and "not a revision file" in bad.stderr


@pytest.mark.postgres
def test_a_revision_uses_schemashift_change_without_an_import(tmp_path: Path,
                                                            postgres_url: str) -> None:  # fmt: skip
    """Under plain `alembic upgrade`, as a user writes it by hand: no import line."""
    project = shop(tmp_path)
    assert run(["alembic", "upgrade", "head"], project, postgres_url).returncode == 0
    assert run(["schemashift", "init"], project, postgres_url).returncode == 0
    assert run(["alembic", "upgrade", "heads"], project, postgres_url).returncode == 0
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (email, full_name, phone) "
                             "VALUES ('a@x', 'A', '+1 555')"))  # fmt: skip
    made = run(["alembic", "revision", "-m", "rename phone", "--head", "expand@head"], project)
    path = Path(next(line.split("Generating ", 1)[1].split(" ...")[0]
                     for line in (made.stdout + made.stderr).splitlines()
                     if "Generating " in line))  # fmt: skip
    text = path.read_text()
    body = textwrap.indent('op.schemashift_change("ALTER TABLE users RENAME COLUMN phone TO '
                           'phone_number", "expand")', "    ")  # fmt: skip
    text = text.replace("def upgrade() -> None:\n    \"\"\"Upgrade schema.\"\"\"\n    pass",
                        f"def upgrade() -> None:\n{body}")  # fmt: skip
    text = text.replace("def upgrade() -> None:\n    pass", f"def upgrade() -> None:\n{body}")
    assert "schemashift_change" in text and "import schemashift" not in text
    path.write_text(text)
    up = run(["alembic", "upgrade", "heads"], project, postgres_url)
    assert up.returncode == 0, up.stderr
    with engine.connect() as conn:
        rows = list(conn.execute(sa.text("SELECT phone, phone_number FROM users")))
        triggers = list(conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))  # fmt: skip
    engine.dispose()
    assert rows == [("+1 555", "+1 555")]  # the copy, backfilled
    assert triggers  # the sync trigger keeps both columns equal until contract
