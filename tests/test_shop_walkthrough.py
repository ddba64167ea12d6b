"""examples/shop/README.md's walk-through, run line by line as a user would type it, on
real PostgreSQL and MariaDB: upgrade, init, change a model, revision, expand, deploy
record, backfill, verify, gate, contract - ending with `alembic upgrade heads` running
nothing and `alembic check` clean.

The commands are read from the README's ``<!-- walkthrough -->`` block, so the docs and
the test cannot drift apart. The test only adds what a user's app would do meanwhile:
rows in ``users`` before expand, and old- and new-app writes between the phases."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop"
README = SHOP / "README.md"
BIN = Path(sys.executable).parent


def walkthrough() -> list[tuple[str, int]]:
    """(command, expected exit code) for each line of the README's walk-through block."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```", text, re.S)
    assert block, "examples/shop/README.md has no walk-through block"
    out = []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        expected = re.search(r"#\s*exit (\d+)\s*$", line)
        command = re.sub(r"\s+#.*$", "", line) if not line.startswith("python -c") else line
        out.append((command.strip(), int(expected.group(1)) if expected else 0))
    return out


def test_the_walkthrough_block_is_what_the_test_runs() -> None:
    commands = [c for c, _ in walkthrough()]
    assert commands[0].startswith("export SCHEMASHIFT_DATABASE_URL=")
    assert "schemashift init" in commands and "schemashift contract expand@head" in commands
    assert commands[-2:] == ["alembic upgrade heads", "alembic check"]


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    exe = BIN / argv[0]
    argv[0] = str(exe) if exe.exists() else argv[0]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _users(url: str, phone: str) -> list[tuple]:  # type: ignore[type-arg]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                f"SELECT id, email, {phone} FROM users ORDER BY id"))]  # fmt: skip
    finally:
        engine.dispose()


def _sql(url: str, statement: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def walk(tmp_path: Path, url: str) -> None:
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMASHIFT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    expected_rows: list[tuple] = []  # type: ignore[type-arg]
    for command, code in walkthrough():
        if command.startswith("export "):
            name = command.split()[1].split("=", 1)[0]
            env[name] = url  # the README's URL stands for the test's own database
            continue
        if command.startswith("schemashift expand"):
            # the app has data, and the old version keeps writing `phone` meanwhile
            _sql(url, "INSERT INTO users (email, full_name, phone) VALUES "
                      "('a@x', 'A', '+1 555'), ('b@x', 'B', NULL), ('c@x', 'C', '+44 20')")  # fmt: skip
        proc = _run(command, project, env)
        assert proc.returncode == code, (command, proc.returncode, proc.stdout, proc.stderr)
        if command.startswith("schemashift expand"):
            _sql(url, "INSERT INTO users (email, full_name, phone) VALUES ('old@x', 'Old', '+33 1')")
            _sql(url, "INSERT INTO users (email, full_name, phone_number) "
                      "VALUES ('new@x', 'New', '+49 30')")  # fmt: skip
            expected_rows = _users(url, "phone")  # what the apps see as the phone
        if command == "alembic upgrade heads" and expected_rows:
            assert "Running upgrade" not in proc.stderr + proc.stdout, proc.stderr
        if command == "alembic check":
            assert "No new upgrade operations detected" in proc.stdout + proc.stderr
    # every value the old and the new app wrote is in phone_number, none lost
    assert expected_rows and _users(url, "phone_number") == expected_rows
    heads = _run("alembic heads", project, env).stdout.split()
    current = _run("alembic current", project, env).stdout.split()
    assert [h for h in heads if len(h) == 12] and set(heads) & set(current)


@pytest.mark.postgres
def test_walkthrough_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    walk(tmp_path, postgres_url)


@pytest.mark.mysql
def test_walkthrough_on_mariadb(tmp_path: Path, mysql_url: str) -> None:
    walk(tmp_path, mysql_url)
