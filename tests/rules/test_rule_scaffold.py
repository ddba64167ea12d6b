"""``schemashift new-rule`` in a copy of the source tree: the new rule is discovered, its
page and tables generate, its cases run and pass; a taken id or name is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(
    tree: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SCHEMASHIFT_UPDATE_SNAPSHOTS"}
    environ.update({"PYTHONPATH": str(tree), **(env or {})})
    return subprocess.run([sys.executable, *args], cwd=tree, env=environ, capture_output=True,
                          text=True, check=False, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "schemashift", tree / "schemashift", ignore=ignore)
    shutil.copytree(ROOT / "tests" / "rules", tree / "tests" / "rules", ignore=ignore)
    shutil.copytree(ROOT / "docs" / "rules", tree / "docs" / "rules")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    proc = _run(tree, "-m", "schemashift", "new-rule", "SS999", "drop-everything",
                "--title", "Dropping a column in a test tree", "--kind", "drop_column",
                "--severity", "error", "--dialect", "postgres", "--dialect", "mysql",
                "--root", str(tree))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "wrote schemashift/rules/ss999_drop_everything.py" in proc.stdout
    return tree


def test_new_rule_writes_module_page_and_cases(tree: Path) -> None:
    assert (tree / "schemashift/rules/ss999_drop_everything.py").is_file()
    assert (
        (tree / "schemashift/rules/pages/SS999.md")
        .read_text()
        .startswith("# SS999 drop-everything\n**Severity:** error · **Dialects:** postgres, mysql")
    )
    assert "[[fires]]" in (tree / "tests/rules/SS999.toml").read_text()


def test_new_rule_is_discovered(tree: Path) -> None:
    proc = _run(tree, "-c", "import schemashift; from schemashift.rules.registry import get_rule; "
                "r = get_rule('SS999'); print(schemashift.__file__, r.name, r.severity.value)")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    where, name, severity = proc.stdout.split()
    assert where.startswith(str(tree)) and (name, severity) == ("drop-everything", "error")


def test_new_rule_docs_generate(tree: Path) -> None:
    assert _run(tree, "-m", "schemashift.rules.docs", "--check").returncode == 1  # README stale
    assert _run(tree, "-m", "schemashift.rules.docs").returncode == 0
    check = _run(tree, "-m", "schemashift.rules.docs", "--check")
    assert check.returncode == 0, check.stderr
    assert (
        "[SS999](../../schemashift/rules/pages/SS999.md) | drop-everything"
        in (tree / "docs/rules/README.md").read_text()
    )
    explain = _run(tree, "-m", "schemashift", "explain", "SS999")
    assert explain.stdout.startswith("# SS999 drop-everything") and "<!--" not in explain.stdout


def test_new_rule_cases_run_and_snapshot(tree: Path) -> None:
    pytest_args = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   "tests/rules/test_rule_cases.py", "-k", "SS999")  # fmt: skip
    update = _run(tree, *pytest_args, env={"SCHEMASHIFT_UPDATE_SNAPSHOTS": "1"})
    assert update.returncode == 0, update.stdout + update.stderr
    assert "3 passed" in update.stdout, update.stdout  # fires, quiet, snapshot
    snapshot = (tree / "tests/rules/snapshots/SS999.txt").read_text()
    assert "error SS999: drop_column on t: Dropping a column in a test tree." in snapshot
    again = _run(tree, *pytest_args)
    assert again.returncode == 0 and "3 passed" in again.stdout, again.stdout


def test_taken_id_or_name_is_refused(tree: Path) -> None:
    same_id = _run(tree, "-m", "schemashift", "new-rule", "SS999", "other-name", "--title", "T",
                   "--root", str(tree))  # fmt: skip
    assert same_id.returncode == 2 and "SS999 exists" in same_id.stderr
    same_name = _run(tree, "-m", "schemashift", "new-rule", "SS998", "rename-column",
                     "--title", "T", "--root", str(tree))  # fmt: skip
    assert same_name.returncode == 2 and "taken by SS101" in same_name.stderr
    assert not (tree / "schemashift/rules/pages/SS998.md").exists()
