"""Per-revision lint of Alembic histories: offline, without env.py, never stopped by one bad
revision. Projects are written to temporary directories like a user's would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schemashift.alembic.lint import lint_history
from schemashift.config import Config

ROOT = Path(__file__).parent.parent
SHOP = ROOT / "examples" / "shop" / "alembic.ini"


def make_project(tmp: Path, revisions: dict[str, str]) -> Path:
    """An Alembic project whose env.py would fail if anyone ran it."""
    (tmp / "migrations" / "versions").mkdir(parents=True)
    (tmp / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
        "sqlalchemy.url = postgresql://nobody@unreachable.invalid/db\n"
    )
    (tmp / "migrations" / "env.py").write_text("raise RuntimeError('env.py must not run')\n")
    (tmp / "migrations" / "script.py.mako").write_text("")
    for name, body in revisions.items():
        (tmp / "migrations" / "versions" / f"{name}.py").write_text(textwrap.dedent(body))
    return tmp / "alembic.ini"


def rev(rev_id: str, down: str | None, upgrade: str, head: str = "") -> str:
    down_repr = repr(down)
    return (
        "import sqlalchemy as sa\nfrom alembic import op\n" + head +
        f"\nrevision = {rev_id!r}\ndown_revision = {down_repr}\n"
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        + textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    ")
        + "\n\n\ndef downgrade():\n    pass\n"
    )  # fmt: skip


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCHEMASHIFT_DEBUG"}
    return subprocess.run([sys.executable, "-m", "schemashift", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, env=env)  # fmt: skip


def test_shop_example_history_lints_revision_by_revision() -> None:
    report = lint_history(SHOP, Config(dialect="postgres", server_version="15"))
    assert report.revisions is not None
    assert [r.revision for r in report.revisions] == [
        "0001_create_tables", "0002_user_phone_orders_idx", "0003_rename_user_name",
        "0004_order_amount_numeric", "0005_product_sku", "0006_sku_index_items_fk",
        "0007_drop_legacy_flag",
    ]  # fmt: skip
    assert all(r.status == "analysed" for r in report.revisions)
    by_rev = {}
    for s in report.statements:
        by_rev.setdefault(s.revision, []).append(s)
    # The rename is reported at the line of op.alter_column in the revision file.
    rename = by_rev["0003_rename_user_name"][0]
    source = Path(rename.statement.file).read_text().splitlines()
    assert "op.alter_column(" in source[rename.statement.line - 1]
    assert rename.changes[0].kind == "rename_column"
    assert "SS101" in {f.rule for f in rename.findings}
    # existing_type=sa.Integer() tells the type change what it changes from.
    amount = by_rev["0004_order_amount_numeric"][0].changes[0]
    assert amount.kind == "alter_column_type" and amount.rewrites_table
    assert amount.compatibility.value == "compatible"  # integer fits numeric(12, 2)
    # CONCURRENTLY inside autocommit_block is outside the transaction: no SS403.
    index = [s for s in by_rev["0006_sku_index_items_fk"] if s.changes[0].kind == "create_index"]
    assert index and not {"SS401", "SS403"} & {f.rule for f in index[0].findings}
    # The per-revision suppression comment in 0007.
    drop = by_rev["0007_drop_legacy_flag"][0]
    assert "SS103" in drop.suppressed and "SS103" not in {f.rule for f in drop.findings}
    # Tables created in the same revision are new: no lock findings on 0001.
    assert not any(f.rule == "SS501" for s in by_rev["0001_create_tables"] for f in s.findings)


def test_json_contract_for_histories() -> None:
    proc = cli("lint", "--alembic-config", "examples/shop/alembic.ini", "--format", "json")
    doc = json.loads(proc.stdout)
    assert list(doc) == ["version", "dialect", "revisions", "statements", "summary"]
    assert doc["revisions"][0] == {
        "revision": "0001_create_tables",
        "file": "examples/shop/migrations/versions/0001_create_tables.py",
        "status": "analysed",
        "statements": 4,
    }
    assert all(s["revision"] and s["file"].endswith(".py") for s in doc["statements"])
    assert {s["sql"] for s in doc["statements"]}.isdisjoint({"BEGIN", "COMMIT"})


def test_mysql_dialect_renders_the_same_history() -> None:
    report = lint_history(SHOP, Config(dialect="mysql", server_version="8.0.36"))
    assert report.revisions and all(r.status == "analysed" for r in report.revisions)
    kinds = {c.kind for s in report.statements for c in s.changes}
    assert {"create_table", "rename_column", "alter_column_type", "drop_column"} <= kinds


def test_bad_revisions_fail_alone(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))"),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('x', sa.Integer))",
                  head="from myapp.models import Thing  # the app is not importable here\n"),
        "c3": rev("c3", "b2", """
            op.add_column('t', sa.Column('y', sa.Integer))
            bind = op.get_bind()
            if 'z' not in [c['name'] for c in sa.inspect(bind).get_columns('t')]:
                op.add_column('t', sa.Column('z', sa.Integer))
        """),
        "d4": rev("d4", "c3", """
            op.execute(sa.text("SELECT 1"))
            raise ValueError('computed something from settings that are not there')
        """),
        "e5": rev("e5", "d4", "op.drop_column('t', 'x')"),
    })  # fmt: skip
    report = lint_history(ini, Config())
    status = {r.revision: (r.status, r.error or "") for r in report.revisions or ()}
    assert status["a1"] == ("analysed", "")
    assert status["b2"][0] == "failed" and "cannot import" in status["b2"][1]
    assert "myapp" in status["b2"][1]
    # c3's database read is answered from the schema model (alembic/inspector.py).
    assert status["c3"] == ("analysed", "")
    assert status["d4"][0] == "partial" and "ValueError" in status["d4"][1]
    assert status["e5"] == ("analysed", "")
    assert all("\n" not in err for _, err in status.values())
    # What c3 rendered before it stopped is still linted, at its line; the part it could
    # not read is an SS001 finding (unknown, treated as breaking) where reading stopped.
    c3 = [s for s in report.statements if s.revision == "c3"]
    assert [c.kind for s in c3 for c in s.changes] == ["add_column", "add_column"]
    unread = {s.revision: s for s in report.statements if s.statement.sql.startswith("-- revision")}
    assert set(unread) == {"b2", "d4"}
    assert [f.rule for f in unread["b2"].findings] == ["SS001"]
    assert unread["d4"].statement.line == 12  # the raise
    assert all(f.severity == "error" for s in unread.values() for f in s.findings)


def test_unread_revision_fails_ci_in_every_format(tmp_path: Path) -> None:
    """An unread DROP COLUMN must not pass the pre-merge check: exit 1, a GitHub error
    annotation and a SARIF result; a revision printing and logging at import does not
    corrupt the JSON or SARIF on stdout; SS001 = "warning" makes it pass."""
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))",
                  head="import logging, sys\nprint('hello from a1')\n"
                       "logging.basicConfig(stream=sys.stdout, level=logging.INFO)\n"
                       "logging.getLogger('app').info('loaded a1')\n"),
        "b2": rev("b2", "a1", """
            bind = op.get_bind()
            if bind.execute(sa.text("SELECT v FROM settings WHERE k = 'x'")).scalar_one() == 'y':
                op.drop_column('t', 'x')
        """),  # a row offline reading cannot have: unread, so SS001
    })  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMASHIFT_")}

    def lint(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "schemashift", "lint", "--alembic-config",
                               str(ini), *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path)  # fmt: skip

    text = lint()
    assert text.returncode == 1 and "SS001" in text.stdout and "hello from a1" not in text.stdout
    as_json = lint("--format", "json")
    assert as_json.returncode == 1 and "hello from a1" in as_json.stderr
    doc = json.loads(as_json.stdout)
    (b2,) = [r for r in doc["revisions"] if r["revision"] == "b2"]
    assert b2["status"] == "failed" and b2["line"] == 12
    sarif = lint("--format", "sarif")
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    (unread,) = [r for r in results if r["ruleId"] == "SS001"]
    assert sarif.returncode == 1 and unread["level"] == "error"
    assert unread["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    github = lint("--format", "github")
    (annotation,) = [a for a in github.stdout.splitlines() if "SS001" in a]
    assert github.returncode == 1 and annotation.startswith("::error ") and "line=12" in annotation
    (tmp_path / "pyproject.toml").write_text('[tool.schemashift.severity]\nSS001 = "warning"\n')
    assert lint().returncode == 0


def test_sqlite_batch_mode_needs_a_database(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            with op.batch_alter_table('t') as batch:
                batch.alter_column('x', type_=sa.BigInteger)
        """),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('y', sa.Integer))"),
    })  # fmt: skip
    report = lint_history(ini, Config(dialect="sqlite"))
    status = {r.revision: r for r in report.revisions or ()}
    assert status["a1"].status == "failed" and status["a1"].error
    assert status["b2"].status == "analysed"


def test_branches_and_merges_are_walked_oldest_first(tmp_path: Path) -> None:
    merge = rev("m4", None, "op.add_column('t', sa.Column('m', sa.Integer))").replace(
        "down_revision = None", "down_revision = ('b2', 'c3')"
    )
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))"),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('b', sa.Integer))"),
        "c3": rev("c3", "a1", "op.add_column('t', sa.Column('c', sa.Integer))"),
        "m4": merge,
    })  # fmt: skip
    order = [r.revision for r in lint_history(ini, Config()).revisions or ()]
    assert order[0] == "a1" and order[-1] == "m4" and set(order[1:3]) == {"b2", "c3"}


def test_revision_and_since(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))"),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('b', sa.Integer))"),
        "c3": rev("c3", "b2", "op.drop_column('t', 'b')"),
    })  # fmt: skip
    one = lint_history(ini, Config(), revision="b2")
    assert [r.revision for r in one.revisions or ()] == ["b2"]
    after = lint_history(ini, Config(), since="a1")
    assert [r.revision for r in after.revisions or ()] == ["b2", "c3"]
    proc = cli("lint", "--alembic-config", str(ini), "--since", "nope")
    assert proc.returncode == 2 and proc.stderr.startswith("schemashift: error:")
    assert "Traceback" not in proc.stderr


def test_since_git_lints_only_the_new_revision(tmp_path: Path) -> None:
    make_project(tmp_path, {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True))"),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('b', sa.Integer))"),
    })  # fmt: skip
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=tmp_path, check=True)
    subprocess.run([*git, "checkout", "-qb", "feature"], cwd=tmp_path, check=True)
    new = tmp_path / "migrations" / "versions" / "c3.py"
    new.write_text(rev("c3", "b2", "op.alter_column('t', 'b', new_column_name='bb')"))
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "rename"], cwd=tmp_path, check=True)
    proc = cli(
        "lint", "--since-git", "main", "--format", "json", cwd=tmp_path
    )  # alembic.ini found here
    doc = json.loads(proc.stdout)
    assert [r["revision"] for r in doc["revisions"]] == ["c3"]
    assert doc["statements"][0]["changes"][0]["kind"] == "rename_column"
    assert proc.returncode == 1  # SS101
    bad = cli("lint", "--since-git", "no-such-ref", cwd=tmp_path)
    assert bad.returncode == 2 and "no-such-ref" in bad.stderr and "Traceback" not in bad.stderr


def test_unreadable_projects_are_one_line_errors(tmp_path: Path) -> None:
    proc = cli("lint", "--alembic-config", str(tmp_path / "missing.ini"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    proc = cli("lint", "--alembic-config", str(tmp_path / "alembic.ini"))
    assert proc.returncode == 2 and "script_location" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli("lint", cwd=empty)
    assert proc.returncode == 2 and "no paths given" in proc.stderr


@pytest.mark.parametrize("fmt", ["text", "sarif", "github"])
def test_other_formats_work_on_histories(fmt: str) -> None:
    proc = cli(
        "lint", "--alembic-config", "examples/shop/alembic.ini", "--format", fmt, "--no-color"
    )
    assert proc.returncode == 1 and "0003_rename_user_name.py" in proc.stdout


def test_bound_values_render_inline_and_missing_ones_stay_values(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            op.execute(sa.table('t', sa.column('a', sa.String)).update().values(a='x'))
            op.execute(sa.text("UPDATE t SET a = :v WHERE id = :id"))
        """),
    })  # fmt: skip
    report = lint_history(ini, Config())
    assert report.revisions and report.revisions[0].status == "analysed"
    sqls = [s.statement.sql for s in report.statements]
    assert sqls[0] == "UPDATE t SET a='x'"  # a value SQLAlchemy can render: rendered
    # A parameter with no value renders as NULL: still read as a value, never as SQL.
    assert sqls[1].startswith("UPDATE t SET a =") and "WHERE id =" in sqls[1]
    assert [s.changes[0].kind for s in report.statements] == ["data_update", "data_update"]
    assert report.statements[1].changes[0].scans_table is False  # its WHERE is still seen


def test_values_offline_rendering_cannot_write_fail_the_revision_clearly(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        # bulk_insert always writes literals offline; an untyped column has no renderer.
        "a1": rev("a1", None, "op.bulk_insert(sa.table('t', sa.column('a')), [{'a': 1}])"),
        "b2": rev("b2", "a1", "op.add_column('t', sa.Column('y', sa.Integer))"),
    })  # fmt: skip
    report = lint_history(ini, Config())
    first, second = report.revisions or ()
    assert first.status == "failed" and "No literal value renderer" in (first.error or "")
    assert second.status == "analysed"


def test_execute_with_unrenderable_values_falls_back_to_placeholders(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, "op.execute(sa.table('t', sa.column('a')).update().values(a=1))"),
    })  # fmt: skip
    report = lint_history(ini, Config())
    assert report.revisions and report.revisions[0].status == "analysed"
    statement = report.statements[0]
    assert ":a" in statement.statement.sql  # rendered as a placeholder, read as a value
    assert statement.changes[0].kind == "data_update"


def test_batch_mode_sql_is_linted_at_the_batch_operation(tmp_path: Path) -> None:
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            with op.batch_alter_table('tags') as batch_op:
                batch_op.alter_column('value', existing_type=sa.String(250), type_=sa.String(5000))
                batch_op.drop_column('legacy')
        """),
    })  # fmt: skip
    report = lint_history(ini, Config(dialect="postgres"))
    assert report.revisions and report.revisions[0].statements == 2
    kinds = [s.changes[0].kind for s in report.statements]
    assert kinds == ["alter_column_type", "drop_column"]
    widen = report.statements[0].changes[0]
    assert widen.rewrites_table is False  # existing_type varchar(250) → varchar(5000)
    lines = Path(report.statements[0].statement.file).read_text().splitlines()
    assert "batch_op." in lines[report.statements[1].statement.line - 1]


def test_breaking_changes_in_contract_revisions_are_info(tmp_path: Path) -> None:
    """A contract-branch revision exists to drop what old versions used; the contract gate
    runs it only when none is live, so its SS1xx findings are information, not errors."""
    labelled = {
        "a1": rev("a1", None, "op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True), sa.Column('x', sa.Integer))"),
        "e1": rev("e1", "a1", "pass").replace("branch_labels = None", "branch_labels = ('expand',)"),
        "c1": rev("c1", "a1", "pass").replace("branch_labels = None", "branch_labels = ('contract',)")
              .replace("depends_on = None", "depends_on = 'e1'"),
        "c2": rev("c2", "c1", "op.drop_column('t', 'x')"),
        "e2": rev("e2", "e1", "op.drop_column('t', 'x')"),
    }  # fmt: skip
    report = lint_history(make_project(tmp_path, labelled), Config())
    by_rev = {s.revision: s for s in report.statements if s.changes[0].kind == "drop_column"}
    contract = {f.rule: f for f in by_rev["c2"].findings}
    expand = {f.rule: f for f in by_rev["e2"].findings}
    assert (
        contract["SS103"].severity.value == "info"
        and "contract revision" in contract["SS103"].message
    )
    assert expand["SS103"].severity.value == "error"


def test_each_statement_of_a_batch_block_at_its_own_line(tmp_path: Path) -> None:
    """batch_alter_table queues its operations and emits their SQL when the block ends:
    each statement is still reported at the line of the call that queued it."""
    ini = make_project(tmp_path, {
        "a1": rev("a1", None, """
            op.create_table('t', sa.Column('id', sa.BigInteger, primary_key=True),
                            sa.Column('x', sa.Integer), sa.Column('y', sa.Integer))
            with op.batch_alter_table('t') as batch:
                batch.add_column(sa.Column('z', sa.Integer))
                batch.alter_column('x', new_column_name='x2')
                batch.drop_column('y')
            op.create_index('ix_t_z', 't', ['z'])
        """),
    })  # fmt: skip
    report = lint_history(ini, Config(dialect="postgres"))
    text = (tmp_path / "migrations" / "versions" / "a1.py").read_text().splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, line in enumerate(text, 1) if fragment in line)

    by_sql = [(s.statement.sql, s.statement.line) for s in report.statements]
    assert ("ALTER TABLE t ADD COLUMN z INTEGER", line_of("batch.add_column")) in by_sql, by_sql
    assert ("ALTER TABLE t RENAME x TO x2", line_of("batch.alter_column")) in by_sql, by_sql
    assert ("ALTER TABLE t DROP COLUMN y", line_of("batch.drop_column")) in by_sql, by_sql
