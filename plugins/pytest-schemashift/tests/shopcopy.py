"""Helpers of pytest-schemashift's own tests (a module name of its own: conftest.py is
also the name of the repository's tests/conftest.py): database servers, and copies of
examples/shop made ready for expand/contract (init, then a rename pair written by
``schemashift revision``), as the walk-through in examples/shop/README.md does.

The servers: ``SCHEMASHIFT_TEST_POSTGRES_URL`` / ``SCHEMASHIFT_TEST_MYSQL_URL``, else the
usual local addresses. An unreachable server skips the test, or fails it when
``SCHEMASHIFT_REQUIRE_DB=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_schemashift.databases import DatabaseProblem, throwaway_database

ROOT = Path(__file__).resolve().parents[3]
SHOP = ROOT / "examples" / "shop"
BIN = Path(sys.executable).parent
SERVERS = {
    "postgres": ("SCHEMASHIFT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": ("SCHEMASHIFT_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
# The rename `schemashift revision -m "rename users.phone"` splits into a pair.
PAIR = "rename users.phone"


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: none of the test run's schemashift variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEMASHIFT_", "PYTEST_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = BIN / argv[0]
    proc = subprocess.run([str(exe) if exe.exists() else argv[0], *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
    return proc


_PROBED: dict[str, str | None] = {}


def server_url(kind: str) -> str:
    env, default = SERVERS[kind]
    url = os.environ.get(env) or default
    if kind not in _PROBED:
        try:
            with throwaway_database(url):
                _PROBED[kind] = None
        except DatabaseProblem as exc:
            _PROBED[kind] = str(exc)
    problem = _PROBED[kind]
    if problem is not None:
        if os.environ.get("SCHEMASHIFT_REQUIRE_DB", "").lower() in {"1", "true", "yes", "on"}:
            pytest.fail(f"{problem} (SCHEMASHIFT_REQUIRE_DB=1)", pytrace=False)
        pytest.skip(problem)
    return url


def build_shop(dest: Path, server_url: str) -> Path:
    """A copy of examples/shop at ``dest`` with expand/contract branches and the pair
    PAIR, written the way the walk-through does it (on a throw-away database)."""
    shutil.copytree(SHOP, dest, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    with throwaway_database(server_url) as url:
        env = {**clean_env(), "SCHEMASHIFT_DATABASE_URL": url}
        run(["alembic", "upgrade", "head"], dest, env)
        run(["schemashift", "init"], dest, env)
        run(["alembic", "upgrade", "heads"], dest, env)
        models = dest / "shop" / "models.py"
        models.write_text(models.read_text().replace("    phone:", "    phone_number:"))
        run(["schemashift", "revision", "-m", PAIR], dest, env)
    return dest


_SHOPS: dict[str, Path] = {}


def shop_template(server_url: str, factory: pytest.TempPathFactory) -> Path:
    """The prepared shop for the server's kind, built once per test process and kind."""
    kind = "postgres" if server_url.startswith("postgres") else "mysql"
    if kind not in _SHOPS:
        _SHOPS[kind] = build_shop(factory.mktemp(f"shop-{kind}") / "shop", server_url)
    return _SHOPS[kind]


def copy_project(template: Path, dest: Path) -> None:
    shutil.copytree(
        template, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
