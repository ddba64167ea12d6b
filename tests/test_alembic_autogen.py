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
from schemashift.alembic.change_op import ChangeOp
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
    SplitPlan,
    reverse_steps,
    split_operations,
    types_compatible,
)
from schemashift.cli.alembic import revision_command
from schemashift.config import Config as SchemashiftConfig
from schemashift.phases.plan import part_steps
from schemashift.phases.planner import plan_sql
from schemashift.sqltext import refs

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


def changes(operations: list[Any]) -> list[tuple[str, str]]:
    """(part, SQL) of each ``op.schemashift_change`` among ``operations``."""
    return [(op.part, op.sql) for op in operations if isinstance(op, ChangeOp)]


def planned(op: ChangeOp, dialect: str = "postgres") -> Any:
    """plan_sql of the change's SQL: what a ``.sql`` migration of it gets (one recipe book)."""
    return plan_sql(op.sql, "x", SchemashiftConfig().with_overrides(dialect=dialect),
                    schema=op.existing)  # fmt: skip


def part_text(op: ChangeOp, dialect: str = "postgres") -> str:
    """What the change's part runs, one line each: statements (a rollback's undo
    statements), ``verify:`` checks and ``backfill:`` assignments, references rendered."""
    lines: list[str] = []
    for step in part_steps(planned(op, dialect), op.part):
        sql = step.rollback if op.part == "rollback" else step.sql
        lines += [" ".join(refs.render(s).split()) for s in sql]
        if step.verify is not None and op.part != "rollback":
            lines.append("verify: " + " ".join(refs.render(step.verify.sql).split()))
        if step.backfill is not None:
            lines.append(f"backfill: {step.backfill.assignments} WHERE {step.backfill.pending}")
    return "\n".join(lines)


def strategy_of(op: ChangeOp, dialect: str = "postgres") -> str:
    (label,) = planned(op, dialect).strategies
    return str(label).rsplit(" ", 1)[-1]


# --------------------------------------------------------------------------- split: recipes


def test_compatible_changes_stay_in_expand_and_index_goes_concurrent() -> None:
    p = plan(
        add(sa.Column("nickname", sa.String(30))),
        aops.CreateIndexOp("ix_users_nickname", "users", ["nickname"]),
    )
    # the compatible column as written; the index through the create_index strategy:
    # built CONCURRENTLY at expand, checked valid at contract (a failed build leaves an
    # INVALID index that IF NOT EXISTS would keep)
    index_sql = "CREATE INDEX ix_users_nickname ON users (nickname);"
    assert kinds(p.expand) == ["AddColumnOp", "ChangeOp"]
    assert p.expand[0].column.name == "nickname" and p.expand[0].column.nullable is True
    assert changes(p.expand) == [("expand", index_sql)]
    assert changes(p.contract) == [("contract", index_sql)]
    assert strategy_of(p.expand[1]) == "create_index"
    assert part_text(p.expand[1]) == (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_nickname ON users (nickname)")
    expand_step = part_steps(planned(p.expand[1]), "expand")[0]
    assert expand_step.concurrent  # outside a transaction
    assert expand_step.rollback == ("DROP INDEX CONCURRENTLY IF EXISTS ix_users_nickname",)
    contract = part_text(p.contract[0])
    assert contract.startswith("verify: ") and "\n" not in contract and "indisvalid" in contract
    assert all(step.why for step in p.steps)


ADD_STATUS = "ALTER TABLE users ADD COLUMN status VARCHAR(20) NOT NULL;"


def test_add_not_null_column_without_default() -> None:
    p = plan(add(sa.Column("status", sa.String(20), nullable=False)))
    # the add_not_null_column strategy, then the value the user must write: nothing can
    # fill the new column for existing rows, so a placeholder backfill and a TODO
    assert kinds(p.expand) == ["ChangeOp", "BackfillOp"]
    assert changes(p.expand) == [("expand", ADD_STATUS)]
    assert strategy_of(p.expand[0]) == "add_not_null_column"
    assert [s.phase for s in p.expand_steps] == [EXPAND, BACKFILL]
    expand = part_text(p.expand[0])
    assert "ALTER TABLE users ADD COLUMN IF NOT EXISTS status varchar(20)" in expand.splitlines()
    assert "NOT NULL" not in expand.replace("IS NOT NULL", "")  # added nullable
    assert "backfill:" not in expand  # no default: the strategy fills nothing
    backfill = p.expand[1]
    assert (backfill.table_name, backfill.column_name) == ("users", "status")
    assert (backfill.expression, backfill.key, backfill.overwrite) == ("NULL", "id", False)
    (todo,) = [s.todo for s in p.steps if s.todo]
    assert "replace the placeholder NULL with the SQL expression that fills users.status" in todo
    assert changes(p.contract) == [("contract", ADD_STATUS)]
    assert [s.phase for s in p.contract_steps] == [CONTRACT]
    contract = part_text(p.contract[0]).splitlines()
    assert contract[0] == "verify: SELECT {pk of users} FROM users WHERE status IS NULL"
    assert contract[1:3] == [
        "ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_status_not_null",
        "ALTER TABLE users ADD CONSTRAINT ck_users_status_not_null "
        "CHECK (status IS NOT NULL) NOT VALID",
    ]
    # VALIDATE in a re-runnable DO block, then SET NOT NULL skips the scan
    assert "ALTER TABLE users VALIDATE CONSTRAINT ck_users_status_not_null;" in contract[3]
    assert contract[4:] == [
        "ALTER TABLE users ALTER COLUMN status SET NOT NULL",
        "ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_status_not_null",
    ]


def test_add_not_null_column_on_old_postgres_takes_the_strategy_too() -> None:
    # One recipe book: the strategies plan for the dialect, as for a .sql migration (before
    # PostgreSQL 12 SET NOT NULL still scans under its lock; the CHECK only adds a scan
    # under SHARE UPDATE EXCLUSIVE), so the server version does not change the revisions.
    old = plan(add(sa.Column("status", sa.String(20), nullable=False)), server_version="11")
    new = plan(add(sa.Column("status", sa.String(20), nullable=False)))
    assert changes(old.expand) == changes(new.expand) == [("expand", ADD_STATUS)]
    assert changes(old.contract) == changes(new.contract) == [("contract", ADD_STATUS)]
    assert kinds(old.expand) == ["ChangeOp", "BackfillOp"]
    assert "ALTER TABLE users ALTER COLUMN status SET NOT NULL" in part_text(old.contract[0])


def test_add_not_null_column_with_a_volatile_default_backfills_the_default() -> None:
    column = sa.Column(
        "token", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")
    )
    p = plan(add(column))
    sql = "ALTER TABLE users ADD COLUMN token UUID DEFAULT gen_random_uuid() NOT NULL;"
    assert kinds(p.expand) == ["ChangeOp"]  # the default fills the rows: no placeholder
    assert changes(p.expand) == [("expand", sql)] and not any(s.todo for s in p.steps)
    expand = part_text(p.expand[0]).splitlines()
    # nullable without a default, the default for new rows, then the batched backfill
    assert expand[-3:] == [
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS token uuid",
        "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()",
        "backfill: token = gen_random_uuid() WHERE token IS NULL",
    ]
    assert p.needs_contract and changes(p.contract) == [("contract", sql)]
    assert "ALTER TABLE users ALTER COLUMN token SET NOT NULL" in part_text(p.contract[0])


def test_add_not_null_column_with_a_constant_default_is_compatible() -> None:
    p = plan(add(sa.Column("status", sa.String(20), nullable=False, server_default="new")))
    assert kinds(p.expand) == ["AddColumnOp"] and not p.needs_contract


def test_foreign_key_not_valid_then_validate() -> None:
    p = plan(aops.CreateForeignKeyOp("fk_users_org", "users", "orgs", ["org_id"], ["id"]))
    sql = "ALTER TABLE users ADD CONSTRAINT fk_users_org FOREIGN KEY(org_id) REFERENCES orgs (id);"
    assert changes(p.expand) == [("expand", sql)] and kinds(p.expand) == ["ChangeOp"]
    assert changes(p.contract) == [("contract", sql)] and kinds(p.contract) == ["ChangeOp"]
    assert strategy_of(p.expand[0]) == "add_foreign_key"
    expand = part_text(p.expand[0])
    assert "ADD CONSTRAINT fk_users_org FOREIGN KEY(org_id) REFERENCES orgs (id) NOT VALID" in expand
    contract = part_text(p.contract[0]).splitlines()
    assert contract[0].startswith("verify: ") and "NOT EXISTS (SELECT 1 FROM orgs" in contract[0]
    assert contract[1:] == ["ALTER TABLE users VALIDATE CONSTRAINT fk_users_org"]


def test_check_constraint_not_valid_then_validate() -> None:
    p = plan(aops.CreateCheckConstraintOp("ck_users_age", "users", "age >= 0"))
    assert "NOT VALID" in part_text(p.expand[0])
    assert "VALIDATE CONSTRAINT ck_users_age" in part_text(p.contract[0])


def test_unique_constraint_through_a_concurrent_index() -> None:
    p = plan(aops.CreateUniqueConstraintOp("uq_users_email", "users", ["email"]))
    assert "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_users_email" in part_text(p.expand[0])
    assert (
        "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email"
        in part_text(p.contract[0])
    )


def test_unnamed_constraint_gets_the_name_postgres_would_give() -> None:
    # the add_unique strategy names it as PostgreSQL would (table_column_key), so the
    # index, the constraint and the model agree; no name to ask for
    p = plan(aops.CreateUniqueConstraintOp(None, "users", ["email"]))
    sql = "ALTER TABLE users ADD UNIQUE (email);"
    assert changes(p.expand) == [("expand", sql)] and changes(p.contract) == [("contract", sql)]
    assert "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key" in part_text(p.expand[0])
    assert ("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key"
            in part_text(p.contract[0]))  # fmt: skip
    assert not any(s.todo for s in p.steps)
    # a constraint no strategy plans (a primary key) still asks for a name
    pk = plan(aops.CreatePrimaryKeyOp(None, "users", ["email"]))
    assert pk.needs_contract and changes(pk.contract) == []
    assert any(s.todo and "no name" in s.todo for s in pk.steps)


def test_drop_column_drops_not_null_first() -> None:
    sql = "ALTER TABLE users DROP COLUMN legacy;"
    # NOT NULL or not, reflected or not: the drop_column strategy reads the catalog at run
    # time and drops NOT NULL at expand only for a NOT NULL column without a default, so
    # the new app version can stop writing it (no TODO for an unknown column any more)
    for p in (plan(drop("legacy", sa.String(20), nullable=False)),
              plan(drop("legacy", sa.String(20), nullable=True)),
              plan(aops.DropColumnOp("users", "legacy"))):  # fmt: skip
        assert changes(p.expand) == [("expand", sql)] and kinds(p.expand) == ["ChangeOp"]
        assert changes(p.contract) == [("contract", sql)] and kinds(p.contract) == ["ChangeOp"]
        assert not any(s.todo for s in p.steps)
    expand = part_text(p.expand[0]).splitlines()
    assert "a.attnotnull AND NOT a.atthasdef" in expand[-1]
    assert "ALTER TABLE users ALTER COLUMN legacy DROP NOT NULL;" in expand[-1]
    assert part_text(p.contract[0]) == "ALTER TABLE users DROP COLUMN IF EXISTS legacy"
    rollback = part_text(ChangeOp(sql, "rollback"))
    assert "ALTER TABLE users ALTER COLUMN legacy SET NOT NULL;" in rollback


def test_drops_go_to_contract() -> None:
    p = plan(
        aops.DropIndexOp("ix_users_email", "users"),
        aops.DropConstraintOp("uq_users_name", "users", type_="unique"),
        aops.DropTableOp("audit"),
    )
    assert p.expand == []
    # no strategy drops an index or a constraint: the recipes; the drop_table strategy
    assert kinds(p.contract) == ["autocommit[DropIndexOp]", "DropConstraintOp", "ChangeOp"]
    assert "DROP INDEX CONCURRENTLY IF EXISTS ix_users_email" in sql_of(p.contract[:2])
    assert changes(p.contract) == [("contract", "DROP TABLE audit;")]
    assert part_text(p.contract[2]) == "DROP TABLE IF EXISTS audit"


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
    # widening: no rewrite, compatible - as written (priced on the existing type)
    assert plan(widen).contract == [] and kinds(plan(widen).expand) == ["AlterColumnOp"]
    # narrowing (breaking) and int -> bigint (rewrites): the change_column_type strategy,
    # planned with the column's type as it is (existing=)
    for op, sql, existing in (
        (narrow, "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(50);",
         "CREATE TABLE users (name VARCHAR(100))"),
        (bigint, "ALTER TABLE users ALTER COLUMN n TYPE BIGINT;",
         "CREATE TABLE users (n INTEGER)"),
    ):  # fmt: skip
        p = plan(op)
        assert changes(p.expand) == [("expand", sql)] and changes(p.contract) == [("contract", sql)]
        assert p.expand[0].existing == p.contract[0].existing == existing
        assert strategy_of(p.expand[0]) == "change_column_type"
        column = op.column_name
        assert f"ALTER TABLE users ADD COLUMN IF NOT EXISTS _ss_new_{column}" in part_text(
            p.expand[0])
        assert f"ALTER TABLE users DROP COLUMN {column}" in part_text(p.contract[0])


def test_set_not_null_and_combined_alter_is_cut_per_aspect() -> None:
    op = aops.AlterColumnOp(
        "users", "name", existing_type=sa.String(50), existing_nullable=True,
        modify_type=sa.String(100), modify_nullable=False,
    )  # fmt: skip
    p = plan(op)
    # the widening as written at expand; SET NOT NULL through the set_not_null strategy
    # (verify no NULL, then CHECK NOT VALID, VALIDATE, SET NOT NULL) at contract
    assert kinds(p.expand) == ["AlterColumnOp"]
    assert p.expand[0].modify_type is not None and p.expand[0].modify_nullable is None
    sql = "ALTER TABLE users ALTER COLUMN name SET NOT NULL;"
    assert kinds(p.contract) == ["ChangeOp"] and changes(p.contract) == [("contract", sql)]
    assert strategy_of(p.contract[0]) == "set_not_null"
    contract = part_text(p.contract[0]).splitlines()
    assert contract[0] == "verify: SELECT {pk of users} FROM users WHERE name IS NULL"
    assert "ALTER TABLE users ALTER COLUMN name SET NOT NULL" in contract


def test_operations_on_a_new_table_stay_plain() -> None:
    create = aops.CreateTableOp("orgs", [sa.Column("id", sa.Integer, primary_key=True)])
    p = plan(create, aops.CreateIndexOp("ix_orgs_id", "orgs", ["id"]))
    assert kinds(p.expand) == ["CreateTableOp", "CreateIndexOp"] and not p.needs_contract


def test_other_dialects_get_no_postgres_recipes() -> None:
    p = split_operations(
        [aops.CreateIndexOp("ix_users_nickname", "users", ["nickname"])], "mysql", "8.0"
    )
    # MySQL's create_index strategy: online (INPLACE, LOCK=NONE), nothing at contract
    assert kinds(p.expand) == ["ChangeOp"] and not p.needs_contract
    assert changes(p.expand) == [("expand", "CREATE INDEX ix_users_nickname ON users (nickname);")]
    assert part_text(p.expand[0], "mysql") == (
        "CREATE INDEX ix_users_nickname ON users (nickname) ALGORITHM=INPLACE LOCK=NONE")
    assert "CONCURRENTLY" not in part_text(ChangeOp(p.expand[0].sql, "rollback"), "mysql")


def test_unknown_renames_mode_and_dialect_are_refused() -> None:
    with pytest.raises(ValueError, match="renames"):
        plan(renames="sometimes")
    with pytest.raises(ValueError, match="dialect"):
        split_operations([], "oracle")


# --------------------------------------------------------------------------- split: renames


def rename_ops() -> list[Any]:
    return [add(sa.Column("full_name", sa.String(80), nullable=False)),
            drop("name", sa.VARCHAR(50), nullable=False)]  # fmt: skip


RENAME = "ALTER TABLE users RENAME COLUMN name TO full_name"
NAME_AS_IT_IS = "CREATE TABLE users (name VARCHAR(50) NOT NULL)"


def test_rename_detected_auto() -> None:
    p = plan(*rename_ops(), renames="auto")
    assert [(r.table, r.old, r.new) for r in p.renames] == [("users", "name", "full_name")]
    # the rename_column strategy, planned with the old column's definition
    assert kinds(p.expand) == ["ChangeOp"] and changes(p.expand) == [("expand", RENAME)]
    assert p.expand[0].existing == NAME_AS_IT_IS and strategy_of(p.expand[0]) == "rename_column"
    expand = part_text(p.expand[0]).splitlines()
    assert "ALTER TABLE users ADD COLUMN IF NOT EXISTS full_name {type of users.name}" in expand
    assert any(line.startswith("CREATE TRIGGER schemashift_sync_users_name_full_name_ins")
               for line in expand)  # fmt: skip
    assert expand[-1] == "backfill: full_name = name WHERE full_name IS DISTINCT FROM name"
    # contract: verify the columns agree, drop the trigger and name (full_name takes its
    # NOT NULL), then the model's wider type of the renamed column
    assert kinds(p.contract) == ["ChangeOp", "AlterColumnOp"]
    assert changes(p.contract) == [("contract", RENAME)]
    contract = part_text(p.contract[0]).splitlines()
    assert contract[0] == "verify: SELECT {pk of users} FROM users WHERE full_name IS DISTINCT FROM name"
    assert contract[-1] == "ALTER TABLE users DROP COLUMN name"
    widen = p.contract[1]
    assert (widen.column_name, str(widen.modify_type), widen.modify_nullable) == (
        "full_name", "VARCHAR(80)", None)  # fmt: skip


def test_rename_never_keeps_drop_and_add() -> None:
    p = plan(*rename_ops(), renames="never")
    assert p.renames == []
    add_sql = "ALTER TABLE users ADD COLUMN full_name VARCHAR(80) NOT NULL;"
    drop_sql = "ALTER TABLE users DROP COLUMN name;"
    assert changes(p.expand) == [("expand", add_sql), ("expand", drop_sql)]
    assert changes(p.contract) == [("contract", add_sql), ("contract", drop_sql)]
    assert kinds(p.expand)[-1] == "BackfillOp" and p.expand[-1].expression == "NULL"
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


@pytest.mark.parametrize(
    ("dialect", "trigger"),
    [("mysql", "CREATE TRIGGER IF NOT EXISTS `schemashift_sync_users_name_full_name_ins`"),
     ("sqlite", "CREATE TRIGGER IF NOT EXISTS schemashift_sync_users_name_full_name_ins")],
)  # fmt: skip
def test_rename_off_postgres_through_the_strategy(dialect: str, trigger: str) -> None:
    # the rename_column strategy plans renames on MySQL/MariaDB and SQLite too (their own
    # triggers), where the old recipe kept a drop and an add
    p = split_operations(rename_ops(), dialect, renames="auto")
    assert [(r.table, r.old, r.new) for r in p.renames] == [("users", "name", "full_name")]
    (expand,) = [o for o in p.expand if isinstance(o, ChangeOp)]
    assert changes(p.expand) == [("expand", RENAME)] and expand.existing is not None
    assert strategy_of(expand, dialect) == "rename_column"
    assert trigger in part_text(expand, dialect)
    assert changes(p.contract) == [("contract", RENAME)]
    assert "DROP COLUMN" in part_text(p.contract[0], dialect)


def test_rename_no_strategy_plans_is_kept_as_drop_and_add(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemashift.alembic import phase_split

    routed = phase_split._by_strategy
    monkeypatch.setattr(phase_split, "_by_strategy", lambda sql, *a, **kw: None
                        if sql and "RENAME COLUMN" in sql else routed(sql, *a, **kw))  # fmt: skip
    p = plan(*rename_ops(), renames="auto")
    assert p.renames == [] and any("no strategy plans it" in n for n in p.notes)
    assert "DROP COLUMN name" in " ".join(sql for _, sql in changes(p.contract))


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
    # expand's downgrade: the strategy's rollback (drop the trigger and the copy)
    (rollback,) = reverse_steps(p.expand_steps)
    assert isinstance(rollback, ChangeOp)
    assert (rollback.part, rollback.sql, rollback.existing) == ("rollback", RENAME, NAME_AS_IT_IS)
    undo = part_text(rollback).splitlines()
    assert undo[0] == "DROP TRIGGER IF EXISTS schemashift_sync_users_name_full_name_ins ON users"
    assert undo[-1] == "ALTER TABLE users DROP COLUMN IF EXISTS full_name"
    # contract's downgrade: the wider type back; the strategy's contract is fix-forward
    contract_down = reverse_steps(p.contract_steps)
    assert kinds(contract_down) == ["AlterColumnOp", "CommentOp"]
    assert str(contract_down[0].modify_type) == "VARCHAR(50)"
    assert "fix forward" in contract_down[1].text
    # the no-strategy recipes keep their own undo
    index = plan(aops.DropIndexOp("ix_users_email", "users", _reverse=aops.CreateIndexOp(
        "ix_users_email", "users", ["email"])))  # fmt: skip
    (back,) = reverse_steps(index.contract_steps)
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_email" in sql_of([back])


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
    contract = changes(directives[1].upgrade_ops.ops)
    assert ("contract", "ALTER TABLE users DROP COLUMN name;") in contract
    assert not any("RENAME" in sql for _, sql in contract + changes(directives[0].upgrade_ops.ops))
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


def assert_planned_like_sql(p: Project, revision_id: str, operations: list[Any]) -> Any:
    """The phase commands' plan of the pair (plan_revision) runs, for each
    ``op.schemashift_change`` among ``operations`` in order, its part of plan_sql of its
    SQL, step for step: one recipe book."""
    from schemashift.alembic.plan_revision import plan_revision

    pair = plan_revision(p.ini, revision_id, "postgres")
    ours = [s for s in pair.steps if "schemashift_change in" in s.why]
    expected = [s for op in operations if isinstance(op, ChangeOp)
                for s in part_steps(planned(op), op.part)]  # fmt: skip

    def key(s: Any) -> tuple[Any, ...]:
        return (s.phase, s.description, s.sql, s.rollback, s.concurrent, s.verify, s.backfill)

    assert expected and [key(s) for s in ours] == [key(s) for s in expected]
    return pair


def rendered(sql: str, part: str, existing: str | None = None) -> str:
    """How a revision file writes one ``op.schemashift_change``."""
    extra = "" if existing is None else f", existing={existing!r}"
    return f'op.schemashift_change("""{sql}""", {part!r}{extra})'


NICKNAME = V1.replace(
    'sa.Column("email", sa.String(100)),',
    'sa.Column("email", sa.String(100)),\n    sa.Column("nickname", sa.String(30)),',
)


def test_compatible_change_is_one_expand_revision(project: Project, fresh_url: str) -> None:
    p = project
    before = p.script.get_revision("expand@head")
    assert before is not None
    # through Alembic itself: the env.py hook does the split
    p.models(NICKNAME)
    made = command.revision(p.config(), message="nickname", autogenerate=True)
    assert not isinstance(made, list) and made is not None
    assert made.down_revision == before.revision
    text = Path(made.path).read_text()
    assert "(expand)" in text and "so there is no contract revision" in prose(text)
    assert "op.add_column('users', sa.Column('nickname'" in text
    assert "schemashift_change" not in text
    assert_heads(p, made.revision, p.contract_root)
    p.upgrade("expand@head")
    p.upgrade("contract@head")
    assert p.columns()["nickname"] is True

    # an index on it: the create_index strategy, CONCURRENTLY at expand (outside a
    # transaction, under plain `alembic upgrade` too), checked valid at contract
    result = generate(p, NICKNAME.replace('sa.String(30))', 'sa.String(30), index=True)'),
                      message="nickname index")  # fmt: skip
    index_sql = "CREATE INDEX ix_users_nickname ON users (nickname);"
    assert changes(result.plan.expand) == [("expand", index_sql)]
    assert changes(result.plan.contract) == [("contract", index_sql)]
    expand_text = Path(result.expand.path).read_text()
    contract_text = Path(result.contract.path).read_text()
    assert rendered(index_sql, "expand") in expand_text
    assert rendered(index_sql, "rollback") in expand_text  # its downgrade
    assert rendered(index_sql, "contract") in contract_text
    assert_planned_like_sql(p, result.expand.revision, result.plan.expand + result.plan.contract)
    p.upgrade("expand@head")
    valid = p.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_users_nickname'::regclass")
    assert valid == [(True,)]
    p.upgrade("contract@head")
    indexes = {i["name"] for i in sa.inspect(p.engine).get_indexes("users")}
    assert "ix_users_nickname" in indexes
    command.check(p.config())  # the models and the database agree
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
    assert rendered(RENAME, "expand", NAME_AS_IT_IS) in expand_text
    assert rendered(RENAME, "rollback", NAME_AS_IT_IS) in expand_text  # its downgrade
    assert "rename column strategy" in prose(expand_text)
    assert "Expand runs before the new app version ships; contract only after" in prose(expand_text)
    assert rendered(RENAME, "contract", NAME_AS_IT_IS) in contract_text
    assert "op.alter_column('users', 'full_name'" in contract_text  # the wider type, last
    assert contract_text.index("schemashift_change(") < contract_text.index("op.alter_column(")
    pair = assert_planned_like_sql(p, expand.revision, result.plan.expand + result.plan.contract)
    assert any("TYPE VARCHAR(80)" in sql for s in pair.steps for sql in s.sql)

    # the expand's downgrade undoes it: the copy and the trigger go, name and its data stay
    p.upgrade("expand@head")
    assert p.columns()["full_name"] is True and p.columns()["name"] is False
    command.downgrade(p.config(), "expand@-1")
    assert "full_name" not in p.columns() and p.columns()["name"] is False
    assert p.sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal") == []
    assert len({r[0] for r in p.sql("SELECT name FROM users")}) == 25

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
    # contract is fix-forward: its downgrade only narrows the type back, name stays gone,
    # and the expand's rollback then refuses rather than drop the only copy of the data
    command.downgrade(p.config(), "contract@-1")
    assert p.columns() == {"id": False, "full_name": False, "email": True, "legacy": False}
    with pytest.raises(VerificationError, match="rollback refused"):
        command.downgrade(p.config(), "expand@-1")
    assert len({r[0] for r in p.sql("SELECT full_name FROM users")}) == 27
    check_fresh_database(p, fresh_url, {"id": False, "full_name": False, "email": True,
                                        "legacy": False})  # fmt: skip


def test_new_not_null_column(project: Project, fresh_url: str) -> None:
    from schemashift.alembic.plan_revision import RevisionPlanError

    p = project
    result = generate(p, V1.replace(
        'sa.Column("email", sa.String(100)),',
        'sa.Column("email", sa.String(100)),\n    sa.Column("status", sa.String(20), nullable=False),',
    ))  # fmt: skip
    expand, contract = result.expand, result.contract
    assert contract is not None and contract.dependencies == expand.revision
    expand_text = Path(expand.path).read_text()
    sql = "ALTER TABLE users ADD COLUMN status VARCHAR(20) NOT NULL;"
    assert rendered(sql, "expand") in expand_text
    assert rendered(sql, "contract") in Path(contract.path).read_text()
    # the user is told what to fill in, and the phase commands wait for it
    assert "TODO: replace the placeholder NULL" in expand_text
    assert "op.schemashift_backfill('users', 'status', 'NULL'" in expand_text
    with pytest.raises(RevisionPlanError, match="still the placeholder NULL"):
        assert_planned_like_sql(p, expand.revision, result.plan.expand)
    p.upgrade("expand@head")  # plain alembic: the placeholder fills nothing
    assert p.columns()["status"] is True
    p.sql("INSERT INTO users (name, legacy) VALUES ('old app', 'l')")  # the old app inserts
    with pytest.raises(VerificationError, match=r"no NULL .*keys: 1, 2, 3"):
        p.upgrade("contract@head")
    assert p.columns()["status"] is True  # nothing of the contract ran
    p.sql("UPDATE users SET status = 'active'")  # what the reviewer's backfill does
    p.upgrade("contract@head")
    assert p.columns()["status"] is False
    checks = p.sql("SELECT conname FROM pg_constraint WHERE conrelid = 'users'::regclass "
                   "AND contype = 'c'")  # fmt: skip
    assert checks == []  # the helper CHECK is gone
    # once the reviewer writes the value, the phase commands plan the strategy, then it
    Path(expand.path).write_text(expand_text.replace(
        "op.schemashift_backfill('users', 'status', 'NULL'",
        "op.schemashift_backfill('users', 'status', \"'active'\""))  # fmt: skip
    pair = assert_planned_like_sql(p, expand.revision, result.plan.expand + result.plan.contract)
    backfills = [s.backfill for s in pair.steps if s.backfill is not None]
    assert [b.assignments for b in backfills] == ["status = 'active'"]
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
    sql = "ALTER TABLE users DROP COLUMN legacy;"
    assert rendered(sql, "contract") in Path(contract.path).read_text()
    assert rendered(sql, "expand") in Path(expand.path).read_text()
    assert "op.drop_column(" not in Path(contract.path).read_text()
    assert_planned_like_sql(p, expand.revision, [ChangeOp(sql, "expand"), ChangeOp(sql, "contract")])
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
