"""``schemashift init`` on real Alembic projects made by ``alembic init`` in a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from schemashift.alembic.init import CONTRACT_MESSAGE, EXPAND_MESSAGE, InitError, init_project
from schemashift.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CLI = "from schemashift.cli.alembic import init_command; init_command()"


def make_project(
    root: Path,
    revisions: tuple[str, ...] = ("aaa111", "bbb222"),
    url: str = "postgresql://",
    template: str = "generic",
) -> Path:
    """``alembic init`` plus a linear chain of empty revisions; returns alembic.ini."""
    ini = root / "alembic.ini"
    init_config = Config(str(ini), toml_file=str(root / "pyproject.toml"))
    command.init(init_config, str(root / "migrations"), template=template)
    lines = ini.read_text().splitlines(keepends=True)
    ini.write_text(
        "".join(f"sqlalchemy.url = {url}\n" if ln.startswith("sqlalchemy.url") else ln
                for ln in lines)
    )  # fmt: skip
    cfg = alembic_config(ini)
    for rev in revisions:
        command.revision(cfg, f"revision {rev}", rev_id=rev)
    return ini


def alembic_config(ini: Path) -> Config:
    pyproject = ini.parent / "pyproject.toml"
    return Config(str(ini), toml_file=str(pyproject) if pyproject.is_file() else None)


def scripts(ini: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(ini))


def revision(ini: Path, rev: str) -> Script:
    found = scripts(ini).get_revision(rev)
    assert found is not None
    return found


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def run_alembic(ini: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ini), *args],
        cwd=ini.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHEMASHIFT_DEBUG"}
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=cwd, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def assert_initialised(ini: Path, expand: str, contract: str, down: str | None) -> None:
    assert sorted(scripts(ini).get_heads()) == sorted([expand, contract])
    e, c = revision(ini, expand), revision(ini, contract)
    assert e.down_revision == down and c.down_revision == down
    assert e._orig_branch_labels == ("expand",) and c._orig_branch_labels == ("contract",)
    assert c.dependencies == expand and e.dependencies is None
    assert e.doc == EXPAND_MESSAGE and c.doc == CONTRACT_MESSAGE


# -- the layouts init understands --------------------------------------------------------


def test_linear_history_gets_expand_and_contract_roots(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    result = init_project(ini)

    assert result.layout == "linear" and result.changed and not result.dry_run
    assert result.expand_revision and result.contract_revision
    assert_initialised(ini, result.expand_revision, result.contract_revision, down="bbb222")
    assert [p.name for p in result.created] == [
        f"{result.expand_revision}_schemashift_start_expand_branch.py",
        f"{result.contract_revision}_schemashift_start_contract_branch.py",
    ]
    body = result.created[0].read_text()
    assert "expand@head" in body and "    pass\n" in body

    heads = run_alembic(ini, "heads")
    assert heads.returncode == 0, heads.stderr
    assert f"{result.expand_revision} (expand)" in heads.stdout
    assert f"{result.contract_revision} (contract)" in heads.stdout

    pyproject = tmp_path / "pyproject.toml"
    assert pyproject.read_text() == (
        '[tool.schemashift]\nalembic_config = "alembic.ini"\ndialect = "postgres"\n'
    )
    config = load_config(path=pyproject)
    assert config.dialect == "postgres"
    assert Path(str(config.alembic_config)).name == "alembic.ini"


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    first = init_project(ini)
    before = snapshot(tmp_path)

    second = init_project(ini)
    assert snapshot(tmp_path) == before
    assert second.layout == "initialised" and not second.changed and not second.created
    assert (second.expand_revision, second.contract_revision) == (
        first.expand_revision, first.contract_revision,
    )  # fmt: skip
    assert any("already set up" in line for line in second.actions)
    assert second.actions[-1] == "nothing changed"


def test_later_revisions_on_both_branches_still_count_as_initialised(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    first = init_project(ini)
    cfg = alembic_config(ini)
    command.revision(cfg, "add column", head="expand@head", rev_id="eee111")
    command.revision(cfg, "drop column", head="contract@head", depends_on="eee111",
                     rev_id="ccc111")  # fmt: skip
    before = snapshot(tmp_path)

    again = init_project(ini)
    assert again.layout == "initialised" and not again.changed
    assert again.expand_revision == first.expand_revision
    assert snapshot(tmp_path) == before


def test_empty_history_gets_two_new_bases(tmp_path: Path) -> None:
    ini = make_project(tmp_path, revisions=())
    result = init_project(ini)

    assert result.layout == "empty"
    assert result.expand_revision and result.contract_revision
    assert_initialised(ini, result.expand_revision, result.contract_revision, down=None)
    assert init_project(ini).layout == "initialised"


def test_upgrade_heads_offline_runs_through_both_branches(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    result = init_project(ini)

    proc = run_alembic(ini, "upgrade", "heads", "--sql")
    assert proc.returncode == 0, proc.stderr
    expand, contract = result.expand_revision, result.contract_revision
    assert f"-- Running upgrade bbb222 -> {expand}" in proc.stdout
    assert f"-- Running upgrade bbb222 -> {contract}" in proc.stdout
    # the contract root depends_on the expand root: it comes after it
    assert proc.stdout.index(f"-> {expand}") < proc.stdout.index(f"-> {contract}")
    assert "CREATE TABLE alembic_version" in proc.stdout  # PostgreSQL DDL, no connection


def test_alembic_pyproject_template(tmp_path: Path) -> None:
    """Alembic's own ``pyproject`` template keeps [tool.alembic] in pyproject.toml."""
    ini = make_project(tmp_path, template="pyproject")
    pyproject = tmp_path / "pyproject.toml"
    original = pyproject.read_bytes()
    assert b"[tool.alembic]" in original

    result = init_project(ini)
    assert result.layout == "linear"
    new = pyproject.read_bytes()
    assert new.startswith(original)
    data = tomllib.loads(new.decode())
    assert data["tool"]["schemashift"] == {"alembic_config": "alembic.ini", "dialect": "postgres"}
    assert data["tool"]["alembic"] == tomllib.loads(original.decode())["tool"]["alembic"]
    assert run_alembic(ini, "heads").returncode == 0


# -- pyproject.toml ----------------------------------------------------------------------

OTHER_TABLES = """\
[project]
name = "shop"  # the app
version = "1.0"

[tool.ruff]
line-length = 100

[[tool.mypy.overrides]]
module = ["x.*"]
"""


def test_existing_pyproject_other_tables_are_kept_byte_for_byte(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(OTHER_TABLES)

    init_project(ini)
    text = pyproject.read_text()
    assert text == OTHER_TABLES + (
        '\n[tool.schemashift]\nalembic_config = "alembic.ini"\ndialect = "postgres"\n'
    )
    data = tomllib.loads(text)
    assert data["project"]["name"] == "shop" and data["tool"]["mypy"]["overrides"]


def test_existing_schemashift_table_keys_are_never_overwritten(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    existing = (
        '[project]\nname = "shop"\n\n'
        '[tool.schemashift]  # ours\ndialect = "mysql"\ndisable = [\n  "SS601",\n]\n\n'
        '[tool.schemashift.severity]\nSS402 = "error"\n\n[tool.ruff]\nline-length = 100\n'
    )
    pyproject.write_text(existing)

    result = init_project(ini)  # sqlalchemy.url says postgresql: mysql stays
    text = pyproject.read_text()
    inserted = 'alembic_config = "alembic.ini"\n'
    assert text == existing.replace("# ours\n", "# ours\n" + inserted)
    assert any("kept dialect = 'mysql'" in line for line in result.actions)
    config = load_config(path=pyproject)
    assert config.dialect == "mysql" and config.disable == {"SS601"}
    assert config.severity["SS402"].value == "error"

    before = snapshot(tmp_path)
    init_project(ini, dialect="sqlite")
    assert snapshot(tmp_path) == before


def test_subtable_only_gets_its_parent_table(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(b'[tool.schemashift.severity]\r\nSS402 = "error"')  # CRLF, no EOL

    init_project(ini, dialect="pg")
    text = pyproject.read_bytes()
    assert text == (
        b'[tool.schemashift.severity]\r\nSS402 = "error"\r\n\r\n[tool.schemashift]\r\n'
        b'alembic_config = "alembic.ini"\r\ndialect = "postgres"\r\n'
    )
    assert load_config(path=pyproject).severity["SS402"].value == "error"


def test_dotted_keys_are_left_to_the_user(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool]\nschemashift.dialect = "postgres"\n')
    before = snapshot(tmp_path)

    with pytest.raises(InitError, match=r"cannot add to \[tool.schemashift\] safely"):
        init_project(ini)
    assert snapshot(tmp_path) == before  # not even the revisions: checks come first


def test_invalid_existing_config_stops_before_writing(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.schemashift]\nunknown = "maybe"\n')
    before = snapshot(tmp_path)
    with pytest.raises(InitError, match="unknown must be"):
        init_project(ini)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("url", "dialect", "expected"),
    [
        ("sqlite:///%(here)s/app.db", None, "sqlite"),
        ("mysql+pymysql://u@h/db", None, "mysql"),
        ("mariadb://u@h/db", None, "mysql"),
        ("postgresql+psycopg://u@h/db", "sqlite", "sqlite"),  # --dialect wins
        ("driver://user:pass@localhost/dbname", None, None),  # alembic's placeholder
    ],
)
def test_dialect_from_option_or_url(
    tmp_path: Path, url: str, dialect: str | None, expected: str | None
) -> None:
    ini = make_project(tmp_path, revisions=("aaa111",), url=url)
    result = init_project(ini, dialect=dialect)
    table = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["schemashift"]
    assert table.get("dialect") == expected
    if expected is None:
        assert any("no dialect written" in line for line in result.actions)


def test_unknown_dialect_is_an_error(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    with pytest.raises(InitError, match="unknown dialect 'oracle'"):
        init_project(ini, dialect="oracle")


# -- dry run -----------------------------------------------------------------------------


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    before = snapshot(tmp_path)

    result = init_project(ini, dry_run=True)
    assert snapshot(tmp_path) == before
    assert result.dry_run and not result.changed and not result.created
    assert result.expand_revision is None
    assert result.pyproject_changed  # it would write pyproject.toml
    assert any(line.startswith("would create the expand branch root on top of bbb222")
               for line in result.actions)  # fmt: skip
    assert any(line.startswith("would create") and "pyproject.toml with [tool.schemashift]" in line
               for line in result.actions)  # fmt: skip
    assert result.actions[-1] == "dry run: nothing written"


# -- layouts init refuses ----------------------------------------------------------------


def refused(ini: Path, pattern: str) -> None:
    before = snapshot(ini.parent)
    with pytest.raises(InitError, match=pattern) as info:
        init_project(ini)
    assert "\n" not in str(info.value)
    assert snapshot(ini.parent) == before


def test_two_unlabelled_heads(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    command.revision(alembic_config(ini), "other", head="aaa111", splice=True, rev_id="ccc333")
    refused(ini, r"^2 heads \(bbb222, ccc333\) without expand/contract labels: merge them "
                 r"first \(alembic merge heads\) and re-run$")  # fmt: skip


def test_only_one_of_the_two_labels(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    command.revision(alembic_config(ini), "e", branch_label="expand", rev_id="eee111")
    refused(ini, r"branch label 'expand' on revision eee111 but no 'contract' branch")


def test_another_branch_label_in_a_linear_history(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    command.revision(alembic_config(ini), "x", branch_label="core", rev_id="ddd111")
    refused(ini, r"branch label 'core' on ddd111: .* without branch labels")


def test_contract_root_without_depends_on(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    cfg = alembic_config(ini)
    command.revision(cfg, "e", branch_label="expand", rev_id="eee111")
    command.revision(cfg, "c", head="bbb222", splice=True, branch_label="contract",
                     rev_id="ccc111")  # fmt: skip
    refused(ini, r"contract branch root ccc111 does not depend_on the expand branch root "
                 r"eee111: add depends_on = 'eee111' to ccc111_c.py")  # fmt: skip


def test_expand_and_contract_merged(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    result = init_project(ini)
    both = [str(result.expand_revision), str(result.contract_revision)]
    command.merge(alembic_config(ini), both, message="merge", rev_id="fff111")
    refused(ini, r"revision fff111 is on both the expand and the contract branch")


def test_two_heads_on_the_expand_branch(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    result = init_project(ini)
    cfg = alembic_config(ini)
    command.revision(cfg, "e1", head="expand@head", rev_id="eee111")
    command.revision(cfg, "e2", head=str(result.expand_revision), splice=True, rev_id="eee222")
    refused(ini, r"the expand branch has 2 heads \(eee111, eee222\)")


def test_a_template_without_depends_on_is_rolled_back(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    mako = tmp_path / "migrations" / "script.py.mako"
    mako.write_text(mako.read_text().replace("${repr(depends_on)}", "None"))
    refused(ini, r"writing the branch roots failed .*removed what was written")


def test_missing_ini_and_broken_history(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="no such file"):
        init_project(tmp_path / "alembic.ini")
    ini = make_project(tmp_path)
    bad = next((tmp_path / "migrations" / "versions").glob("bbb222*.py"))
    bad.write_text(bad.read_text().replace("down_revision", "down_revision = 'nope'\n#"))
    refused(ini, r"cannot read the Alembic history: Revision nope referenced from .* not present")


# -- the command -------------------------------------------------------------------------


def test_cli_init_then_rerun(tmp_path: Path) -> None:
    make_project(tmp_path)
    proc = run_cli(tmp_path)  # default: alembic.ini in the current directory
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "schemashift init: created the expand branch root" in proc.stdout
    assert "process_revision_directives=process_revision_directives," in proc.stdout
    assert "schemashift revision --autogenerate -m MSG" in proc.stdout
    assert len(ScriptDirectory.from_config(Config(str(tmp_path / "alembic.ini"))).get_heads()) == 2

    again = run_cli(tmp_path, "--alembic-config", str(tmp_path / "alembic.ini"))
    assert again.returncode == 0, again.stderr
    assert "already set up" in again.stdout and "nothing changed" in again.stdout


def test_cli_dry_run_and_dialect(tmp_path: Path) -> None:
    make_project(tmp_path)
    before = snapshot(tmp_path)
    proc = run_cli(tmp_path, "--dry-run", "--dialect", "mysql")
    assert proc.returncode == 0, proc.stderr
    assert (
        'would create pyproject.toml with [tool.schemashift]: alembic_config = "alembic.ini", '
        'dialect = "mysql"'
    ) in proc.stdout
    assert "dry run: nothing written" in proc.stdout
    assert snapshot(tmp_path) == before


def test_cli_env_py_already_hooked(tmp_path: Path) -> None:
    make_project(tmp_path)
    env_py = tmp_path / "migrations" / "env.py"
    env_py.write_text(
        "from schemashift.alembic import process_revision_directives\n" + env_py.read_text()
    )
    proc = run_cli(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "env.py already uses" in proc.stdout and "context.configure(" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--alembic-config", "missing.ini"), "missing.ini: no such file"),
        (("--dialect", "oracle"), "unknown dialect 'oracle'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    make_project(tmp_path)
    proc = run_cli(tmp_path, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schemashift: error:"), proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr + proc.stdout


def test_cli_two_heads_is_one_line_exit_2(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    command.revision(alembic_config(ini), "other", head="aaa111", splice=True, rev_id="ccc333")
    proc = run_cli(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        "schemashift: error: 2 heads (bbb222, ccc333) without expand/contract labels: "
        "merge them first (alembic merge heads) and re-run\n"
    )


def test_one_revision_with_both_labels(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    command.revision(alembic_config(ini), "both", branch_label=["expand", "contract"],
                     rev_id="eee111")  # fmt: skip
    refused(ini, r"revision eee111 carries both the 'expand' and the 'contract' label")


def test_dates_in_pyproject_are_fine(tmp_path: Path) -> None:
    ini = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.release]\ndate = 2024-05-01\n")
    init_project(ini)
    data = tomllib.loads(pyproject.read_text())
    assert str(data["tool"]["release"]["date"]) == "2024-05-01"
    assert data["tool"]["schemashift"]["alembic_config"] == "alembic.ini"
