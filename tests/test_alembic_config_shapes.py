"""How an Alembic project is found and read: ``version_locations`` (several directories,
every separator Alembic knows, ``recursive_version_locations``), ``%(here)s``,
``[tool.alembic]`` in pyproject.toml (Alembic 1.16+), and several script directories in
one repository. Each count is checked against Alembic's own ``ScriptDirectory`` walk, and
lines in the lint JSON against the revision file."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from test_alembic_history import cli, rev

from schemashift.alembic.lint import lint_history
from schemashift.config import Config


def _write(directory: Path, name: str, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(body)


def _scaffold(root: Path, location: str = "migrations") -> Path:
    """A script directory whose env.py would fail if anyone ran it."""
    scripts = root / location
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text("raise RuntimeError('env.py must not run')\n")
    (scripts / "script.py.mako").write_text("")
    return scripts


def _chain(dirs: list[Path], prefix: str = "r") -> list[str]:
    """One revision per directory, each on the one before: ids in order."""
    ids: list[str] = []
    for n, directory in enumerate(dirs, 1):
        rev_id = f"{prefix}{n}"
        body = (f"op.create_table('t_{rev_id}', sa.Column('id', sa.Integer, primary_key=True))"
                if n == 1 else f"op.add_column('t_{prefix}1', sa.Column('c{n}', sa.Integer))")
        _write(directory, rev_id, rev(rev_id, ids[-1] if ids else None, body))
        ids.append(rev_id)
    return ids


def _alembic_walk(cfg: AlembicConfig) -> list[str]:
    """The revisions as Alembic itself reads the config, oldest first."""
    script = ScriptDirectory.from_config(cfg)
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def _linted(config: Path, cwd: Path, *args: str) -> dict[str, object]:
    proc = cli("lint", "--alembic-config", str(config), "--format", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def _revisions(doc: dict[str, object]) -> list[str]:
    revisions = doc["revisions"]
    assert isinstance(revisions, list)
    assert all(r["status"] == "analysed" for r in revisions), revisions
    return [r["revision"] for r in revisions]


@pytest.mark.parametrize("separator", ["space", "os", "newline", ";", None])
def test_version_locations_relative_to_here(tmp_path: Path, separator: str | None) -> None:
    """Several version directories under %(here)s, read from another working directory
    (%(here)s is the ini's directory, not the cwd) with each path_separator Alembic knows
    (None: the legacy split on spaces and commas)."""
    project = tmp_path / "proj"
    scripts = _scaffold(project)
    dirs = [scripts / "versions", project / "extra" / "a", project / "extra" / "b"]
    ids = _chain(dirs)
    paths = [f"%(here)s/{d.relative_to(project)}" for d in dirs]
    joined = {"space": " ", "os": ":", "newline": "\n    ", ";": ";", None: ", "}[separator]
    lines = ["[alembic]", "script_location = %(here)s/migrations",
             "version_locations = " + joined.join(paths)]
    if separator is not None:
        lines.append(f"path_separator = {separator}")
    ini = project / "alembic.ini"
    ini.write_text("\n".join(lines) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _alembic_walk(AlembicConfig(str(ini))) == ids
    assert _revisions(_linted(ini, elsewhere)) == ids


def test_recursive_version_locations(tmp_path: Path) -> None:
    scripts = _scaffold(tmp_path)
    versions = scripts / "versions"
    ids = _chain([versions, versions / "2024" / "q1", versions / "2025"])
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\n"
                   "recursive_version_locations = true\n")  # fmt: skip
    assert _alembic_walk(AlembicConfig(str(ini))) == ids
    assert _revisions(_linted(ini, tmp_path)) == ids


TOOL_ALEMBIC = """
    [tool.alembic]
    script_location = "%(here)s/migrations"
    version_locations = ["%(here)s/migrations/versions", "%(here)s/more"]
"""


def test_tool_alembic_in_pyproject(tmp_path: Path) -> None:
    """Alembic 1.16+ reads [tool.alembic]; `schemashift lint` with no arguments finds it,
    and its list of version_locations is read with %(here)s as the file's directory."""
    scripts = _scaffold(tmp_path)
    ids = _chain([scripts / "versions", tmp_path / "more"])
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(textwrap.dedent(TOOL_ALEMBIC))
    assert _alembic_walk(AlembicConfig(toml_file=str(pyproject))) == ids
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    assert _revisions(_linted(pyproject, elsewhere)) == ids
    proc = cli("lint", "--format", "json", cwd=tmp_path)  # found in the working directory
    assert proc.returncode in (0, 1), proc.stderr
    assert _revisions(json.loads(proc.stdout)) == ids


def test_alembic_ini_with_tool_alembic_beside_it(tmp_path: Path) -> None:
    """Alembic's `pyproject` template: alembic.ini holds only the database URL and logging,
    script_location is in pyproject.toml; Alembic reads both, and so do we."""
    scripts = _scaffold(tmp_path)
    ids = _chain([scripts / "versions", tmp_path / "more"])
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(TOOL_ALEMBIC))
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nsqlalchemy.url = postgresql://nobody@unreachable.invalid/db\n")
    both = AlembicConfig(str(ini), toml_file=str(tmp_path / "pyproject.toml"))
    assert _alembic_walk(both) == ids
    assert _revisions(_linted(ini, tmp_path)) == ids
    # Without [tool.alembic] there is no script_location: one line, exit 2.
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    proc = cli("lint", "--alembic-config", str(ini), cwd=tmp_path)
    assert proc.returncode == 2 and "script_location" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_several_script_directories_in_one_repository(tmp_path: Path) -> None:
    """Two Alembic projects side by side (one database each): each config reads its own
    script directory only, as `alembic -c` does."""
    for name, prefix in (("billing", "b"), ("users", "u")):
        root = tmp_path / name
        scripts = _scaffold(root, "alembic")
        ids = _chain([scripts / "versions", scripts / "versions"], prefix)
        (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
        assert _alembic_walk(AlembicConfig(str(root / "alembic.ini"))) == ids
        assert _revisions(_linted(root / "alembic.ini", tmp_path)) == ids


def test_since_git_looks_in_every_version_location(tmp_path: Path) -> None:
    """--since-git with several version_locations (Alembic's ScriptDirectory.versions
    refuses them): a new revision in the second directory is the one linted."""
    scripts = _scaffold(tmp_path)
    second = tmp_path / "second"
    ids = _chain([scripts / "versions", second])
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
        "version_locations = %(here)s/migrations/versions %(here)s/second\n"
        "path_separator = space\n"
    )
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    _write(second, "r3", rev("r3", ids[-1], "op.drop_column('t_r1', 'c2')"))
    doc = _linted(tmp_path / "alembic.ini", tmp_path, "--since-git", "main")
    assert _revisions(doc) == ["r3"]


def test_get_bind_execute_is_reported_at_its_own_line(tmp_path: Path) -> None:
    """SQL run through ``op.get_bind().execute(text(...))`` is at the line of that call in
    the lint JSON, also between batch operations (whose SQL comes out when the block ends,
    each at its own line)."""
    scripts = _scaffold(tmp_path)
    body = rev("a1", None, """
        op.create_table('t', sa.Column('id', sa.Integer, primary_key=True),
                        sa.Column('a', sa.Integer), sa.Column('b', sa.Integer))
        conn = op.get_bind()
        conn.execute(
            sa.text("UPDATE t SET a = 1 WHERE a IS NULL")
        )  # the statement of the call above
        with op.batch_alter_table('t') as batch:
            batch.add_column(sa.Column('z', sa.Integer))
            op.get_bind().execute(sa.text("UPDATE t SET b = 2"))
            batch.drop_column('a')
        op.get_bind().exec_driver_sql("DELETE FROM t WHERE b = 3")
    """)
    _write(scripts / "versions", "a1", body)
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    text = (scripts / "versions" / "a1.py").read_text().splitlines()

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(text, 1) if fragment in line)

    for dialect in ("postgres", "mysql", "sqlite"):
        doc = _linted(ini, tmp_path, "--dialect", dialect)
        assert _revisions(doc) == ["a1"]
        statements = doc["statements"]
        assert isinstance(statements, list)
        at = {" ".join(s["sql"].split()): s["line"] for s in statements}
        assert at["UPDATE t SET a = 1 WHERE a IS NULL"] == line_of("conn.execute("), (dialect, at)
        assert at["UPDATE t SET b = 2"] == line_of("op.get_bind().execute("), (dialect, at)
        assert at["DELETE FROM t WHERE b = 3"] == line_of("exec_driver_sql"), (dialect, at)
        if dialect != "sqlite":  # SQLite copies the table: one statement set at the flush
            assert at["ALTER TABLE t ADD COLUMN z INTEGER"] == line_of("batch.add_column")
            assert at["ALTER TABLE t DROP COLUMN a"] == line_of("batch.drop_column")


def test_lint_history_counts_match_alembic_for_the_shop_example() -> None:
    shop = Path(__file__).parent.parent / "examples" / "shop" / "alembic.ini"
    report = lint_history(shop, Config())
    assert [r.revision for r in report.revisions or ()] == _alembic_walk(AlembicConfig(str(shop)))
