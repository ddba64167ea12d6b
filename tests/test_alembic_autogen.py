"""Autogenerate, split into expand/contract: the planner (no database), the operations and
the whole story on a real PostgreSQL (a temp Alembic project, v1 → v2 models)."""

from __future__ import annotations

import argparse
import re
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.operations import ops as aops
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from schemashift.alembic import process_revision_directives
from schemashift.alembic.autogen import chain, revision, split_directives
from schemashift.alembic.offline import render_operations
from schemashift.alembic.ops import (
    AutocommitBlockOp,
    BackfillOp,
    CreateSyncTriggerOp,
    DropSyncTriggerOp,
    ReversibleSQLOp,
    VerificationError,
    VerifyOp,
    sync_trigger_name,
)
from schemashift.alembic.phase_split import (
    BACKFILL,
    CONTRACT,
    EXPAND,
    VERIFY,
    SplitPlan,
    reverse_steps,
    split_operations,
    types_compatible,
)
from schemashift.cli.alembic import revision_command

# --------------------------------------------------------------------------- helpers


def users(*columns: sa.Column[Any], name: str = "users") -> sa.Table:
    """A model table: id primary key plus ``columns``."""
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *columns)


def add(column: sa.Column[Any], table: str = "users") -> aops.AddColumnOp:
    users(column, name=table)  # attach it to a model table, as autogenerate's are
    return aops.AddColumnOp(table, column)


def drop(name: str, type_: Any, nullable: bool = True, table: str = "users") -> aops.DropColumnOp:
    """A drop as autogenerate makes it: with the reflected column to reverse to."""
    reflected = sa.Column(name, type_, nullable=nullable)
    return aops.DropColumnOp(table, name, _reverse=aops.AddColumnOp(table, reflected))


def kinds(operations: list[Any]) -> list[str]:
    out = []
    for op in operations:
        if isinstance(op, AutocommitBlockOp):
            out.append("autocommit[" + ",".join(kinds(op.ops)) + "]")
        else:
            out.append(type(op).__name__)
    return out


def sql_of(operations: list[Any]) -> str:
    return "".join(sql for _, sql in render_operations(operations, "postgres"))


def plan(*operations: Any, **kw: Any) -> SplitPlan:
    kw.setdefault("server_version", "15")
    return split_operations(aops.UpgradeOps(list(operations)), "postgres", **kw)


# --------------------------------------------------------------------------- split: recipes


def test_compatible_changes_stay_in_expand_and_index_goes_concurrent() -> None:
    p = plan(
        add(sa.Column("nickname", sa.String(30))),
        aops.CreateIndexOp("ix_users_nickname", "users", ["nickname"]),
    )
    assert not p.needs_contract and p.contract == []
    assert kinds(p.expand) == ["AddColumnOp", "autocommit[CreateIndexOp]"]
    index = p.expand[1].ops[0]
    assert index.kw["postgresql_concurrently"] is True and index.if_not_exists is True
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_nickname" in sql_of(p.expand)
    assert all(step.why for step in p.steps)


def test_add_not_null_column_without_default() -> None:
    p = plan(add(sa.Column("status", sa.String(20), nullable=False)))
    assert kinds(p.expand) == ["AddColumnOp", "BackfillOp"]
    assert p.expand[0].column.nullable is True
    assert [s.phase for s in p.expand_steps] == [EXPAND, BACKFILL]
    backfill = p.expand[1]
    assert (backfill.expression, backfill.key, backfill.overwrite) == ("NULL", "id", False)
    assert any(s.todo and "placeholder NULL" in s.todo for s in p.steps)
    assert kinds(p.contract) == [
        "VerifyOp",
        "autocommit[CreateCheckConstraintOp,ReversibleSQLOp]",
        "AlterColumnOp",
        "DropConstraintOp",
    ]
    assert [s.phase for s in p.contract_steps] == [VERIFY, CONTRACT]
    sql = sql_of(p.contract)
    assert "CHECK (status IS NOT NULL) NOT VALID" in sql
    assert "VALIDATE CONSTRAINT ck_users_status_not_null" in sql
    assert "ALTER COLUMN status SET NOT NULL" in sql


def test_add_not_null_column_on_old_postgres_sets_not_null_directly() -> None:
    p = plan(add(sa.Column("status", sa.String(20), nullable=False)), server_version="11")
    assert kinds(p.contract) == ["VerifyOp", "AlterColumnOp"]


def test_add_not_null_column_with_a_volatile_default_backfills_the_default() -> None:
    column = sa.Column(
        "token", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")
    )
    p = plan(add(column))
    assert kinds(p.expand) == ["AddColumnOp", "AlterColumnOp", "BackfillOp"]
    assert p.expand[0].column.server_default is None
    assert p.expand[2].expression == "gen_random_uuid()"
    assert p.needs_contract


def test_add_not_null_column_with_a_constant_default_is_compatible() -> None:
    p = plan(add(sa.Column("status", sa.String(20), nullable=False, server_default="new")))
    assert kinds(p.expand) == ["AddColumnOp"] and not p.needs_contract


def test_foreign_key_not_valid_then_validate() -> None:
    p = plan(aops.CreateForeignKeyOp("fk_users_org", "users", "orgs", ["org_id"], ["id"]))
    assert kinds(p.expand) == ["CreateForeignKeyOp"]
    assert p.expand[0].kw["postgresql_not_valid"] is True
    assert kinds(p.contract) == ["autocommit[ReversibleSQLOp]"]
    assert "NOT VALID" in sql_of(p.expand)
    assert "ALTER TABLE users VALIDATE CONSTRAINT fk_users_org" in sql_of(p.contract)


def test_check_constraint_not_valid_then_validate() -> None:
    p = plan(aops.CreateCheckConstraintOp("ck_users_age", "users", "age >= 0"))
    assert "NOT VALID" in sql_of(p.expand)
    assert "VALIDATE CONSTRAINT ck_users_age" in sql_of(p.contract)


def test_unique_constraint_through_a_concurrent_index() -> None:
    p = plan(aops.CreateUniqueConstraintOp("uq_users_email", "users", ["email"]))
    assert "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_users_email" in sql_of(p.expand)
    assert (
        "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email"
        in sql_of(p.contract)
    )


def test_unnamed_constraint_asks_for_a_name() -> None:
    p = plan(aops.CreateUniqueConstraintOp(None, "users", ["email"]))
    assert p.needs_contract
    assert any(s.todo and "no name" in s.todo for s in p.steps)


def test_drop_column_drops_not_null_first() -> None:
    p = plan(drop("legacy", sa.String(20), nullable=False))
    assert kinds(p.expand) == ["AlterColumnOp"] and p.expand[0].modify_nullable is True
    assert kinds(p.contract) == ["DropColumnOp"]
    nullable = plan(drop("legacy", sa.String(20), nullable=True))
    assert nullable.expand == [] and kinds(nullable.contract) == ["DropColumnOp"]
    unknown = plan(aops.DropColumnOp("users", "legacy"))  # no reflected column
    assert any(s.todo and "nullable=True" in s.todo for s in unknown.steps)


def test_drops_go_to_contract() -> None:
    p = plan(
        aops.DropIndexOp("ix_users_email", "users"),
        aops.DropConstraintOp("uq_users_name", "users", type_="unique"),
        aops.DropTableOp("audit"),
    )
    assert p.expand == []
    assert kinds(p.contract) == ["autocommit[DropIndexOp]", "DropConstraintOp", "DropTableOp"]
    assert "DROP INDEX CONCURRENTLY IF EXISTS ix_users_email" in sql_of(p.contract)


def test_type_changes_follow_the_linter() -> None:
    widen = aops.AlterColumnOp(
        "users", "name", existing_type=sa.String(50), modify_type=sa.String(100)
    )
    narrow = aops.AlterColumnOp(
        "users", "name", existing_type=sa.String(100), modify_type=sa.String(50)
    )
    bigint = aops.AlterColumnOp(
        "users", "n", existing_type=sa.Integer(), modify_type=sa.BigInteger()
    )
    assert plan(widen).contract == [] and kinds(plan(widen).expand) == ["AlterColumnOp"]
    assert kinds(plan(narrow).contract) == ["AlterColumnOp"]
    assert kinds(plan(bigint).contract) == ["AlterColumnOp"]  # compatible but rewrites


def test_set_not_null_and_combined_alter_is_cut_per_aspect() -> None:
    op = aops.AlterColumnOp(
        "users", "name", existing_type=sa.String(50), existing_nullable=True,
        modify_type=sa.String(100), modify_nullable=False,
    )  # fmt: skip
    p = plan(op)
    assert kinds(p.expand) == ["AlterColumnOp", "BackfillOp"]
    assert p.expand[0].modify_type is not None and p.expand[0].modify_nullable is None
    assert kinds(p.contract)[0] == "VerifyOp"
    set_not_null = next(o for o in p.contract if isinstance(o, aops.AlterColumnOp))
    assert isinstance(set_not_null.existing_type, sa.String)


def test_operations_on_a_new_table_stay_plain() -> None:
    create = aops.CreateTableOp("orgs", [sa.Column("id", sa.Integer, primary_key=True)])
    p = plan(create, aops.CreateIndexOp("ix_orgs_id", "orgs", ["id"]))
    assert kinds(p.expand) == ["CreateTableOp", "CreateIndexOp"] and not p.needs_contract


def test_other_dialects_get_no_postgres_recipes() -> None:
    p = split_operations(
        [aops.CreateIndexOp("ix_users_nickname", "users", ["nickname"])], "mysql", "8.0"
    )
    assert kinds(p.expand) == ["CreateIndexOp"]
    assert "postgresql_concurrently" not in p.expand[0].kw


def test_unknown_renames_mode_and_dialect_are_refused() -> None:
    with pytest.raises(ValueError, match="renames"):
        plan(renames="sometimes")
    with pytest.raises(ValueError, match="dialect"):
        split_operations([], "oracle")


# --------------------------------------------------------------------------- split: renames


def rename_ops() -> list[Any]:
    return [add(sa.Column("full_name", sa.String(80), nullable=False)),
            drop("name", sa.VARCHAR(50), nullable=False)]  # fmt: skip


def test_rename_detected_auto() -> None:
    p = plan(*rename_ops(), renames="auto")
    assert [(r.table, r.old, r.new) for r in p.renames] == [("users", "name", "full_name")]
    assert kinds(p.expand) == ["AddColumnOp", "CreateSyncTriggerOp", "BackfillOp"]
    backfill = p.expand[2]
    assert (backfill.column_name, backfill.expression, backfill.overwrite) == (
        "full_name", "name", True,
    )  # fmt: skip
    # old was NOT NULL: equal columns are NOT NULL, no separate NULL check
    assert kinds(p.contract) == [
        "VerifyOp",
        "DropSyncTriggerOp",
        "DropColumnOp",
        "autocommit[CreateCheckConstraintOp,ReversibleSQLOp]",
        "AlterColumnOp",
        "DropConstraintOp",
    ]
    assert p.contract[0].condition == "full_name IS NOT DISTINCT FROM name"


def test_rename_never_keeps_drop_and_add() -> None:
    p = plan(*rename_ops(), renames="never")
    assert p.renames == []
    assert "AddColumnOp" in kinds(p.expand) and "DropColumnOp" in kinds(p.contract)
    assert any("--renames never" in n for n in p.notes)


def test_rename_ask_without_a_terminal_behaves_like_never() -> None:
    # pytest's stdin is not a TTY
    p = plan(*rename_ops(), renames="ask")
    assert p.renames == [] and any("needs a terminal" in n for n in p.notes)


def test_rename_ask_on_a_terminal() -> None:
    questions: list[str] = []

    def yes(question: str) -> bool:
        questions.append(question)
        return True

    p = plan(*rename_ops(), renames="ask", interactive=True, confirm=yes)
    assert len(p.renames) == 1 and "users.name -> full_name" in questions[0]
    p = plan(*rename_ops(), renames="ask", interactive=True, confirm=lambda q: False)
    assert p.renames == [] and any("answered no" in n for n in p.notes)


def test_rename_needs_compatible_types_and_one_candidate() -> None:
    narrowing = [add(sa.Column("full_name", sa.String(10))), drop("name", sa.VARCHAR(50))]
    assert plan(*narrowing).renames == []
    other_type = [add(sa.Column("age", sa.Integer())), drop("name", sa.VARCHAR(50))]
    assert plan(*other_type).renames == []
    ambiguous = [
        add(sa.Column("a", sa.String(50))),
        add(sa.Column("b", sa.String(50))),
        drop("name", sa.VARCHAR(50)),
    ]
    p = plan(*ambiguous)
    assert p.renames == [] and any("several drop/add pairs" in n for n in p.notes)
    other_table = [add(sa.Column("full_name", sa.String(50)), table="accounts"),
                   drop("name", sa.VARCHAR(50))]  # fmt: skip
    assert plan(*other_table).renames == []


def test_rename_kept_as_drop_and_add_off_postgres() -> None:
    p = split_operations(rename_ops(), "sqlite", renames="auto")
    assert p.renames == [] and any("PostgreSQL sync trigger" in n for n in p.notes)


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        (sa.String(20), sa.String(80), True),
        (sa.String(80), sa.String(20), False),
        (sa.String(20), sa.Text(), True),
        (sa.Text(), sa.String(20), False),
        (sa.Integer(), sa.BigInteger(), True),
        (sa.BigInteger(), sa.Integer(), False),
        (sa.Numeric(10, 2), sa.Numeric(12, 2), True),
        (sa.Numeric(10, 2), sa.Numeric(12, 3), False),
        (sa.DateTime(), sa.DateTime(timezone=True), False),
        (sa.Boolean(), sa.Boolean(), True),
    ],
)
def test_types_compatible(old: Any, new: Any, ok: bool) -> None:
    assert types_compatible(old, new, "postgres") is ok


def test_downgrades_undo_each_step() -> None:
    p = plan(*rename_ops())
    expand_down = reverse_steps(p.expand_steps)
    assert kinds(expand_down) == ["DropSyncTriggerOp", "DropColumnOp", "AlterColumnOp"]
    contract_down = reverse_steps(p.contract_steps)
    assert "CreateSyncTriggerOp" in kinds(contract_down)
    readd = next(o for o in contract_down if isinstance(o, aops.AddColumnOp))
    assert readd.column.name == "name" and readd.column.nullable is True


# --------------------------------------------------------------------------- operations, offline


def test_operations_render_offline() -> None:
    sql = sql_of(
        [
            BackfillOp("users", "status", "'active'", key="id", batch_size=100),
            BackfillOp("users", "full_name", "name", overwrite=True),
            VerifyOp("users", "status IS NOT NULL", "status must be set"),
        ]
    )
    assert "UPDATE users SET status = 'active' WHERE status IS NULL;" in sql
    assert "UPDATE users SET full_name = name WHERE full_name IS DISTINCT FROM (name);" in sql
    assert "-- schemashift verify: status must be set" in sql
    assert "SELECT count(*) FROM users WHERE (status IS NOT NULL) IS NOT TRUE;" in sql


def test_sync_trigger_sql_and_other_dialects() -> None:
    sql = sql_of([CreateSyncTriggerOp("users", "name", "full_name")])
    # One implementation with the strategies: sqltext/triggers.py (an INSERT and an UPDATE
    # trigger, each with its function).
    name = "schemashift_sync_users_name_full_name"
    for part in ("ins", "upd"):
        assert f"CREATE OR REPLACE FUNCTION {name}_{part}() RETURNS trigger" in sql
        assert f"CREATE TRIGGER {name}_{part} BEFORE" in sql
    assert "NEW.full_name := NEW.name" in sql  # the colon survived text()
    dropped = sql_of([DropSyncTriggerOp("users", "name", "full_name")])
    for part in ("ins", "upd"):
        assert f"DROP TRIGGER IF EXISTS {name}_{part} ON users" in dropped
        assert f"DROP FUNCTION IF EXISTS {name}_{part}()" in dropped
    with pytest.raises(NotImplementedError, match="PostgreSQL only"):
        render_operations([CreateSyncTriggerOp("users", "name", "full_name")], "sqlite")
    long = sync_trigger_name("t" * 40, "o" * 20, "n" * 20)
    assert len(long) <= 63 and long != sync_trigger_name("t" * 40, "o" * 20, "n" * 21)


def test_reversible_sql_op_renders_as_execute() -> None:
    from alembic.autogenerate.api import AutogenContext
    from alembic.autogenerate.render import render_op_text
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(
        dialect_name="postgresql",
        opts={"alembic_module_prefix": "op.", "sqlalchemy_module_prefix": "sa.",
              "user_module_prefix": None, "render_item": None},
    )  # fmt: skip
    autogen = AutogenContext(context, autogenerate=False)
    text = render_op_text(autogen, ReversibleSQLOp("ALTER TABLE t VALIDATE CONSTRAINT c"))
    assert text == "op.execute('ALTER TABLE t VALIDATE CONSTRAINT c')"
    block = render_op_text(autogen, AutocommitBlockOp([BackfillOp("t", "c", "1")]))
    assert block.startswith("with op.get_context().autocommit_block():")
    assert "import schemashift.alembic.ops" in " ".join(autogen.imports)


# --------------------------------------------------------------------------- the hook, no DB


class FakeContext:
    def __init__(self, labels: set[str]) -> None:
        revs = [type("Rev", (), {"branch_labels": labels})()]
        self.script = type("Script", (), {"walk_revisions": lambda self: iter(revs)})()
        self.dialect = type("Dialect", (), {"name": "postgresql", "server_version_info": (15,)})
        self.opts: dict[str, Any] = {}


def script_with(*operations: Any) -> aops.MigrationScript:
    return aops.MigrationScript(
        "abc", aops.UpgradeOps(list(operations)), aops.DowngradeOps([]),
        message="change", head="head",
    )  # fmt: skip


def test_hook_needs_the_branches_and_keeps_empty_revisions() -> None:
    with pytest.raises(CommandError, match="schemashift init"):
        split_directives(FakeContext(set()), [script_with(add(sa.Column("a", sa.Text)))])
    empty = [script_with()]
    split_directives(FakeContext({"expand", "contract"}), empty)
    assert len(empty) == 1 and empty[0].head == "expand@head"
    directives: list[Any] = []
    split_directives(FakeContext(set()), directives)  # a hook before dropped it: fine
    assert directives == []


def test_hook_splits_once_even_when_run_twice() -> None:
    directives = [script_with(*rename_ops())]
    context = FakeContext({"expand", "contract"})
    chain(None, process_revision_directives, process_revision_directives)(context, None, directives)
    expand, contract = directives
    assert (expand.head, contract.head) == ("expand@head", "contract@head")
    assert (expand.message, contract.message) == ("change (expand)", "change (contract)")
    assert expand.rev_id == "abc" and contract.depends_on == ["abc"]


def test_hook_reads_the_renames_mode_from_the_alembic_config() -> None:
    context = FakeContext({"expand", "contract"})
    context.config = Config()  # type: ignore[attr-defined]
    context.config.set_main_option("schemashift_renames", "never")  # type: ignore[attr-defined]
    directives = [script_with(*rename_ops())]
    process_revision_directives(context, None, directives)
    assert "DropColumnOp" in kinds(directives[1].upgrade_ops.ops)
    assert "CreateSyncTriggerOp" not in kinds(directives[0].upgrade_ops.ops)
    context.config.set_main_option("schemashift_renames", "maybe")  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="renames must be one of"):
        process_revision_directives(context, None, [script_with(*rename_ops())])


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        revision_command, ["-m", "x", "--alembic-config", str(tmp_path / "missing.ini")]
    )
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no such Alembic config" in result.output


# --------------------------------------------------------------------------- on PostgreSQL

ENV_PY = """\
from pathlib import Path

from alembic import context
from sqlalchemy import engine_from_config, pool

import schemashift.alembic

# models.py is rewritten between runs: read it afresh each time (no bytecode cache)
_path = Path(__file__).resolve().parent.parent / "models.py"
_models = {}
exec(compile(_path.read_text(), str(_path), "exec"), _models)
target_metadata = _models["metadata"]
config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            process_revision_directives=schemashift.alembic.process_revision_directives,
        )
        with context.begin_transaction():
            context.run_migrations()
"""

V1 = """\
import sqlalchemy as sa
metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100)),
    sa.Column("legacy", sa.String(20), nullable=False),
)
"""


def psycopg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Project:
    """A temp Alembic project whose env.py reads models.py and uses the hook."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.ini = root / "alembic.ini"
        self.url = url
        command.init(self.config(url, quiet=True), str(root / "migrations"))
        (root / "migrations" / "env.py").write_text(ENV_PY)
        ini = re.sub(r"(?m)^sqlalchemy\.url = .*$", "sqlalchemy.url = " + url.replace("%", "%%"),
                     self.ini.read_text())  # fmt: skip
        self.ini.write_text(ini)
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.expand_root, self.contract_root = self._branch_roots()

    def config(self, url: str | None = None, *, quiet: bool = True) -> Config:
        cfg = Config(str(self.ini), cmd_opts=argparse.Namespace(quiet=quiet))
        cfg.set_main_option("sqlalchemy.url", (url or self.url).replace("%", "%%"))
        return cfg

    def _branch_roots(self) -> tuple[str, str]:
        try:
            from schemashift.alembic.init import init_project
        except ImportError:  # not there yet: write the layout `schemashift init` makes
            script = ScriptDirectory.from_config(self.config())
            script.generate_revision("e0", "start expand", head="base", branch_labels=("expand",))
            script.generate_revision("c0", "start contract", head="base", splice=True,
                                     branch_labels=("contract",), depends_on="e0")  # fmt: skip
            return "e0", "c0"
        result = init_project(self.ini, dialect="postgres")
        assert result.expand_revision and result.contract_revision
        return result.expand_revision, result.contract_revision

    def models(self, text: str) -> None:
        (self.root / "models.py").write_text(textwrap.dedent(text))

    @property
    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def upgrade(self, target: str, url: str | None = None) -> None:
        command.upgrade(self.config(url), target)

    def columns(self, engine: sa.Engine | None = None) -> dict[str, bool]:
        """column -> nullable"""
        inspector = sa.inspect(engine or self.engine)
        return {c["name"]: c["nullable"] for c in inspector.get_columns("users")}

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []


@pytest.fixture
def fresh_url(postgres_url: str) -> Iterator[str]:
    """A second empty database beside the test's own (for plain `upgrade heads`)."""
    base = make_url(psycopg_url(postgres_url))
    name = f"{base.database}_b{uuid.uuid4().hex[:4]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)  # fmt: skip
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def project(tmp_path: Path, postgres_url: str) -> Project:
    """v1 models generated (one expand revision, through the env.py hook) and applied."""
    p = Project(tmp_path / "proj", psycopg_url(postgres_url))
    p.models(V1)
    p.upgrade("heads")
    generated = command.revision(p.config(), message="v1", autogenerate=True)
    assert not isinstance(generated, list) and generated is not None
    assert generated.down_revision == p.expand_root
    assert "expand" in p.script.get_revision(generated.revision).branch_labels  # type: ignore[union-attr]
    p.upgrade("heads")
    p.sql("INSERT INTO users (name, email, legacy) SELECT 'n' || g, 'e' || g, 'l' "
          "FROM generate_series(1, 25) AS g")  # fmt: skip
    return p


def generate(p: Project, text: str, message: str = "v2", renames: str = "auto") -> Any:
    p.models(text)
    result = revision(p.config(), message, renames=renames)
    for path in result.paths:
        compile(path.read_text(), str(path), "exec")  # readable, valid Python
    return result


def prose(revision_text: str) -> str:
    """The comments of a revision file as one line of text (they are wrapped)."""
    comments = [line.strip()[1:].strip() for line in revision_text.splitlines()
                if line.strip().startswith("#")]  # fmt: skip
    return " ".join(" ".join(comments).split())


def assert_heads(p: Project, expand: str, contract: str) -> None:
    script = p.script
    heads = set(script.get_heads())
    assert heads == {expand, contract}
    expand_rev, contract_rev = script.get_revision(expand), script.get_revision(contract)
    assert expand_rev is not None and contract_rev is not None
    assert "expand" in expand_rev.branch_labels and "contract" in contract_rev.branch_labels


def check_fresh_database(p: Project, url: str, expected: dict[str, bool]) -> None:
    """Plain `alembic upgrade heads` on an empty database applies every phase in order."""
    p.upgrade("heads", url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        assert p.columns(engine) == expected
    finally:
        engine.dispose()


def test_compatible_change_is_one_expand_revision(project: Project, fresh_url: str) -> None:
    p = project
    before = p.script.get_revision("expand@head")
    assert before is not None
    # through Alembic itself: the env.py hook does the split
    p.models(V1.replace(
        'sa.Column("email", sa.String(100)),',
        'sa.Column("email", sa.String(100)),\n'
        '    sa.Column("nickname", sa.String(30), index=True),',
    ))  # fmt: skip
    made = command.revision(p.config(), message="nickname", autogenerate=True)
    assert not isinstance(made, list) and made is not None
    assert made.down_revision == before.revision
    text = Path(made.path).read_text()
    assert "(expand)" in text and "so there is no contract revision" in prose(text)
    assert "with op.get_context().autocommit_block():" in text
    assert "postgresql_concurrently=True" in text and "if_not_exists=True" in text
    assert_heads(p, made.revision, p.contract_root)
    p.upgrade("expand@head")
    p.upgrade("contract@head")
    assert p.columns()["nickname"] is True
    indexes = {i["name"] for i in sa.inspect(p.engine).get_indexes("users")}
    assert "ix_users_nickname" in indexes
    check_fresh_database(p, fresh_url, {"id": False, "name": False, "email": True,
                                        "legacy": False, "nickname": True})  # fmt: skip


def test_rename_becomes_expand_and_contract(project: Project, fresh_url: str) -> None:
    p = project
    result = generate(p, V1.replace('"name", sa.String(50)', '"full_name", sa.String(80)'))
    assert result.plan is not None and len(result.plan.renames) == 1
    expand, contract = result.expand, result.contract
    assert [s.revision for s in result.scripts] == [expand.revision, contract.revision]
    assert contract.dependencies == expand.revision
    assert contract.down_revision == p.contract_root
    assert_heads(p, expand.revision, contract.revision)
    expand_text, contract_text = Path(expand.path).read_text(), Path(contract.path).read_text()
    assert "op.schemashift_sync_trigger('users', 'name', 'full_name')" in expand_text
    assert "op.schemashift_backfill('users', 'full_name', 'name'" in expand_text
    assert "import schemashift.alembic.ops" in expand_text
    assert "Expand runs before the new app version ships; contract only after" in prose(expand_text)
    assert (
        "op.schemashift_verify(" in contract_text
        and "op.drop_column('users', 'name')" in contract_text
    )

    p.upgrade("expand@head")
    assert p.columns()["full_name"] is True and p.columns()["name"] is False
    assert p.sql("SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name")[0][0] == 0
    # both app versions write during the window
    p.sql("INSERT INTO users (name, legacy) VALUES ('old app', 'l')")
    p.sql("INSERT INTO users (full_name, legacy) VALUES ('new app', 'l')")
    p.sql("UPDATE users SET name = 'n1 renamed' WHERE id = 1")
    p.sql("UPDATE users SET full_name = 'n2 renamed' WHERE id = 2")
    rows = dict(p.sql("SELECT name, full_name FROM users WHERE id IN (1, 2) "
                      "OR name IN ('old app', 'new app')"))  # fmt: skip
    assert rows == {"old app": "old app", "new app": "new app",
                    "n1 renamed": "n1 renamed", "n2 renamed": "n2 renamed"}  # fmt: skip

    p.upgrade("contract@head")
    assert p.columns() == {"id": False, "full_name": False, "email": True, "legacy": False}
    names = {r[0] for r in p.sql("SELECT full_name FROM users")}
    assert {"n5", "n25", "old app", "new app", "n1 renamed", "n2 renamed"} <= names
    assert len(names) == 27
    triggers = p.sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    assert triggers == []
    command.check(p.config())  # the models and the database agree
    # downgrade (development): contract, then expand; the data comes back in name
    command.downgrade(p.config(), "contract@-1")
    assert p.columns()["name"] is True and p.columns()["full_name"] is True
    command.downgrade(p.config(), "expand@-1")
    assert "full_name" not in p.columns() and p.columns()["name"] is False
    assert len({r[0] for r in p.sql("SELECT name FROM users")}) == 27
    check_fresh_database(p, fresh_url, {"id": False, "full_name": False, "email": True,
                                        "legacy": False})  # fmt: skip


def test_new_not_null_column(project: Project, fresh_url: str) -> None:
    p = project
    result = generate(p, V1.replace(
        'sa.Column("email", sa.String(100)),',
        'sa.Column("email", sa.String(100)),\n    sa.Column("status", sa.String(20), nullable=False),',
    ))  # fmt: skip
    expand, contract = result.expand, result.contract
    assert contract is not None and contract.dependencies == expand.revision
    expand_text = Path(expand.path).read_text()
    assert "TODO: replace the placeholder NULL" in expand_text
    assert "nullable=True" in expand_text
    p.upgrade("expand@head")
    assert p.columns()["status"] is True
    p.sql("INSERT INTO users (name, legacy) VALUES ('old app', 'l')")  # the old app inserts
    with pytest.raises(VerificationError, match=r"26 row\(s\)"):
        p.upgrade("contract@head")
    assert p.script.get_revision("contract@head") is not None
    p.sql("UPDATE users SET status = 'active'")  # what the reviewer's backfill does
    p.upgrade("contract@head")
    assert p.columns()["status"] is False
    checks = p.sql("SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass "
                   "AND contype = 'c'")  # fmt: skip
    assert checks == []  # the helper CHECK is gone
    check_fresh_database(p, fresh_url, {"id": False, "name": False, "email": True,
                                        "status": False, "legacy": False})  # fmt: skip


def test_dropped_column(project: Project, fresh_url: str, tmp_path: Path) -> None:
    p = project
    p.models(V1.replace('    sa.Column("legacy", sa.String(20), nullable=False),\n', ""))
    # through the click command (another test drives revision() directly)
    runner = CliRunner()
    outcome = runner.invoke(revision_command, ["-m", "drop legacy", "--alembic-config",
                                               str(p.ini), "--renames", "never"])  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "expand" in outcome.output and "contract" in outcome.output
    script = p.script
    contract = script.get_revision("contract@head")
    expand = script.get_revision("expand@head")
    assert contract is not None and expand is not None
    assert contract.dependencies == expand.revision
    assert "op.drop_column('users', 'legacy')" in Path(contract.path).read_text()
    assert "nullable=True" in Path(expand.path).read_text()
    p.upgrade("expand@head")
    assert p.columns()["legacy"] is True  # NOT NULL dropped: the new app can stop writing it
    p.sql("INSERT INTO users (name) VALUES ('new app')")
    p.upgrade("contract@head")
    assert "legacy" not in p.columns()
    assert p.sql("SELECT count(*) FROM users")[0][0] == 26
    check_fresh_database(p, fresh_url, {"id": False, "name": False, "email": True})


# --------------------------------------------------------------------------- operations, online


@pytest.fixture
def run_ops(postgres_url: str) -> Iterator[Callable[..., sa.Connection]]:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(psycopg_url(postgres_url), poolclass=sa.pool.NullPool)
    conn = engine.connect()
    conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, a text, b text)"))
    conn.execute(sa.text("INSERT INTO t SELECT g, 'v' || g, NULL FROM generate_series(1, 23) g"))
    conn.commit()

    def run(*operations: Any) -> sa.Connection:
        ops_ = Operations(MigrationContext.configure(conn))
        for op in operations:
            ops_.invoke(op)
        conn.commit()
        return conn

    yield run
    conn.close()
    engine.dispose()


def test_backfill_online_in_batches(run_ops: Callable[..., sa.Connection]) -> None:
    statements: list[str] = []
    conn = run_ops()
    sa.event.listen(conn, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))  # fmt: skip
    conn.execute(sa.text("UPDATE t SET b = 'kept' WHERE id = 3"))
    run_ops(BackfillOp("t", "b", "upper(a)", key="id", batch_size=5))
    updates = [s for s in statements if "UPDATE" in s and "WITH batch" in s]
    assert len(updates) == 6  # 23 rows in batches of 5, then the empty batch ends it
    rows = dict(conn.execute(sa.text("SELECT id, b FROM t")).all())
    assert rows[3] == "kept" and rows[4] == "V4" and rows[23] == "V23"
    run_ops(BackfillOp("t", "b", "a", batch_size=10, overwrite=True))
    assert conn.execute(sa.text("SELECT count(*) FROM t WHERE b IS DISTINCT FROM a")).scalar() == 0


def test_verify_online(run_ops: Callable[..., sa.Connection]) -> None:
    run_ops(VerifyOp("t", "a IS NOT NULL", "a must be set"))
    with pytest.raises(VerificationError, match=r"on t: b must be set \(23 row\(s\) do not"):
        run_ops(VerifyOp("t", "b IS NOT NULL", "b must be set"))


def test_sync_trigger_online(run_ops: Callable[..., sa.Connection]) -> None:
    conn = run_ops(CreateSyncTriggerOp("t", "a", "b"))
    conn.execute(sa.text("INSERT INTO t (id, a) VALUES (100, 'old')"))
    conn.execute(sa.text("INSERT INTO t (id, b) VALUES (101, 'new')"))
    conn.execute(sa.text("UPDATE t SET b = 'changed' WHERE id = 100"))
    conn.execute(sa.text("UPDATE t SET a = 'changed too' WHERE id = 101"))
    rows = conn.execute(sa.text("SELECT id, a, b FROM t WHERE id >= 100 ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(100, "changed", "changed"),
                                        (101, "changed too", "changed too")]  # fmt: skip
    run_ops(DropSyncTriggerOp("t", "a", "b"))
    conn.execute(sa.text("INSERT INTO t (id, a) VALUES (102, 'alone')"))
    assert conn.execute(sa.text("SELECT b FROM t WHERE id = 102")).scalar() is None
    assert conn.execute(sa.text("SELECT count(*) FROM pg_proc WHERE proname LIKE "
                                "'schemashift_sync%'")).scalar() == 0  # fmt: skip
