"""Strategies and the planner without a database: which steps, in which phases, with a
rollback on every expand step and a why on every step; what passes through; what is refused.
(tests/test_strategy_harness.py runs the same plans on real servers.)"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from click.testing import CliRunner

from schemashift.config import Config
from schemashift.model import Phase
from schemashift.phases.plan import Plan, Step
from schemashift.phases.planner import PlanError, plan_sql
from schemashift.report.plan import render_plan
from schemashift.sqltext import refs
from schemashift.strategies import STRATEGIES, find_strategy, strategy_name
from schemashift.strategies.common import is_check

PG = Config()
MY = Config(dialect="mysql")
E, B, V, C = Phase.EXPAND, Phase.BACKFILL, Phase.VERIFY, Phase.CONTRACT


def plan(sql: str, config: Config = PG) -> Plan:
    """The plan without its strategies' checks (the verify-only expand / contract steps the
    runner runs first; tests/test_strategy_guards.py covers them)."""
    p = plan_sql(sql, "m", config)
    return dataclasses.replace(p, steps=tuple(s for s in p.steps if not is_check(s)))


def phases(p: Plan) -> list[Phase]:
    return [s.phase for s in p.steps]


def sql_of(p: Plan, phase: Phase) -> str:
    """The phase's SQL, run-time references shown as ``{type of t.c}``."""
    return refs.render("\n".join(q for _, s in p.phase(phase) for q in s.sql))


def rollback_of(p: Plan) -> str:
    return refs.render("\n".join(q for _, s in p.phase(E) for q in s.rollback))


def only_strategy(p: Plan) -> str:
    (entry,) = p.strategies
    return entry.split(" ", 1)[1]


def assert_well_formed(p: Plan) -> None:
    for step in p.steps:
        assert step.why and "\n" not in step.why, step
        assert step.description, step
        if step.phase is E:
            assert step.rollback, f"expand step without rollback: {step.description}"
        if step.backfill is not None or step.verify is not None:
            assert step.phase in (B, V), step


# --------------------------------------------------------------------------- registry


def test_registry_has_every_strategy_once_in_priority_order() -> None:
    names = [strategy_name(s) for s in STRATEGIES]
    assert sorted(names) == sorted(
        ["rename_column", "rename_table", "change_column_type", "add_not_null_column",
         "set_not_null", "add_foreign_key", "add_unique", "add_check", "create_index",
         "drop_column", "drop_table", "bigint_primary_key"]
    )  # fmt: skip
    assert names.index("bigint_primary_key") < names.index("change_column_type")
    for strategy in STRATEGIES:
        assert "postgres" in strategy.DIALECTS


def test_mysql_has_at_least_the_required_strategies() -> None:
    mysql = {strategy_name(s) for s in STRATEGIES if "mysql" in s.DIALECTS}
    assert {"rename_column", "change_column_type", "add_not_null_column", "drop_column",
            "create_index"} <= mysql  # fmt: skip


# --------------------------------------------------------------------------- PostgreSQL


def test_rename_column() -> None:
    p = plan("ALTER TABLE users RENAME COLUMN name TO full_name;")
    assert only_strategy(p) == "rename_column"
    assert phases(p) == [E, B, V, V, V, V, C]
    assert_well_formed(p)
    expand = sql_of(p, E)
    assert "ADD COLUMN IF NOT EXISTS full_name {type of users.name}" in expand
    assert "CREATE TRIGGER" in expand and "BEFORE INSERT" in expand and "BEFORE UPDATE" in expand
    assert "DROP COLUMN IF EXISTS full_name" in rollback_of(p)
    assert "DROP TRIGGER IF EXISTS" in rollback_of(p)
    (_, backfill), = p.phase(B)  # fmt: skip
    assert backfill.backfill is not None
    assert backfill.backfill.assignments == "full_name = name"
    assert backfill.backfill.pending == "full_name IS DISTINCT FROM name"
    verify = [s.verify for _, s in p.phase(V) if s.verify]
    assert "WHERE full_name IS DISTINCT FROM name" in verify[0].sql
    assert "{pk of users}" in refs.render(verify[0].sql)
    assert p.steps[0].rollback_check is not None  # rollback needs the old column still there
    contract = sql_of(p, C)
    assert "DROP TRIGGER IF EXISTS" in contract
    assert contract.rstrip().endswith("ALTER TABLE users DROP COLUMN name")
    assert "SET NOT NULL" in contract  # carried from the old column when it had it


def test_rename_column_quotes_names() -> None:
    p = plan('ALTER TABLE app."Users" RENAME COLUMN "Name" TO "user";')
    expand = sql_of(p, E)
    assert 'ALTER TABLE app."Users" ADD COLUMN IF NOT EXISTS "user" {type of app."Users".Name}' in expand
    assert 'NEW."user"' in expand


def test_rename_table() -> None:
    p = plan("ALTER TABLE public.orders RENAME TO purchases;")
    assert only_strategy(p) == "rename_table"
    assert phases(p) == [E, C]
    assert_well_formed(p)
    assert p.steps[0].sql == (
        "ALTER TABLE public.orders RENAME TO purchases",
        "CREATE VIEW public.orders AS SELECT * FROM public.purchases",
    )
    assert p.steps[0].rollback == (
        "DROP VIEW IF EXISTS public.orders",
        "ALTER TABLE IF EXISTS public.purchases RENAME TO orders",
    )
    assert p.steps[1].sql == ("DROP VIEW IF EXISTS public.orders",)


def test_change_column_type_narrowing() -> None:
    p = plan("ALTER TABLE items ALTER COLUMN qty TYPE integer;")
    assert only_strategy(p) == "change_column_type"
    assert phases(p) == [E, B, V, V, V, V, C, C, C]
    assert_well_formed(p)
    expand = sql_of(p, E)
    assert "ADD COLUMN IF NOT EXISTS _ss_new_qty integer" in expand
    # The conversion never fails an app's write: a value that does not fit leaves NULL.
    assert "v := (r.qty);" in expand and "EXCEPTION WHEN data_exception" in expand
    assert "NEW._ss_new_qty := schemashift_conv_items_qty(NEW);" in expand
    (_, b), = p.phase(B)  # fmt: skip
    assert b.backfill is not None
    assert b.backfill.assignments == "_ss_new_qty = schemashift_conv_items_qty(items)"
    assert b.backfill.pending == "_ss_new_qty IS DISTINCT FROM schemashift_conv_items_qty(items)"
    verify = [s.verify.sql for _, s in p.phase(V) if s.verify]
    assert "schemashift_conv_items_qty_fails(items)" in verify[0]  # names unconvertible rows
    # NOT NULL on the shadow only at contract: at expand it would refuse old-app writes.
    assert "CHECK (_ss_new_qty IS NOT NULL)" not in expand
    contract = sql_of(p, C)
    assert "CHECK (_ss_new_qty IS NOT NULL) NOT VALID" in contract
    assert "DROP COLUMN qty" in contract
    assert contract.rstrip().endswith("RENAME COLUMN _ss_new_qty TO qty")


def test_change_column_type_using() -> None:
    p = plan("ALTER TABLE items ALTER COLUMN code TYPE integer USING trim(code)::integer;")
    assert "v := (trim(r.code)::integer);" in sql_of(p, E)
    (_, b), = p.phase(B)  # fmt: skip
    assert b.backfill is not None
    assert b.backfill.assignments == "_ss_new_code = schemashift_conv_items_code(items)"


def test_binary_coercible_type_change_passes_through() -> None:
    p = plan_sql(
        "ALTER TABLE t ALTER COLUMN c TYPE varchar(50);", "m", PG,
    )  # fmt: skip
    # Old type unknown: assumed to rewrite (fail safe) → strategy.
    assert only_strategy(p) == "change_column_type"
    p = plan("CREATE TABLE t (c varchar(20));\nALTER TABLE t ALTER COLUMN c TYPE varchar(50);")
    assert [s.split(" ", 1)[1] for s in p.strategies] == ["as written", "as written"]


def test_bigint_primary_key_ahead_of_change_column_type() -> None:
    p = plan("ALTER TABLE accounts ALTER COLUMN id TYPE bigint;")
    assert only_strategy(p) == "bigint_primary_key"
    assert phases(p) == [E, E, B, V, V, V, V, C, C]
    assert_well_formed(p)
    expand = p.phase(E)
    assert "RAISE EXCEPTION" in expand[0][1].sql[0]  # guard: really the integer key
    assert expand[1][1].concurrent
    assert (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts__ss_new_id_key"
        in (expand[1][1].sql[0])
    )
    assert expand[1][1].rollback == ("DROP INDEX CONCURRENTLY IF EXISTS accounts__ss_new_id_key",)
    contract = sql_of(p, C)
    assert "PRIMARY KEY USING INDEX accounts__ss_new_id_key" in contract
    assert "AS bigint" in contract  # the serial's sequence widens
    assert "NOT VALID" in contract and p.steps[-1].concurrent  # FKs validated after


def test_int_to_bigint_on_other_column_is_a_plain_type_change() -> None:
    p = plan("ALTER TABLE sessions ALTER COLUMN account_id TYPE bigint;")
    assert only_strategy(p) == "change_column_type"


def test_add_not_null_column_volatile_default() -> None:
    p = plan("ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();")
    assert only_strategy(p) == "add_not_null_column"
    assert phases(p) == [E, B, V, C, C, C]
    assert_well_formed(p)
    assert p.steps[0].sql == (
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS token uuid",
        "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()",
    )
    assert p.steps[1].backfill is not None
    assert p.steps[1].backfill.assignments == "token = gen_random_uuid()"
    assert p.steps[1].backfill.pending == "token IS NULL"
    contract = [s for _, s in p.phase(C)]
    assert "CHECK (token IS NOT NULL) NOT VALID" in contract[0].sql[1]
    assert contract[1].concurrent and "VALIDATE CONSTRAINT" in contract[1].sql[0]
    assert contract[2].sql == (
        "ALTER TABLE users ALTER COLUMN token SET NOT NULL",
        "ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_token_not_null",
    )


def test_add_not_null_column_without_default_says_who_fills_it() -> None:
    p = plan("ALTER TABLE users ADD COLUMN status text NOT NULL;")
    assert phases(p) == [E, V, C, C, C]
    assert "new app version" in p.steps[1].why


def test_add_not_null_column_with_constant_default_passes_through() -> None:
    p = plan("ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active';")
    assert only_strategy(p) == "as written"
    assert phases(p) == [E]
    assert p.steps[0].rollback == ("ALTER TABLE users DROP COLUMN IF EXISTS status",)


def test_add_column_with_constant_default_before_pg11_uses_the_strategy() -> None:
    p = plan_sql(
        "ALTER TABLE users ADD COLUMN status text DEFAULT 'active';", "m",
        Config(server_version="10"),
    )  # fmt: skip
    p = dataclasses.replace(p, steps=tuple(s for s in p.steps if not is_check(s)))
    assert only_strategy(p) == "add_not_null_column"
    assert phases(p) == [E, B]  # nullable: nothing to verify or contract
    assert p.steps[0].sql[1] == "ALTER TABLE users ALTER COLUMN status SET DEFAULT 'active'"


def test_set_not_null() -> None:
    p = plan("ALTER TABLE users ALTER COLUMN email SET NOT NULL;")
    assert only_strategy(p) == "set_not_null"
    assert phases(p) == [V, C, C, C]
    assert_well_formed(p)
    assert "WHERE email IS NULL" in (p.steps[0].verify.sql if p.steps[0].verify else "")


def test_add_foreign_key() -> None:
    p = plan(
        "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;"
    )
    assert only_strategy(p) == "add_foreign_key"
    assert phases(p) == [E, V, V]
    assert_well_formed(p)
    assert p.steps[0].sql == (
        "ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) "
        "REFERENCES users (id) ON DELETE CASCADE NOT VALID",
    )
    assert p.steps[0].rollback == (
        "ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_user_id_fkey",
    )
    orphans = p.steps[1].verify
    assert orphans is not None and "NOT EXISTS (SELECT 1 FROM users p WHERE p.id = c.user_id)" in (
        orphans.sql
    )
    assert p.steps[2].concurrent
    assert p.steps[2].sql == ("ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey",)


def test_add_foreign_key_not_valid_passes_through() -> None:
    p = plan("ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES users (id) NOT VALID;")
    assert only_strategy(p) == "as written"
    assert p.steps[0].rollback == ("ALTER TABLE o DROP CONSTRAINT IF EXISTS fk",)


def test_add_unique() -> None:
    p = plan("ALTER TABLE users ADD UNIQUE NULLS NOT DISTINCT (email, tenant);")
    assert only_strategy(p) == "add_unique"
    assert phases(p) == [E, V, C]
    assert_well_formed(p)
    assert p.steps[0].concurrent
    assert p.steps[0].sql == (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_tenant_key ON users "
        "(email, tenant) NULLS NOT DISTINCT",
    )
    assert p.steps[0].rollback == ("DROP INDEX CONCURRENTLY IF EXISTS users_email_tenant_key",)
    assert p.steps[2].sql == (
        "ALTER TABLE users ADD CONSTRAINT users_email_tenant_key UNIQUE USING INDEX "
        "users_email_tenant_key",
    )


def test_add_check() -> None:
    p = plan("ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0 AND (qty < 10));")
    assert only_strategy(p) == "add_check"
    assert phases(p) == [E, V, V]
    assert_well_formed(p)
    assert p.steps[0].sql[0].endswith("CHECK (qty > 0 AND (qty < 10)) NOT VALID")
    assert p.steps[1].verify is not None
    assert "WHERE (qty > 0 AND (qty < 10)) IS FALSE" in p.steps[1].verify.sql


def test_create_index() -> None:
    p = plan("CREATE UNIQUE INDEX ON users USING btree (lower(email)) WHERE deleted IS NULL;")
    assert only_strategy(p) == "create_index"
    assert phases(p) == [E, V]
    assert_well_formed(p)
    assert p.steps[0].concurrent
    assert p.steps[0].sql == (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_expr_idx ON users USING btree "
        "(lower(email)) WHERE deleted IS NULL",
    )
    assert p.steps[0].rollback == ("DROP INDEX CONCURRENTLY IF EXISTS users_expr_idx",)


def test_create_index_concurrently_passes_through() -> None:
    p = plan("CREATE INDEX CONCURRENTLY i ON users (email);")
    assert only_strategy(p) == "as written"
    assert p.steps[0].concurrent
    assert p.steps[0].rollback == ("DROP INDEX CONCURRENTLY IF EXISTS i",)


def test_drop_column() -> None:
    p = plan("ALTER TABLE users DROP COLUMN legacy CASCADE;")
    assert only_strategy(p) == "drop_column"
    assert phases(p) == [E, C]
    assert_well_formed(p)
    assert "DROP NOT NULL" in p.steps[0].sql[0]
    assert "SET NOT NULL" in p.steps[0].rollback[0]
    # Re-runnable: a contract finished by a second run finds the column gone.
    assert p.steps[1].sql == ("ALTER TABLE users DROP COLUMN IF EXISTS legacy CASCADE",)


def test_drop_table_is_contract_only() -> None:
    p = plan("DROP TABLE IF EXISTS audit;")
    assert only_strategy(p) == "drop_table"
    assert phases(p) == [C]
    assert "nothing to expand" in p.steps[0].why


# --------------------------------------------------------------------------- MySQL


def test_mysql_rename_column() -> None:
    p = plan("ALTER TABLE users RENAME COLUMN name TO full_name;", MY)
    assert only_strategy(p) == "rename_column"
    assert phases(p) == [E, B, V, V, V, C, C]
    assert_well_formed(p)
    expand = sql_of(p, E)
    # Re-runnable after a kill between the ALTER's commit and its record: only when missing.
    # As the catalog says at expand it can be added (a NOT NULL TIMESTAMP gets a placeholder).
    assert "SELECT CONCAT('ALTER TABLE `users` ADD COLUMN `full_name` ', {copydef of users.name})" in expand
    assert "NEW.`full_name` <=> {copymark of users.name}" in expand
    assert "WHERE NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS" in expand
    assert "CREATE TRIGGER IF NOT EXISTS" in expand
    # The contract gives full_name name's definition as captured at expand (never re-read
    # from name, which the same ALTER relaxes).
    assert "MODIFY COLUMN `full_name` {coldef of users.name}" in sql_of(p, C)
    assert "BEFORE INSERT ON `users`" in expand and "BEFORE UPDATE ON `users`" in expand
    assert p.steps[1].backfill is not None
    assert p.steps[1].backfill.pending == "NOT (`full_name` <=> `name`)"
    contract = sql_of(p, C)
    assert "LOCK TABLES `users` WRITE" in contract and "UNLOCK TABLES" in contract


def test_mysql_change_column_with_definition() -> None:
    p = plan("ALTER TABLE users CHANGE name full_name varchar(100) NOT NULL;", MY)
    assert "ADD COLUMN `full_name` varchar(100) NULL" in sql_of(p, E)
    assert "MODIFY COLUMN `full_name` varchar(100) NOT NULL" in sql_of(p, C)


def test_mysql_change_column_type() -> None:
    p = plan("ALTER TABLE items MODIFY qty int NOT NULL DEFAULT 1, ALGORITHM=COPY;", MY)
    assert only_strategy(p) == "change_column_type"
    assert phases(p) == [E, B, V, V, C, C]
    assert_well_formed(p)
    assert "SET NEW.`_ss_new_qty` = NEW.`qty`" in sql_of(p, E)
    contract = sql_of(p, C)
    assert "MODIFY COLUMN `_ss_new_qty` int NOT NULL DEFAULT 1, LOCK=NONE" in contract
    assert "DROP COLUMN `qty`, RENAME COLUMN `_ss_new_qty` TO `qty`" in contract


def test_mysql_add_not_null_column() -> None:
    p = plan("ALTER TABLE users ADD COLUMN status varchar(20) NOT NULL;", MY)
    assert only_strategy(p) == "add_not_null_column"
    assert phases(p) == [E, V, C]
    assert_well_formed(p)
    assert "SELECT 'ALTER TABLE `users` ADD COLUMN `status` varchar(20) NULL' FROM DUAL WHERE NOT " \
        "EXISTS" in p.steps[0].sql[0]
    assert p.steps[2].sql == (
        "ALTER TABLE `users` MODIFY COLUMN `status` varchar(20) NOT NULL, "
        "ALGORITHM=INPLACE, LOCK=NONE",
    )


def test_mysql_drop_column() -> None:
    p = plan("ALTER TABLE users DROP COLUMN legacy;", MY)
    assert only_strategy(p) == "drop_column"
    assert phases(p) == [E, C]
    assert "PREPARE" in " ".join(p.steps[0].sql) and "PREPARE" in " ".join(p.steps[0].rollback)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CREATE INDEX i ON users (email)", "CREATE INDEX i ON users (email) ALGORITHM=INPLACE LOCK=NONE"),
        ("CREATE INDEX i ON users (email) ALGORITHM=COPY", "CREATE INDEX i ON users (email) ALGORITHM=INPLACE LOCK=NONE"),
        ("ALTER TABLE users ADD INDEX (email)", "ALTER TABLE users ADD INDEX `users_email_idx` (email), ALGORITHM=INPLACE, LOCK=NONE"),
    ],
)  # fmt: skip
def test_mysql_create_index(sql: str, expected: str) -> None:
    p = plan(sql + ";", MY)
    assert only_strategy(p) == "create_index"
    assert p.steps[0].sql == (expected,)
    assert p.steps[0].rollback


def test_mysql_online_index_passes_through() -> None:
    p = plan("CREATE INDEX i ON users (email) ALGORITHM=INPLACE LOCK=NONE;", MY)
    assert only_strategy(p) == "as written"


def test_postgres_only_strategies_do_not_apply_on_mysql() -> None:
    p = plan("RENAME TABLE users TO people;", MY)
    assert only_strategy(p) == "as written"
    assert phases(p) == [C]  # breaking, no MySQL recipe: runs once no old version is live


# --------------------------------------------------------------------------- planner


def test_compatible_statements_pass_through_in_their_phase() -> None:
    p = plan(
        "SET lock_timeout = '2s';\n"
        "BEGIN;\n"
        "CREATE TABLE audit (id bigint PRIMARY KEY, note text);\n"
        "ALTER TABLE users ADD COLUMN nickname text;\n"
        "UPDATE users SET nickname = name WHERE nickname IS NULL;\n"
        "DROP INDEX CONCURRENTLY IF EXISTS users_old_idx;\n"
        "COMMIT;\n"
    )
    assert phases(p) == [E, E, B, C]
    assert p.strategies == ("m.sql:3 as written", "m.sql:4 as written", "m.sql:5 as written",
                            "m.sql:6 as written")  # fmt: skip
    assert p.steps[0].rollback == ("DROP TABLE IF EXISTS audit",)
    assert p.steps[1].rollback == ("ALTER TABLE users DROP COLUMN IF EXISTS nickname",)
    assert p.steps[2].sql == ("UPDATE users SET nickname = name WHERE nickname IS NULL",)
    assert p.steps[3].concurrent
    assert all(s.why for s in p.steps)


def test_tables_created_in_the_same_migration_pass_through() -> None:
    p = plan(
        "CREATE TABLE t (id int PRIMARY KEY, a text);\n"
        "CREATE INDEX t_a ON t (a);\n"
        "ALTER TABLE t RENAME COLUMN a TO b;\n"
        "ALTER TABLE t ALTER COLUMN b SET NOT NULL;\n"
    )
    assert phases(p) == [E, E, E, E]
    assert all(s.endswith("as written") for s in p.strategies)
    assert "creates" in p.steps[1].why


def test_steps_are_ordered_by_phase_keeping_source_order() -> None:
    p = plan(
        "ALTER TABLE users DROP COLUMN legacy;\n"
        "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
    )
    assert phases(p) == sorted(phases(p), key=[E, B, V, C].index)
    contract = [s.description for _, s in p.phase(C)]
    assert contract[0].startswith("drop users.legacy")


def test_several_changes_in_one_statement_needing_a_strategy_are_refused() -> None:
    with pytest.raises(PlanError, match=r"m\.sql:2: split this statement into one statement per"):
        plan("SELECT 1;\nALTER TABLE users ADD COLUMN x int, DROP COLUMN y;")


def test_several_compatible_changes_in_one_statement_pass_through_together() -> None:
    p = plan("ALTER TABLE users ADD COLUMN x int, ADD COLUMN y int;")
    assert phases(p) == [E]
    assert p.steps[0].rollback == (
        "ALTER TABLE users DROP COLUMN IF EXISTS y",
        "ALTER TABLE users DROP COLUMN IF EXISTS x",
    )


def test_changes_of_different_phases_in_one_statement_are_refused() -> None:
    with pytest.raises(PlanError, match="different phases"):
        plan("ALTER TABLE users ADD COLUMN x int, DROP CONSTRAINT users_y_check;")


def test_unknown_statements_are_refused_with_file_and_line() -> None:
    with pytest.raises(PlanError, match=r"^m\.sql:3: cannot plan a statement .*DO block"):
        plan("ALTER TABLE users ADD COLUMN x int;\n\nDO $$ BEGIN PERFORM 1; END $$;")
    with pytest.raises(PlanError, match=r"^migs/0001\.sql:1: "):
        plan_sql("EXECUTE something;", "0001", PG, file="migs/0001.sql")


def test_a_strategy_that_cannot_read_the_statement_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="add_unique: only UNIQUE"):
        plan("ALTER TABLE users ADD CONSTRAINT u UNIQUE (email) DEFERRABLE;")


def test_plan_json_round_trip() -> None:
    p = plan(
        "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
        "CREATE INDEX users_email_idx ON users (email);\n"
        "ALTER TABLE accounts ALTER COLUMN id TYPE bigint;\n"
    )
    data = json.loads(json.dumps(p.to_json()))
    back = Plan.from_json(data)
    assert back.steps == p.steps
    assert back.to_json() == p.to_json()
    assert back.checksum == p.checksum
    assert back.strategies == p.strategies


def test_render_plan_lists_phases_steps_sql_and_why() -> None:
    p = plan("ALTER TABLE users RENAME COLUMN name TO full_name;")
    text = render_plan(p)
    assert text.startswith(f"plan m (postgres), checksum {p.checksum}\n")
    for header in ("EXPAND", "BACKFILL", "VERIFY", "CONTRACT"):
        assert f"\n{header}\n" in text
    assert "why: " in text and "rollback:" in text
    assert (
        "backfill: UPDATE users SET full_name = name WHERE full_name IS DISTINCT FROM name" in text
    )
    assert "in batches on the primary key of users" in text
    assert "{type of users.name}" in text
    assert "[outside a transaction]" in text


def test_find_strategy_reads_kind_dialect_and_applies() -> None:
    from schemashift.analysis.engine import lint_text
    from schemashift.sql.parse import parse_statement

    sql = "CREATE INDEX CONCURRENTLY i ON t (a)"
    (action,) = parse_statement(sql, "postgres")
    (change,) = lint_text(sql).statements[0].changes
    assert find_strategy(action, change, "postgres") is None


# --------------------------------------------------------------------------- CLI


def _invoke(*args: str, **kwargs: Any) -> Any:
    from schemashift.cli.plan import plan_command

    return CliRunner().invoke(plan_command, list(args), **kwargs)


def test_plan_command_text_and_json(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "0002_rename.sql").write_text("ALTER TABLE users RENAME COLUMN a TO b;\n")
    result = _invoke("0002_rename.sql")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("plan 0002_rename (postgres)")
    result = _invoke("0002_rename.sql", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["migration"] == "0002_rename"
    assert data["checksum"] == plan_sql(
        (tmp_path / "0002_rename.sql").read_text(), "0002_rename", PG).checksum
    assert "{type of users.a}" in json.dumps(data)  # references shown readably


def test_plan_command_errors(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke("abc123")
    assert result.exit_code == 2
    assert "abc123: not a .sql migration, and no Alembic project here" in result.output
    result = _invoke("missing.sql")
    assert result.exit_code == 2 and "no such file" in result.output
    (tmp_path / "bad.sql").write_text("SELECT 1;\nDO $$ BEGIN END $$;\n")
    result = _invoke("bad.sql")
    assert result.exit_code == 2 and "bad.sql:2: cannot plan" in result.output


def test_every_strategy_step_is_a_step() -> None:
    p = plan("ALTER TABLE users RENAME COLUMN a TO b;")
    assert all(isinstance(s, Step) for s in p.steps)
