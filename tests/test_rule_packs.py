"""Rule packs (docs/rule-packs.md): the example pack plugins/schemashift-naming as installed,
and broken packs that must cost one warning line each, never the lint run.

The suite runs with SCHEMASHIFT_RULE_PACKS=none (tests/conftest.py); these tests run the
command line without it, so every installed pack loads as it would for a user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution
from pathlib import Path

import pytest

from schemashift.model import Severity
from schemashift.rules.base import Rule, no_check
from schemashift.rules.packs import ENV, GROUP, PackRule, load_packs, rule_problem, selected

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "schemashift-naming"
PAGES = PLUGIN / "src" / "schemashift_naming" / "pages"
NAMING = ("NM101", "NM102", "NM103")
DOCS_URL = (
    "https://github.com/schemashift/schemashift/blob/main/plugins/schemashift-naming/"
    "src/schemashift_naming/pages/{id}.md"
)


@pytest.fixture(scope="session")
def pack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a user with schemashift-naming installed: the venv's own install
    (pip install -e plugins/schemashift-naming), else a fresh one into a scratch directory."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    try:
        distribution("schemashift-naming")
    except PackageNotFoundError:
        # From a copy: setuptools builds in the source tree, and xdist workers do this at once.
        scratch = tmp_path_factory.mktemp("naming")
        source = scratch / "src"
        shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(scratch / "site"), str(source)], check=True, capture_output=True)  # fmt: skip
        env["PYTHONPATH"] = str(scratch / "site")
    return env


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def findings(stdout: str) -> dict[str, list[tuple[int, str, str]]]:
    """file -> (line, rule, severity) of every finding in a --format json report."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for stmt in json.loads(stdout)["statements"]:
        for f in stmt["findings"]:
            out.setdefault(Path(stmt["file"]).name, []).append(
                (stmt["line"], f["rule"], f["severity"])
            )
    return out


# Each fires case is flagged by exactly its rule among the pack's; each quiet one by none.
FIRES = {
    "NM101": [
        "CREATE INDEX CONCURRENTLY users_email ON users (email);",
        "CREATE INDEX CONCURRENTLY ON users (email);",
        "ALTER INDEX ix_users_a RENAME TO users_a;",
        "CREATE INDEX users_email ON users (email);",
    ],
    "NM102": [
        'CREATE TABLE "UserAccounts" (id bigint PRIMARY KEY);',
        "CREATE TABLE user__accounts (id bigint PRIMARY KEY);",
        'ALTER TABLE users RENAME TO "User-List";',
    ],
    "NM103": [
        "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
        "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) "
        "REFERENCES users (id) NOT VALID;",
    ],
}
QUIET = [
    "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
    "CREATE UNIQUE INDEX CONCURRENTLY idx_users_email ON app.users (email);",
    "ALTER INDEX users_a RENAME TO ix_users_a;",
    "CREATE TABLE UserAccounts (id bigint PRIMARY KEY);",  # folded: useraccounts
    "CREATE TABLE app.user_accounts (id bigint PRIMARY KEY);",
    "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) "
    "REFERENCES users (id) NOT VALID;",
    "ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total > 0) NOT VALID;",
]


def test_lint_reports_the_pack_rules_where_they_fire_and_only_there(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    expected: dict[str, str | None] = {}
    for rule_id, sqls in FIRES.items():
        for n, sql in enumerate(sqls):
            (cases / f"{rule_id}_{n}.sql").write_text(sql + "\n")
            expected[f"{rule_id}_{n}.sql"] = rule_id
    for n, sql in enumerate(QUIET):
        (cases / f"quiet_{n}.sql").write_text(sql + "\n")
        expected[f"quiet_{n}.sql"] = None
    proc = run(pack_env, tmp_path, "lint", "cases", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    got = findings(proc.stdout)
    for name, fires in sorted(expected.items()):
        ours = [f for f in got.get(name, []) if f[1].startswith("NM")]
        want = [(1, fires, "warning")] if fires else []
        assert ours == want, f"{name}: {(cases / name).read_text().strip()}"


def test_rules_lists_the_pack_rules_with_their_source(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    text = run(pack_env, tmp_path, "rules")
    assert text.returncode == 0, text.stderr
    lines = {line.split()[0]: line for line in text.stdout.splitlines()}
    assert lines["SS101"].endswith("built-in")
    for rule_id in NAMING:
        assert lines[rule_id].endswith("schemashift-naming 0.1.0"), lines[rule_id]
    ids = list(lines)
    assert ids.index("SS802") < ids.index("NM101"), "built-in rules come first"

    proc = run(pack_env, tmp_path, "rules", "--format", "json", "--dialect", "sqlite")
    doc = {r["id"]: r for r in json.loads(proc.stdout)["rules"]}
    assert doc["SS101"]["source"] == "built-in" and doc["SS101"]["pack"] is None
    nm = doc["NM101"]
    assert nm["source"] == "schemashift-naming 0.1.0"
    assert nm["pack"] == {"name": "naming", "distribution": "schemashift-naming",
                          "version": "0.1.0"}  # fmt: skip
    assert nm["page"] == "schemashift_naming/pages/NM101.md"
    assert nm["name"] == "index-name-prefix" and nm["severity"] == "warning"


def test_explain_prints_the_page_shipped_in_the_pack(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    proc = run(pack_env, tmp_path, "explain", "nm103")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# NM103 foreign-key-name-prefix\n")
    assert "## Safe alternative" in proc.stdout and "fk_orders_user_id" in proc.stdout
    assert "<!--" not in proc.stdout
    assert "(from the rule pack naming: schemashift-naming 0.1.0)" in proc.stdout


def test_suppressions_config_and_severity_work_for_pack_rules(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "m.sql").write_text(textwrap.dedent("""\
        CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);
        -- schemashift: ignore NM101 legacy name, kept for the dashboards
        CREATE INDEX CONCURRENTLY IF NOT EXISTS users_phone ON users (phone);
        CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name ON users (name); -- schemashift: ignore index-name-prefix reviewed
        CREATE TABLE "Audit" (id bigint PRIMARY KEY);
        ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
    """))  # fmt: skip
    plain = run(pack_env, tmp_path, "lint", "m.sql", "--format", "json")
    assert plain.returncode == 0, plain.stderr
    nm = [f for f in findings(plain.stdout)["m.sql"] if f[1].startswith("NM")]
    assert nm == [(1, "NM101", "warning"), (5, "NM102", "warning"), (6, "NM103", "warning")]

    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent("""\
        [tool.schemashift]
        disable = ["NM102", "nm103"]

        [tool.schemashift.severity]
        NM101 = "error"
    """)
    )
    configured = run(pack_env, tmp_path, "lint", "m.sql", "--format", "json")
    assert configured.returncode == 1, configured.stderr  # NM101 is an error now
    nm = [f for f in findings(configured.stdout)["m.sql"] if f[1].startswith("NM")]
    assert nm == [(1, "NM101", "error")]

    (tmp_path / "m.sql").write_text("-- schemashift: ignore NM199 no such rule\nSELECT 1;\n")
    typo = run(pack_env, tmp_path, "lint", "m.sql")
    assert typo.returncode == 2
    assert "ignore NM199: no rule has this id" in typo.stderr and "Traceback" not in typo.stderr


def test_sarif_points_pack_rules_at_the_packs_pages(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "m.sql").write_text("CREATE INDEX CONCURRENTLY users_email ON users (email);\n")
    proc = run(pack_env, tmp_path, "lint", "m.sql", "--format", "sarif")
    run_ = json.loads(proc.stdout)["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    nm101 = next(r for r in rules if r["id"] == "NM101")
    assert nm101["helpUri"] == DOCS_URL.format(id="NM101")
    assert any(r["ruleId"] == "NM101" and rules[r["ruleIndex"]]["id"] == "NM101"
               for r in run_["results"])  # fmt: skip


def test_rule_packs_env_picks_the_packs(pack_env: dict[str, str], tmp_path: Path) -> None:
    none = run({**pack_env, ENV: "none"}, tmp_path, "rules")
    assert "NM101" not in none.stdout and none.stderr == ""
    named = run({**pack_env, ENV: "schemashift-naming"}, tmp_path, "rules")
    assert "NM101" in named.stdout and named.stderr == ""
    typo = run({**pack_env, ENV: "naming,nameing"}, tmp_path, "rules")
    assert typo.returncode == 0 and "NM101" in typo.stdout
    assert typo.stderr == (
        "schemashift: warning: SCHEMASHIFT_RULE_PACKS: no installed rule pack is named 'nameing'\n"
    )


# --------------------------------------------------------------------------- broken packs

RULE_MODULE = """\
from schemashift.model import Severity
from schemashift.rules.base import Rule


def check(ctx):
    for action, _ in ctx.pairs("create_table"):
        yield f"{rule_id} saw {{action.table}}", ""


RULE = Rule(id={rule_id!r}, name={name!r}, title="A test rule", severity=Severity.WARNING,
            summary="Why.", fix="How.", kinds=frozenset({{"create_table"}}), check=check)
"""


def fake_install(site: Path, dist: str, package: str, modules: dict[str, str]) -> None:
    """An installed distribution declaring a rule pack: dist-info and the package."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{dist} = {package}\n")
    (site / package).mkdir()
    for name, text in modules.items():
        (site / package / f"{name}.py").write_text(text)


def rule_module(rule_id: str, name: str) -> str:
    return RULE_MODULE.format(rule_id=rule_id, name=name)


def test_broken_packs_cost_one_warning_each_and_lint_goes_on(
    pack_env: dict[str, str], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    fake_install(site, "broken-import", "broken_import",
                 {"__init__": "import leftpad_that_is_not_installed\n"})  # fmt: skip
    buggy = rule_module("CL108", "clashing-bug").replace("    for action", "    1 / 0\n    for action")
    fake_install(site, "vendor-clashing", "clashing", {  # sorts after schemashift-naming
        "__init__": "",
        "cl101_ok": rule_module("CL101", "clashing-ok"),
        "cl102_built_in_id": rule_module("SS101", "clashing-ss"),
        "cl103_built_in_name": rule_module("CL103", "rename-column"),
        "cl104_bad_id": rule_module("CL1040", "clashing-bad-id"),
        "cl105_pack_id": rule_module("NM101", "clashing-nm"),
        "cl106_no_rule": "X = 1\n",
        "cl107_raises": "raise RuntimeError('boom at import')\n",
        "cl108_check_raises": buggy,
    })  # fmt: skip
    env = {**pack_env, "PYTHONPATH": os.pathsep.join(
        p for p in (str(site), pack_env.get("PYTHONPATH")) if p)}  # fmt: skip
    (tmp_path / "m.sql").write_text(
        "CREATE TABLE t (id int);\nCREATE INDEX i ON t (id);\nCREATE TABLE u (id int);\n"
    )

    proc = run(env, tmp_path, "lint", "m.sql", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    got = findings(proc.stdout)["m.sql"]
    assert {(1, "CL101", "warning"), (3, "CL101", "warning"), (2, "NM101", "warning")} <= set(got)
    assert not [f for f in got if f[1] == "CL108"]
    pack = "schemashift: warning: rule pack vendor-clashing (vendor-clashing 1.0): "
    assert sorted(proc.stderr.splitlines()) == sorted([
        "schemashift: warning: rule pack broken-import (broken-import 1.0): cannot import "
        "broken_import: ModuleNotFoundError: No module named 'leftpad_that_is_not_installed'; "
        "skipped",
        pack + "clashing.cl102_built_in_id: id 'SS101': SS ids are schemashift's own; a pack "
        "uses a prefix of its own; skipped",
        pack + "CL103: its name 'rename-column' is taken by SS101 (built-in); skipped",
        pack + "clashing.cl104_bad_id: id 'CL1040' is not 2-4 capital letters and three digits "
        "(e.g. NM101); skipped",
        pack + "NM101: its id NM101 is taken by NM101 (schemashift-naming 0.1.0); skipped",
        pack + "clashing.cl106_no_rule defines no RULE (a schemashift.rules.base.Rule); skipped",
        pack + "cannot import clashing.cl107_raises: RuntimeError: boom at import; skipped",
        # a bug in a check: one line however often it fails (twice here), lint goes on
        pack + "CL108 failed on m.sql:1: ZeroDivisionError: division by zero; its findings are "
        "skipped where it fails",
    ])  # fmt: skip

    listed = run(env, tmp_path, "rules")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    sources = {line.split()[0]: line.split("  ")[-1] for line in listed.stdout.splitlines()}
    assert sources["CL101"] == "vendor-clashing 1.0" and sources["SS101"] == "built-in"
    assert "CL103" not in sources and "CL1040" not in sources


def _rule(rule_id: str, name: str = "some-rule", **kw: object) -> Rule:
    fields: dict[str, object] = dict(id=rule_id, name=name, title="T", severity=Severity.INFO,
                                     summary="S.", fix="F.", kinds=frozenset({"add_column"}),
                                     check=no_check)  # fmt: skip
    return Rule(**{**fields, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("rule", "problem"), [
    (_rule("NM101"), ""),
    (_rule("ACME001"), ""),
    (_rule("ACMEX001"), "is not 2-4 capital letters"),
    (_rule("nm101"), "is not 2-4 capital letters"),
    (_rule("N101"), "is not 2-4 capital letters"),
    (_rule("SS950"), "SS ids are schemashift's own"),
    (_rule("NM101", name="Some_Rule"), "is not kebab-case"),
    (_rule("NM101", dialects=frozenset({"oracle"})), "dialects must be among"),
    (_rule("NM101", kinds=frozenset()), "it would never run"),
], ids=lambda v: v.id if isinstance(v, Rule) else str(v))  # fmt: skip
def test_rule_problem(rule: Rule, problem: str) -> None:
    found = rule_problem(rule)
    assert (problem in found and found) if problem else found == ""


def test_load_packs_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a distribution (an entry point from elsewhere), a pack is named by its entry
    point; a plain module is a one-rule pack; pack order decides who keeps a clashing id."""
    (tmp_path / "zz_single.py").write_text(rule_module("ZZ001", "zz-one") + "DOCS_URL = 'u/{id}'\n")
    (tmp_path / "aa_pack").mkdir()
    (tmp_path / "aa_pack" / "__init__.py").write_text("")
    (tmp_path / "aa_pack" / "zz001_first.py").write_text(rule_module("ZZ001", "aa-one"))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("single", "zz_single", GROUP), EntryPoint("aa", "aa_pack", GROUP)]
    rules, problems = load_packs({"SS101": "SS101 (built-in)"}, eps, None)
    assert [(r.id, r.name) for r in rules] == [("ZZ001", "aa-one")]
    assert problems == ["rule pack single (rule pack single): ZZ001: its id ZZ001 is taken by "
                        "ZZ001 (rule pack aa); skipped"]  # fmt: skip
    only, _ = load_packs({}, eps, "single")
    assert isinstance(only[0], PackRule) and only[0].docs_url == "u/ZZ001"
    assert only[0].docs_ref == "zz_single/pages/ZZ001.md" and only[0].page() is None


def test_selected_parses_the_env_value() -> None:
    eps = [EntryPoint("b", "b", GROUP), EntryPoint("a", "a", GROUP)]
    assert [e.name for e in selected(eps, None)[0]] == ["a", "b"]
    assert [e.name for e in selected(eps, " ALL ")[0]] == ["a", "b"]
    assert selected(eps, "none") == ([], [])
    picked, missing = selected(eps, "b, c")
    assert [e.name for e in picked] == ["b"] and missing == [f"{ENV}: no installed rule pack "
                                                             "is named 'c'"]  # fmt: skip


def test_alembic_revision_suppressions_read_pack_ids(tmp_path: Path) -> None:
    from schemashift.alembic.history import _revision_suppressions

    path = tmp_path / "0001_x.py"
    path.write_text("def upgrade():\n    # schemashift: ignore NM101, SS103 reviewed\n    pass\n")
    assert _revision_suppressions(path) == {"NM101", "SS103"}


def test_the_packs_pages_follow_the_rule_page_layout() -> None:
    """One module per rule, each with its page: generated top, then the hand-written body."""
    from schemashift.rules.docs import MARKER

    sys.path.insert(0, str(PLUGIN / "src"))
    try:
        import importlib

        modules = sorted(p.stem for p in (PLUGIN / "src" / "schemashift_naming").glob("nm*.py"))
        rules = [importlib.import_module(f"schemashift_naming.{m}").RULE for m in modules]
    finally:
        sys.path.remove(str(PLUGIN / "src"))
    assert [r.id for r in rules] == list(NAMING)
    assert sorted(p.stem for p in PAGES.glob("*.md")) == list(NAMING)
    for module, rule in zip(modules, rules, strict=True):
        assert module == f"nm{rule.id[2:]}_{rule.name.replace('-', '_')}"
        assert rule_problem(rule) == ""
        page = (PAGES / f"{rule.id}.md").read_text()
        head, _, body = page.partition(MARKER)
        assert head.startswith(f"# {rule.id} {rule.name}\n") and rule.summary in head
        for section in ("## Unsafe", "## Why it hurts", "## Safe alternative", "## In Alembic",
                        f"`-- schemashift: ignore {rule.id} <reason>`"):  # fmt: skip
            assert section in body, f"{rule.id}: no {section}"
