"""The README's example, run as written: its conftest.py and pyproject.toml blocks go into
a copy of the shop after the walk-through's `schemashift revision`, its command runs there
(the URL stands for the test's own server) and prints the lines the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from shopcopy import BIN, clean_env, copy_project, shop_template

README = Path(__file__).resolve().parent.parent / "README.md"
README_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def block(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->``."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\s*```\w*\n(.*?)```", README.read_text(), re.S)
    assert found, f"README.md has no block after <!-- {marker} -->"
    return found.group(1)


def expected_output() -> list[str]:
    """The text block that follows the command block."""
    text = README.read_text()
    after = text[text.index("<!-- readme-run -->") :]
    found = re.search(r"```sh\n.*?```\s*```text\n(.*?)```", after, re.S)
    assert found
    return found.group(1).splitlines()


def test_the_readme_example_runs_as_written(
    tmp_path: Path, pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project = tmp_path / "shop"
    copy_project(shop_template(pg_server, tmp_path_factory), project)
    (project / "tests").mkdir()
    (project / "tests" / "conftest.py").write_text(block("readme-example: tests/conftest.py"))
    with (project / "pyproject.toml").open("a") as f:
        f.write("\n" + block("readme-example: pyproject.toml"))
    (command,) = block("readme-run").strip().splitlines()
    assert README_URL in command
    argv = shlex.split(command.replace(README_URL, pg_server))
    argv = [str(BIN / argv[0]), "-p", "no:cacheprovider", *argv[1:]]
    proc = subprocess.run(argv, cwd=project, env=clean_env(), capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = [line for line in proc.stdout.splitlines() if "::schemashift::" in line]
    assert [re.sub(r"\s+\[\s*\d+%\]$", "", line) for line in shown] == expected_output()
