"""The CI doors (docs/ci.md): the pre-commit hooks and the GitHub Action, run for real.

pre-commit clones its hook repository at a commit, so the hooks are tried from a scratch
repository holding this checkout's package and .pre-commit-hooks.yaml, committed there
(``try-repo`` on the checkout itself would see only committed and modified tracked files).
``try-repo`` builds a fresh hook environment on every call (a store of its own), so it runs
twice, for the SQL hook; the rest goes through ``pre-commit run`` with a config naming the
same repository and commit, whose one environment (one PRE_COMMIT_HOME per test run, shared
by the xdist workers) serves both hooks. pip installs from the configured package index.

The Action is run as the runner would: each ``run:`` step in bash with GitHub's variables
and its ``${{ }}`` expressions substituted, in a scratch repository with a base branch and a
pull request branch; ``uses:`` steps are skipped (setup-python: the test's own virtualenv
is the Python on PATH; upload-sarif: its input file is checked instead).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
# The hook and Action installs use pip as configured (the package index); skipping the
# byte-compilation of every installed module saves a fifth of their time.
FAST_PIP = {"PIP_NO_COMPILE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
# What the hook repository and the Action's pip install need of this checkout.
PACKAGE_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "action.yml")
GIT = ("git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c",
       "init.defaultBranch=main", "-c", "commit.gpgsign=false")  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this test run that every xdist worker sees."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def once(shared: Path, name: str, build: Callable[[Path], object]) -> Path:
    """``shared/name``, built by the first worker that needs it."""
    path = shared / name
    with locked(shared / f"{name}.lock"):
        if not (path / ".done").exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            build(path)
            (path / ".done").touch()
    return path


def _build_hook_repo(repo: Path) -> None:
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(ROOT / "schemashift", repo / "schemashift",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    (repo / ".gitignore").write_text(".done\nbuild/\n*.egg-info/\n")
    git(repo, "init", "-q")
    commit_all(repo, "schemashift at the state under test")


@pytest.fixture(scope="session")
def hook_repo(shared: Path) -> Path:
    return once(shared, "hook-repo", _build_hook_repo)


@pytest.fixture(scope="session")
def pre_commit_env(shared: Path) -> dict[str, str]:
    home = shared / "pre-commit-home"  # pre-commit locks its store itself
    home.mkdir(exist_ok=True)
    return {**os.environ, **FAST_PIP, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}


def pre_commit(
    env: Mapping[str, str], project: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("pre-commit")), *args],
                          cwd=project, env=dict(env), capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def try_repo(env: Mapping[str, str], project: Path, hook_repo: Path, hook: str,
             *files: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return pre_commit(env, project, "try-repo", str(hook_repo), hook, "--files", *files)


def use_hooks(project: Path, hook_repo: Path) -> None:
    """A .pre-commit-config.yaml with both hooks, as a project writes it (pinned to a commit)."""
    config = {"repos": [{"repo": str(hook_repo), "rev": git(hook_repo, "rev-parse", "HEAD"),
                         "hooks": [{"id": "schemashift-lint"}, {"id": "schemashift-alembic"}]}]}  # fmt: skip
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))


SAFE_SQL = (
    "SET lock_timeout = '1s';\n"
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_email ON users (email);\n"
)
BREAKING_SQL = "ALTER TABLE users RENAME COLUMN name TO full_name;\n"


def test_pre_commit_lint_hook_fails_on_a_breaking_migration_only(
    hook_repo: Path, pre_commit_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_index.sql").write_text(SAFE_SQL)
    (tmp_path / "migrations" / "002_rename.sql").write_text(BREAKING_SQL)
    git(tmp_path, "init", "-q")
    commit_all(tmp_path, "migrations")

    safe = try_repo(pre_commit_env, tmp_path, hook_repo, "schemashift-lint",
                    "migrations/001_index.sql")  # fmt: skip
    assert safe.returncode == 0, safe.stdout + safe.stderr
    assert re.search(r"schemashift lint \(SQL migrations\)\.+Passed", safe.stdout)

    breaking = try_repo(pre_commit_env, tmp_path, hook_repo, "schemashift-lint",
                        "migrations/001_index.sql", "migrations/002_rename.sql")  # fmt: skip
    assert breaking.returncode == 1, breaking.stdout + breaking.stderr
    assert re.search(r"schemashift lint \(SQL migrations\)\.+Failed", breaking.stdout)
    assert "migrations/002_rename.sql" in breaking.stdout
    assert "error   SS101 rename-column" in breaking.stdout


ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
path_separator = os
sqlalchemy.url = sqlite:///%(here)s/app.db
"""


def revision(rev: str, down: str | None, body: str) -> str:
    return textwrap.dedent(f'''\
        """{rev}"""
        from alembic import op
        import sqlalchemy as sa

        revision = "{rev}"
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade() -> None:
            {body}


        def downgrade() -> None:
            pass
    ''')


def alembic_project(root: Path) -> Path:
    """alembic.ini, an env.py that is never run (the history is read offline), and a first
    revision creating users."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    (root / "migrations" / "env.py").write_text("raise RuntimeError('env.py is not run')\n")
    (versions / "0001_users.py").write_text(revision("0001_users", None, (
        'op.create_table("users", sa.Column("id", sa.BigInteger(), primary_key=True), '
        'sa.Column("name", sa.Text(), nullable=False))')))  # fmt: skip
    return versions


def test_pre_commit_alembic_hook_fails_on_a_breaking_revision_only(
    hook_repo: Path, pre_commit_env: dict[str, str], tmp_path: Path
) -> None:
    versions = alembic_project(tmp_path)
    (versions / "0002_email.py").write_text(revision("0002_email", "0001_users",
        'op.add_column("users", sa.Column("email", sa.Text(), nullable=True))'))  # fmt: skip
    (versions / "0003_rename.py").write_text(revision("0003_rename", "0002_email",
        'op.alter_column("users", "name", new_column_name="full_name")'))  # fmt: skip
    (tmp_path / "app.py").write_text("print('not a revision')\n")
    use_hooks(tmp_path, hook_repo)
    git(tmp_path, "init", "-q")
    commit_all(tmp_path, "history")

    def run_hook(hook: str, *files: str) -> subprocess.CompletedProcess[str]:
        return pre_commit(pre_commit_env, tmp_path, "run", hook, "--files", *files)

    safe = run_hook("schemashift-alembic", "migrations/versions/0002_email.py", "app.py")
    assert safe.returncode == 0, safe.stdout + safe.stderr
    assert re.search(r"schemashift lint \(Alembic revisions\)\.+Passed", safe.stdout)

    breaking = run_hook("schemashift-alembic", "migrations/versions/0003_rename.py")
    assert breaking.returncode == 1, breaking.stdout + breaking.stderr
    assert "migrations/versions/0003_rename.py" in breaking.stdout
    assert "error   SS101 rename-column" in breaking.stdout
    assert "app.py" not in breaking.stdout

    not_a_revision = run_hook("schemashift-alembic", "app.py")
    assert not_a_revision.returncode == 0
    assert "(no files to check)Skipped" in not_a_revision.stdout
    not_sql = run_hook("schemashift-lint", "migrations/versions/0003_rename.py", "app.py")
    assert not_sql.returncode == 0 and "(no files to check)Skipped" in not_sql.stdout


# --------------------------------------------------------------------------- the Action

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    """Runs action.yml's steps as GitHub's runner does, for one workflow run."""

    def __init__(self, workspace: Path, temp: Path, action_path: Path, python_bin: Path,
                 inputs: Mapping[str, str]) -> None:  # fmt: skip
        declared = ACTION["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        self.inputs.update(inputs)
        self.outputs: dict[str, dict[str, str]] = {}
        self.temp = temp
        self.summary = temp / "step_summary.md"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))},
            "PATH": f"{python_bin}{os.pathsep}{os.environ['PATH']}",
            **FAST_PIP,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(action_path),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_BASE_REF": "main",
            "GITHUB_HEAD_REF": "feature",
            "GITHUB_REF": "refs/pull/7/merge",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(temp),
        }
        self.skipped: list[str] = []

    def value(self, expr: str) -> str:
        """One ``${{ }}`` operand: inputs.X, steps.ID.outputs.X or a quoted string."""
        if expr.startswith("inputs."):
            return self.inputs[expr.removeprefix("inputs.")]
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if m:
            return self.outputs.get(m.group(1), {}).get(m.group(2), "")
        m = re.fullmatch(r"'([^']*)'", expr)
        assert m, f"expression this test does not evaluate: {expr}"
        return m.group(1)

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text: str) -> bool:
        """``a == 'b' && c != ''``: the only shape of ``if:`` action.yml uses."""
        expr = EXPRESSION.fullmatch(text.strip())
        terms = (expr.group(1) if expr else text).split("&&")
        for term in terms:
            left, op, right = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", term).groups()  # type: ignore[union-attr]
            if (self.value(left) == self.value(right)) != (op == "=="):
                return False
        return True

    def run(self, start_at: str | None = None) -> tuple[int, str]:
        """The steps in order (from the one whose id is ``start_at``); the exit code of the
        first failing one (else 0) and the log."""
        log = []
        steps = ACTION["runs"]["steps"]
        first = next(n for n, s in enumerate(steps) if s.get("id") == start_at) if start_at else 0
        assert ACTION["runs"]["using"] == "composite"
        for n, step in enumerate(steps):
            if n < first:
                continue
            if "if" in step and not self.condition(str(step["if"])):
                continue
            if "uses" in step:
                self.skipped.append(step["uses"])
                continue
            assert step["shell"] == "bash"
            output = self.temp / f"output_{n}"
            output.touch()
            script = self.temp / f"step_{n}.sh"
            script.write_text(self.substitute(step["run"]))
            env = {**self.env, "GITHUB_OUTPUT": str(output),
                   **{k: self.substitute(str(v)) for k, v in step.get("env", {}).items()}}  # fmt: skip
            # How GitHub runs `shell: bash`.
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail",
                                   str(script)], cwd=self.env["GITHUB_WORKSPACE"], env=env,
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            log.append(proc.stdout + proc.stderr)
            if "id" in step:
                self.outputs[step["id"]] = dict(
                    line.split("=", 1) for line in output.read_text().splitlines() if line
                )
            if proc.returncode != 0:
                return proc.returncode, "".join(log)
        return 0, "".join(log)


@pytest.fixture
def action_python(shared: Path) -> Iterator[Path]:
    """A fresh virtualenv standing for setup-python's: the install step fills it. One per
    test run, used by one test at a time (two pip installs into it at once would race)."""
    venv = once(shared, "action-venv", lambda path: subprocess.run(  # virtualenv: no ensurepip
        [sys.executable, "-m", "virtualenv", "-q", str(path)], check=True))  # fmt: skip
    with locked(shared / "action-venv.busy"):
        yield venv / "bin"


def pull_request(repo: Path, base: Callable[[Path], object], pr: Callable[[Path], object],
                 after_fork: Callable[[Path], object]) -> None:  # fmt: skip
    """main with ``base``, a feature branch adding ``pr`` (checked out), and ``after_fork``
    landing on main meanwhile; origin/main as actions/checkout with fetch-depth 0 has it."""
    repo.mkdir()
    git(repo, "init", "-q")
    base(repo)
    commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    pr(repo)
    commit_all(repo, "the pull request")
    git(repo, "checkout", "-q", "main")
    after_fork(repo)
    commit_all(repo, "landed on main after the fork")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "feature")


def annotations_in(log: str) -> list[dict[str, Any]]:
    out = []
    for m in re.finditer(r"^::(error|warning|notice) ([^:]*)::(.*)$", log, re.MULTILINE):
        props = dict(p.split("=", 1) for p in m.group(2).split(","))
        out.append({"level": m.group(1), **props, "message": m.group(3)})
    return out


def test_action_lints_what_the_pull_request_changed_and_writes_sarif(
    hook_repo: Path, action_python: Path, tmp_path: Path
) -> None:
    def base(repo: Path) -> None:
        (repo / "migrations").mkdir()
        (repo / "migrations" / "000_legacy.sql").write_text("ALTER TABLE legacy DROP COLUMN x;\n")
        (repo / "migrations" / "001_users.sql").write_text(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n")  # fmt: skip

    def pr(repo: Path) -> None:
        (repo / "migrations" / "002_rename.sql").write_text(
            "-- the new account page\n" + BREAKING_SQL)  # fmt: skip
        (repo / "migrations" / "003_index.sql").write_text(SAFE_SQL)
        (repo / "notes.txt").write_text("not a migration\n")

    def after_fork(repo: Path) -> None:  # changed on main only: not the PR's to answer for
        with (repo / "migrations" / "000_legacy.sql").open("a") as f:
            f.write("-- reviewed\n")

    repo = tmp_path / "repo"
    pull_request(repo, base, pr, after_fork)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = Runner(
        repo,
        temp,
        hook_repo,
        action_python,
        {"paths": "migrations", "upload-sarif": "true", "dialect": "postgres"},
    )
    code, log = runner.run()

    assert code == 1, log  # the last step fails the job on SS101
    assert runner.skipped == ["actions/setup-python@v5", "github/codeql-action/upload-sarif@v3"]
    assert runner.outputs["lint"]["exit-code"] == "1"
    found = annotations_in(log)
    assert found, log
    assert {a["file"] for a in found} == {"migrations/002_rename.sql"}
    rename = next(a for a in found if a["title"] == "SS101 rename-column")
    assert rename["level"] == "error" and rename["line"] == "2"

    sarif_file = Path(runner.outputs["lint"]["sarif-file"])
    assert sarif_file.parent == temp
    sarif = json.loads(sarif_file.read_text())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in results for loc in r["locations"]}  # fmt: skip
    assert uris == {"migrations/002_rename.sql"}
    assert "SS101" in {r["ruleId"] for r in results}

    summary = runner.summary.read_text()
    assert "### schemashift lint" in summary
    assert "- `migrations/002_rename.sql`\n- `migrations/003_index.sql`" in summary
    assert "000_legacy" not in summary and "schemashift: 1 error" in summary


# The next tests start at the lint step, with this checkout's schemashift on PATH: the
# install step is the first test's.
CHECKOUT_BIN = Path(sys.executable).parent


def test_action_passes_a_safe_alembic_pull_request(hook_repo: Path, tmp_path: Path) -> None:
    def base(repo: Path) -> None:
        versions = alembic_project(repo)
        (versions / "0002_rename.py").write_text(revision("0002_rename", "0001_users",
            'op.alter_column("users", "name", new_column_name="full_name")'))  # fmt: skip

    def pr(repo: Path) -> None:
        (repo / "migrations" / "versions" / "0003_email.py").write_text(revision(
            "0003_email", "0002_rename",
            'op.add_column("users", sa.Column("email", sa.Text(), nullable=True))'))  # fmt: skip

    repo = tmp_path / "repo"
    pull_request(repo, base, pr, lambda repo: (repo / "README").write_text("main moved on\n"))
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = Runner(repo, temp, hook_repo, CHECKOUT_BIN, {"alembic-config": "alembic.ini"})
    code, log = runner.run(start_at="lint")

    assert code == 0, log
    assert runner.skipped == []  # upload-sarif: not asked for
    assert runner.outputs["lint"] == {"exit-code": "0"}
    # 0002 (breaking, already on main) is not the pull request's: only 0003 is linted.
    found = annotations_in(log)
    assert {a["file"] for a in found} <= {"migrations/versions/0003_email.py"}
    assert [a for a in found if a["level"] == "error"] == []
    assert re.search(r"schemashift: 0 errors, .* in 1 statement \(0 breaking", log), log
    assert "schemashift: 0 errors" in runner.summary.read_text()


def test_action_refuses_paths_and_alembic_config_together(hook_repo: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    pull_request(repo, lambda r: (r / "a.sql").write_text("SELECT 1;\n"),
                 lambda r: (r / "b.sql").write_text("SELECT 2;\n"), lambda r: None)  # fmt: skip
    (tmp_path / "t").mkdir()
    runner = Runner(
        repo,
        tmp_path / "t",
        hook_repo,
        CHECKOUT_BIN,
        {"paths": ".", "alembic-config": "alembic.ini"},
    )
    code, log = runner.run(start_at="lint")
    assert code == 2
    assert "::error::schemashift: set either paths or alembic-config" in log


@pytest.mark.parametrize("inputs", [{"paths": "migrations"},
                                    {"paths": "migrations", "base-ref": "no-such-ref"}])
def test_action_fails_closed_when_the_base_does_not_resolve(
    hook_repo: Path, tmp_path: Path, inputs: dict[str, str]
) -> None:
    """A base branch that cannot be fetched (or a mistyped base-ref) must not turn "what
    changed" into nothing and pass a breaking migration (found by a new-user tryout)."""
    repo = tmp_path / "repo"

    def breaking(r: Path) -> None:
        (r / "migrations").mkdir(exist_ok=True)
        (r / "migrations" / "0002.sql").write_text("ALTER TABLE users RENAME COLUMN a TO b;\n")

    pull_request(repo, lambda r: (r / "README").write_text("x\n"), breaking, lambda r: None)
    (tmp_path / "t").mkdir()
    runner = Runner(repo, tmp_path / "t", hook_repo, CHECKOUT_BIN, inputs)
    if "base-ref" not in inputs:
        runner.env["GITHUB_BASE_REF"] = "releases/9"  # no such branch on origin
    code, log = runner.run(start_at="lint")
    assert code == 2, log
    assert "::error::schemashift: cannot resolve the base" in log
