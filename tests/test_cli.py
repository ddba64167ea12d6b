"""The CLI as a user runs it: exit codes, formats, and one clear line for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(
    *args: str, stdin: str | bytes | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHEMASHIFT_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "schemashift", *args],
        input=stdin, cwd=cwd, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("schemashift: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("schemashift, version ")
    out = run("--help").stdout
    assert "lint" in out and "explain" in out


def test_bundled_example_prints_real_findings() -> None:
    proc = run("lint", "examples/sql", "--no-color")
    assert proc.returncode == 1  # the example has errors on purpose
    for rule in ("SS101", "SS105", "SS205", "SS301", "SS401"):
        assert rule in proc.stdout
    assert "suppressed: SS103" in proc.stdout
    assert "examples/sql/004_rename_user_name.sql" in proc.stdout


def test_stdin_and_json(tmp_path: Path) -> None:
    proc = run("lint", "-", "--format", "json", stdin="ALTER TABLE t DROP COLUMN a;\n")
    doc = json.loads(proc.stdout)
    assert doc["statements"][0]["file"] == "-" and doc["statements"][0]["line"] == 1
    assert proc.returncode == 1


@pytest.mark.parametrize(
    ("sql", "fail_on", "code"),
    [
        ("ALTER TABLE t ADD COLUMN a int;", "error", 0),
        ("ALTER TABLE t ADD COLUMN a int;", "warning", 1),  # SS501: no lock_timeout
        ("SET lock_timeout = '1s'; ALTER TABLE t ADD COLUMN a int;", "warning", 0),
        ("SET lock_timeout = '1s'; ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", "error", 0),
        ("SET lock_timeout = '1s'; ALTER TABLE t ALTER COLUMN a DROP NOT NULL;", "breaking", 1),
        ("SET lock_timeout = '1s'; ALTER TABLE t RENAME COLUMN a TO b;", "error", 1),
    ],
)
def test_fail_on(sql: str, fail_on: str, code: int) -> None:
    assert run("lint", "-", "--fail-on", fail_on, stdin=sql).returncode == code


def test_unknown_is_breaking_unless_configured(tmp_path: Path) -> None:
    sql = "SET lock_timeout = '1s';\nALTER TABLE t FROBNICATE;\n"
    (tmp_path / "m.sql").write_text(sql)
    assert run("lint", "m.sql", "--fail-on", "breaking", cwd=tmp_path).returncode == 1
    proc = run("lint", "m.sql", "--format", "json", cwd=tmp_path)
    finding = json.loads(proc.stdout)["statements"][1]["findings"][0]
    assert finding["rule"] == "SS001" and finding["severity"] == "error"
    (tmp_path / "pyproject.toml").write_text('[tool.schemashift]\nunknown = "warn"\n')
    proc = run("lint", "m.sql", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["statements"][1]["findings"][0]["severity"] == "warning"


def test_config_disable_and_severity(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text(
        "SET lock_timeout = '1s';\nDROP INDEX i;\nALTER TABLE t RENAME a TO b;\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.schemashift]\ndisable = ["SS101"]\n[tool.schemashift.severity]\nSS402 = "error"\n'
    )
    doc = json.loads(run("lint", "m.sql", "--format", "json", cwd=tmp_path).stdout)
    rules = [(f["rule"], f["severity"]) for s in doc["statements"] for f in s["findings"]]
    assert rules == [("SS402", "error")]


def test_github_and_sarif_formats() -> None:
    gh = run("lint", "examples/sql/004_rename_user_name.sql", "--format", "github")
    assert "::error file=examples/sql/004_rename_user_name.sql,line=7" in gh.stdout
    sarif = json.loads(run("lint", "examples/sql", "--format", "sarif").stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]


def test_explain_prints_the_docs_page() -> None:
    proc = run("explain", "ss101")
    assert proc.returncode == 0 and proc.stdout.startswith("# SS101")
    assert "## Safe alternative" in proc.stdout


# --- bad input: one clear line on stderr, exit 2, never a traceback --------------------


def test_missing_file() -> None:
    assert_one_line_error(run("lint", "nope.sql"), 2, "nope.sql: no such file or directory")


def test_directory_without_sql(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    assert_one_line_error(run("lint", str(tmp_path)), 2, "directory contains no .sql files")


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "x.sql").write_bytes(b"\x00\x01\x02ALTER")
    assert_one_line_error(run("lint", str(tmp_path / "x.sql")), 2, "binary file")


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "x.sql").write_bytes("ALTER TABLE café ADD a int;".encode("latin-1"))
    assert_one_line_error(run("lint", str(tmp_path / "x.sql")), 2, "not valid UTF-8")


def test_empty_file_is_fine(tmp_path: Path) -> None:
    (tmp_path / "x.sql").write_text("")
    proc = run("lint", str(tmp_path / "x.sql"), "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["summary"]["statements"] == 0


def test_unknown_dialect() -> None:
    assert_one_line_error(run("lint", "-", "--dialect", "oracle", stdin=""), 2, "unknown dialect")


def test_bad_server_version() -> None:
    assert_one_line_error(
        run("lint", "-", "--server-version", "latest", stdin=""), 2, "--server-version"
    )


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[tool.schemashift]\ndialect = "oracle"\n', "dialect must be"),
        ('[tool.schemashift]\ndisable = "SS101"\n', "must be a list"),
        ('[tool.schemashift]\ndisable = ["XX1"]\n', "is not a rule id"),
        ("[tool.schemashift]\nfrobnicate = 1\n", "unknown key"),
        ('[tool.schemashift]\nunknown = "ignore"\n', "unknown must be"),
        ("[tool.schemashift\n", "cannot read"),
        ('[tool.schemashift]\nlock-timeout = "1s"\n', "lock-timeout must be"),
    ],
)
def test_invalid_config(tmp_path: Path, toml: str, needle: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "m.sql").write_text("SELECT 1;")
    assert_one_line_error(run("lint", "m.sql", cwd=tmp_path), 2, needle)


def test_no_paths() -> None:
    assert_one_line_error(run("lint"), 2, "no paths given")


def test_unknown_rule_in_explain() -> None:
    assert_one_line_error(run("explain", "SS999"), 2, "no rule 'SS999'")


def test_unknown_option() -> None:
    assert_one_line_error(run("lint", "--frobnicate"), 2, "No such option")


def test_sarif_output_validates_against_the_schema() -> None:
    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads(run("lint", "examples/sql", "tests/golden", "--format", "sarif").stdout)
    jsonschema.Draft4Validator(schema).validate(sarif)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) >= 40 and all(r["helpUri"].endswith(f"{r['id']}.md") for r in rules)
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_rules_shows_the_projects_severities(tmp_path: Path) -> None:
    """`schemashift rules` in a project: the severity lint will use, and where it was set;
    a rule turned off says so. Outside a project (or for the JSON's "severity"): the
    rule's own."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.schemashift]\nunknown = "warn"\ndisable = ["SS103"]\n'
        '[tool.schemashift.severity]\nSS101 = "info"\n'
    )
    lines = {line.split()[0]: line for line in subprocess.run(
        [sys.executable, "-m", "schemashift", "rules"], cwd=tmp_path, capture_output=True,
        text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.splitlines()}  # fmt: skip
    assert lines["SS101"].split()[1] == "info"
    assert lines["SS101"].endswith("[pyproject.toml: info, default error]")
    assert lines["SS001"].split()[1] == "warning"
    assert lines["SS001"].endswith("[pyproject.toml: warning, default error]")
    assert lines["SS103"].endswith("[off in pyproject.toml]")
    assert not lines["SS102"].endswith("]")
    doc = json.loads(subprocess.run(
        [sys.executable, "-m", "schemashift", "rules", "--format", "json", "--config",
         str(tmp_path / "pyproject.toml")], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    by_id = {r["id"]: r for r in doc["rules"]}
    assert (by_id["SS101"]["severity"], by_id["SS101"]["configured_severity"]) == ("error", "info")
    assert by_id["SS103"]["enabled"] is False and by_id["SS102"]["enabled"] is True
    missing = subprocess.run([sys.executable, "-m", "schemashift", "rules", "--config",
                              str(tmp_path / "nope.toml")], capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_lock_timeout_comes_from_the_option_then_the_config(tmp_path: Path) -> None:
    from schemashift.cli.common import runner_for as _runner
    from schemashift.config import parse_config

    url = f"sqlite:///{tmp_path / 'x.db'}"
    config = parse_config({"lock-timeout": 250})
    assert _runner(url, config).options.lock_timeout_ms == 250
    assert _runner(url, config, lock_timeout_ms=75).options.lock_timeout_ms == 75
    assert _runner(url, parse_config({})).options.lock_timeout_ms == 1000


def test_help_imports_nothing_heavy() -> None:
    """`schemashift --help` must start fast: the engine, parsers and drivers load lazily.
    (The time itself is measured by benchmarks/help_time.py, not asserted here.)"""
    code = (
        "import sys, schemashift.cli; "
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlglot', 'alembic', 'sqlalchemy', 'psycopg', 'pymysql', 'packaging') "
        "or m in ('schemashift.analysis.engine', 'schemashift.execute.runner', "
        "'schemashift.phases.planner', 'schemashift.sql.recognize'))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_phase_commands_plan_for_the_database_they_run_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schemashift.cli.common import load_config_for as _config

    (tmp_path / "pyproject.toml").write_text('[tool.schemashift]\ndialect = "postgres"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEMASHIFT_DATABASE_URL", raising=False)
    assert _config().dialect == "postgres"
    assert _config("mysql+pymysql://root@127.0.0.1:3306/x").dialect == "mysql"
    monkeypatch.setenv("SCHEMASHIFT_DATABASE_URL", "sqlite:///x.db")
    assert _config().dialect == "sqlite"


def test_rules_json_and_dialect_filter() -> None:
    proc = subprocess.run([sys.executable, "-m", "schemashift", "rules", "--format", "json",
                           "--dialect", "sqlite"], capture_output=True, text=True, check=True)  # fmt: skip
    doc = json.loads(proc.stdout)
    assert doc["version"] == 1 and doc["rules"]
    assert all("sqlite" in r["dialects"] for r in doc["rules"])
    assert {"id", "name", "title", "severity", "summary", "fix", "page"} <= set(doc["rules"][0])
    every = subprocess.run([sys.executable, "-m", "schemashift", "rules", "--format", "json"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert len(json.loads(every.stdout)["rules"]) > len(doc["rules"])
    bad = subprocess.run([sys.executable, "-m", "schemashift", "rules", "--dialect", "oracle"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "unknown dialect" in bad.stderr
