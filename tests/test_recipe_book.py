"""One recipe book: a ``.sql`` migration and an Alembic revision pair holding the same change
(``op.schemashift_change(SQL, "expand")`` / ``(SQL, "contract")``) get the same phases and
have the same effect on a real database.

1. For every strategy x every dialect it supports, on a representative SQL (the cases of
   tests/test_strategy_harness.py, plus a MySQL drop_table and a SQLite rename): plan_sql's
   plan and plan_revision's plan of the pair have the same steps, apart from Alembic's
   ``alembic_version`` stamps (and a lock timeout step, should a revision hold one).
2. The harness cases run three ways, each in a database of its own, with the harness's old
   and new app versions writing during the window, rollback and re-expand, and the verify
   failure and fix where the case has one:

   - ``sql``: the phase runner with plan_sql's plan (what the harness runs);
   - ``phases``: the phase runner with plan_revision's plan (``schemashift expand|…
     TARGET`` with the revision as TARGET);
   - ``inline``: plain Alembic, ``alembic upgrade expand@head``, ``downgrade expand@-1``,
     ``upgrade heads`` (execute/inline.py).

   The schema of the window (after expand), the final schema (columns, types,
   nullability, defaults, constraints, indexes, triggers and trigger functions gone) and
   every row of every table are the same on the three; Alembic's ``alembic_version`` and
   schemashift's own state tables apart. After the phase commands' contract
   ``alembic_version`` holds what ``alembic upgrade heads`` leaves, and a later ``alembic
   upgrade heads`` changes nothing.
3. Plain ``alembic upgrade heads`` in one go (no app writing) against the ``.sql`` plan's
   phases in one go: the same verify refusal (keys) where the seeded rows break it, the
   same schema and rows.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from db_kwargs import mysql_connect_kwargs, pg_connect_kwargs
from sqlalchemy.engine import make_url
from test_strategy_harness import (
    _RENAMED,
    MY_USERS,
    MYSQL_CASES,
    PG_CASES,
    App,
    Case,
    _drop_table_intermediate,
    _expect,
    _rename_column_intermediate,
    _statements,
    mysql_schema,
    pg_columns,
    pg_schema,
)

from schemashift.alembic.init import init_project
from schemashift.alembic.ops import VerificationError
from schemashift.alembic.plan_revision import plan_revision
from schemashift.config import Config
from schemashift.execute.runner import Runner, RunOptions, VerifyFailed
from schemashift.model import Phase
from schemashift.phases.plan import Plan, Step
from schemashift.phases.planner import plan_sql
from schemashift.strategies import STRATEGIES, strategy_name

# --------------------------------------------------------------------------- more cases


def _my_drop_table_final(app: App) -> None:
    assert app.rows("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                    "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'audit'") == []  # fmt: skip
    assert app.one("SELECT COUNT(*) FROM users") == 4


MY_EXTRA_CASES = [
    Case(
        "drop_table",
        "drop_table",
        MY_USERS + "CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, note varchar(100));",
        "DROP TABLE audit;",
        _drop_table_intermediate,
        lambda app: _expect(app, "SELECT note FROM audit", [("still written by the old app",)]),
        _my_drop_table_final,
    ),
]


class SqliteApp(App):
    """The harness's App on a sqlite3 autocommit connection (``?`` parameters)."""

    def execute(self, sql: str, *params: Any) -> None:
        self.conn.execute(sql.replace("%s", "?"), params)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql.replace("%s", "?"), params).fetchall()]


def _sqlite_rename_intermediate(old: App, new: App) -> None:
    """The harness's rename window; SQLite's sync triggers fire on UPDATE OF either column
    only (strategies/rename_column.py), so a write to another column of a row the backfill
    has not reached leaves the new column NULL until the backfill."""
    _rename_column_intermediate(old, new, any_write_syncs=False)


def _sqlite_rename_final(app: App) -> None:
    assert [r[1] for r in app.rows("PRAGMA table_info(users)")] == ["id", "email", "full_name"]
    assert app.rows("SELECT id, full_name FROM users ORDER BY id") == _RENAMED
    assert app.rows("SELECT name FROM sqlite_master WHERE type = 'trigger'") == []


SQLITE_CASES = [
    Case(
        "rename_column",
        "rename_column",
        # nullable: SQLite's AFTER triggers sync an insert naming only the new column after
        # the NOT NULL checks (strategies/rename_column.py)
        "CREATE TABLE users (id integer PRIMARY KEY, name text, email text);"
        "INSERT INTO users VALUES (1, 'ann', 'a@x'), (2, 'bob', NULL), (3, 'cid', NULL);",
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        _sqlite_rename_intermediate,
        lambda app: _expect(app, "SELECT id, name FROM users ORDER BY id", _RENAMED),
        _sqlite_rename_final,
    ),
]

CASES: dict[str, list[Case]] = {
    "postgres": PG_CASES,
    "mysql": MYSQL_CASES + MY_EXTRA_CASES,
    "sqlite": SQLITE_CASES,
}

# Values a case draws at random (gen_random_uuid()): compared as "set", not equal.
VOLATILE = {("add_not_null_column_volatile_default", "users", "token")}


def _params(dialect: str) -> list[Any]:
    return [pytest.param(c, id=c.name, marks=c.marks) for c in CASES[dialect]]


def test_every_strategy_and_dialect_has_a_case() -> None:
    wanted = {(strategy_name(s), d) for s in STRATEGIES for d in s.DIALECTS}
    covered = {(c.strategy, d) for d, cases in CASES.items() for c in cases if not c.marks}
    assert wanted - covered == set()


# --------------------------------------------------------------------------- the Alembic project

ENV_PY = """\
from alembic import context
from sqlalchemy import engine_from_config, pool

import schemashift.alembic  # noqa: F401  (the plugin registers op.schemashift_* anyway)

config = context.config
engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                            prefix="sqlalchemy.", poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

REVISION = '''\
"""recipe book: {name} ({part})"""
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = {depends!r}

SQL = {sql!r}


def upgrade():
    {lead}op.schemashift_change(SQL, {part!r})


def downgrade():
    {downgrade}
'''

EXPAND_REV, CONTRACT_REV = "e1a2", "c1a2"


@dataclass(frozen=True)
class Project:
    """A temp Alembic project with `schemashift init`'s branches and the case's pair."""

    ini: Path
    expand_root: str
    contract_root: str

    def config(self, url: str) -> AlembicConfig:
        cfg = AlembicConfig(str(self.ini), cmd_opts=argparse.Namespace(quiet=True))
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return cfg


def make_project(root: Path, dialect: str, case: Case) -> Project:
    ini = root / "alembic.ini"
    cfg = AlembicConfig(str(ini), cmd_opts=argparse.Namespace(quiet=True))
    command.init(cfg, str(root / "migrations"))
    (root / "migrations" / "env.py").write_text(ENV_PY)
    result = init_project(ini, dialect=dialect)
    assert result.expand_revision and result.contract_revision
    versions = root / "migrations" / "versions"
    sql = case.migration.strip()
    (versions / f"{EXPAND_REV}_expand.py").write_text(REVISION.format(
        name=case.name, part="expand", revision=EXPAND_REV, down=result.expand_revision,
        depends=None, sql=sql, downgrade="op.schemashift_change(SQL, 'rollback')",
        # as a revision holding plain DDL starts: a step of its own, Alembic's only
        lead="op.schemashift_lock_timeout()\n    "))  # fmt: skip
    (versions / f"{CONTRACT_REV}_contract.py").write_text(REVISION.format(
        name=case.name, part="contract", revision=CONTRACT_REV, down=result.contract_revision,
        depends=EXPAND_REV, sql=sql, downgrade="pass  # fix forward", lead=""))  # fmt: skip
    return Project(ini, result.expand_revision, result.contract_revision)


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Case], Project]:
    """One project per (dialect, case), shared by the tests of this worker."""
    made: dict[tuple[str, str], Project] = {}

    def get(dialect: str, case: Case) -> Project:
        key = (dialect, case.name)
        if key not in made:
            root = tmp_path_factory.mktemp(f"recipe_{dialect}_{case.name}")
            made[key] = make_project(root, dialect, case)
        return made[key]

    return get


# --------------------------------------------------------------------------- 1. the same phases


def _is_alembic_only(step: Step) -> bool:
    return step.description.startswith(("alembic_version: stamp", "LockTimeout"))


def _key(step: Step) -> tuple[Any, ...]:
    return (step.phase, step.description, step.sql, step.rollback, step.backfill, step.verify,
            step.concurrent, step.rollback_check, step.hazard)  # fmt: skip


def _sql_plan(case: Case, dialect: str) -> Plan:
    plan = plan_sql(case.migration, case.name, Config(dialect=dialect))
    assert any(s.endswith(f" {case.strategy}") for s in plan.strategies), plan.strategies
    return plan


@pytest.mark.parametrize(
    "dialect, case",
    [pytest.param(d, c, id=f"{d}-{c.name}", marks=c.marks) for d in CASES for c in CASES[d]],
)
def test_same_phases(dialect: str, case: Case, projects: Callable[[str, Case], Project]) -> None:
    project = projects(dialect, case)
    expected = _sql_plan(case, dialect)
    pair = plan_revision(project.ini, EXPAND_REV, dialect)
    assert plan_revision(project.ini, CONTRACT_REV, dialect) == pair  # either revision names it
    assert pair.migration == CONTRACT_REV
    assert [_key(s) for s in pair.steps if not _is_alembic_only(s)] == [
        _key(s) for s in expected.steps
    ]
    # Alembic's bookkeeping: the expand revision stamped at the end of expand, the contract
    # revision at the very end
    stamps = [(i, s.phase) for i, s in enumerate(pair.steps)
              if s.description.startswith("alembic_version: stamp")]  # fmt: skip
    last_expand = max(i for i, s in enumerate(pair.steps) if s.phase is Phase.EXPAND)
    assert stamps == [(last_expand, Phase.EXPAND), (len(pair.steps) - 1, Phase.CONTRACT)]
    # the expand revision's op.schemashift_lock_timeout(): its first step (no SQL on SQLite)
    timeouts = [i for i, s in enumerate(pair.steps) if s.description.startswith("LockTimeout")]
    assert timeouts == ([] if dialect == "sqlite" else [0])
    # every step of the .sql plan says the revision it comes from
    assert all(CONTRACT_REV in s.why or EXPAND_REV in s.why for s in pair.steps
               if not _is_alembic_only(s))  # fmt: skip


# --------------------------------------------------------------------------- 2. the same effect


class Refused(Exception):
    """Verify found rows: their keys, as text (the runner's and the inline path's alike)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


class RunnerPath:
    """The phase runner, with a plan (plan_sql's or plan_revision's)."""

    def __init__(self, url: str, dialect: str, plan: Plan) -> None:
        self.runner = Runner(url, Config(dialect=dialect),
                             RunOptions(quiet=True, lock_timeout_ms=5000))  # fmt: skip
        self.plan = plan

    def prepare(self) -> None:
        pass

    def expand(self) -> None:
        self.runner.run(self.plan, Phase.EXPAND)

    def rollback(self) -> None:
        self.runner.rollback(self.plan)

    def backfill(self) -> None:
        self.runner.run(self.plan, Phase.BACKFILL)

    def verify(self) -> None:
        try:
            self.runner.run(self.plan, Phase.VERIFY)
        except VerifyFailed as exc:
            raise Refused([str(k) for k in exc.keys]) from None

    def contract(self) -> None:
        self.runner.run(self.plan, Phase.CONTRACT)


class AlembicPhasesPath(RunnerPath):
    """``schemashift expand|backfill|verify|contract <revision>``: the runner with
    plan_revision's plan, on a database where ``alembic upgrade`` ran the branch roots."""

    def __init__(self, url: str, dialect: str, project: Project) -> None:
        super().__init__(url, dialect, plan_revision(project.ini, EXPAND_REV, dialect))
        self.project, self.url = project, url

    def prepare(self) -> None:
        # the contract root depends_on the expand root: both, and not the pair
        command.upgrade(self.project.config(self.url), self.project.contract_root)

    def contract(self) -> None:
        super().contract()
        current = _alembic_rows(self.url)
        assert current == [CONTRACT_REV], current  # as `alembic upgrade heads` leaves it
        # so a later `alembic upgrade heads` runs nothing a second time (the schema and data
        # compared with the other ways are taken after it)
        command.upgrade(self.project.config(self.url), "heads")


class InlinePath:
    """Plain Alembic: the parts run inline on Alembic's connection (execute/inline.py)."""

    def __init__(self, project: Project, url: str) -> None:
        self.project, self.url = project, url
        self.cfg = project.config(url)

    def prepare(self) -> None:
        command.upgrade(self.cfg, self.project.contract_root)

    def expand(self) -> None:
        command.upgrade(self.cfg, "expand@head")  # expand and backfill steps

    def rollback(self) -> None:
        command.downgrade(self.cfg, "expand@-1")

    def backfill(self) -> None:
        pass  # the expand revision ran it

    def verify(self) -> None:
        try:
            command.upgrade(self.cfg, "heads")  # verify, then contract
        except VerificationError as exc:
            found = re.search(r"\(keys: ([^)]*)\)", str(exc))
            assert found, str(exc)
            raise Refused(found.group(1).split(", ")) from None

    def contract(self) -> None:
        assert _alembic_rows(self.url) == [CONTRACT_REV]


class HeadsPath(InlinePath):
    """Plain ``alembic upgrade heads``: expand, backfill, verify and contract in one go."""

    def expand(self) -> None:
        pass

    def backfill(self) -> None:
        pass


def _alembic_rows(url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


Snapshot = dict[str, Any]
# (schema, rows of every table) of a database; rows=False: the schema only
State = Callable[[App, Case, bool], tuple[Snapshot, Snapshot]]


def _no_alembic(snapshot: dict[str, list[tuple[Any, ...]]]) -> Snapshot:
    """The snapshot without ``alembic_version`` (its table, key and index)."""
    return {k: [r for r in rows if not any(isinstance(v, str) and "alembic_version" in v
                                           for v in r)]
            for k, rows in snapshot.items()}  # fmt: skip


def _rows_of(app: App, case: Case, table: str, columns: list[str], quote: str) -> Any:
    names = ", ".join(f"{quote}{c}{quote}" for c in columns)
    rows = app.rows(f"SELECT {names} FROM {quote}{table}{quote}")
    volatile = [i for i, c in enumerate(columns) if (case.name, table, c) in VOLATILE]
    for i in volatile:
        values = [r[i] for r in rows]
        assert None not in values and len(set(values)) == len(values), (table, columns[i])
    masked = [tuple("<volatile>" if i in volatile else v for i, v in enumerate(r)) for r in rows]
    return (columns, sorted(masked, key=repr))


def pg_state(app: App, case: Case, rows: bool = True) -> tuple[Snapshot, Snapshot]:
    tables = [r[0] for r in app.rows(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind = 'r' AND relname <> 'alembic_version' ORDER BY 1")]  # fmt: skip
    data = {t: _rows_of(app, case, t, pg_columns(app, t), '"') for t in tables if rows}
    return _no_alembic(pg_schema(app)), data


def mysql_state(app: App, case: Case, rows: bool = True) -> tuple[Snapshot, Snapshot]:
    tables = [r[0] for r in app.rows(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT LIKE 'schemashift%%' "
        "AND TABLE_NAME <> 'alembic_version' ORDER BY 1")]  # fmt: skip
    data = {}
    for t in tables if rows else ():
        columns = [r[0] for r in app.rows(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s ORDER BY 1", t)]  # fmt: skip
        data[t] = _rows_of(app, case, t, columns, "`")
    return _no_alembic(mysql_schema(app)), data


def sqlite_schema(app: App) -> Snapshot:
    user = "tbl_name NOT LIKE 'sqlite%' AND tbl_name NOT LIKE 'schemashift%'"
    tables = [r[0] for r in app.rows(f"SELECT name FROM sqlite_master WHERE type = 'table' "
                                     f"AND {user} ORDER BY 1")]  # fmt: skip
    return _no_alembic({
        "objects": app.rows(f"SELECT type, name, tbl_name, sql FROM sqlite_master WHERE {user} "
                            "ORDER BY 1, 2"),
        "columns": [(t, *r) for t in tables for r in app.rows(f'PRAGMA table_info("{t}")')],
    })  # fmt: skip


def sqlite_state(app: App, case: Case, rows: bool = True) -> tuple[Snapshot, Snapshot]:
    schema = sqlite_schema(app)
    tables = sorted({r[0] for r in schema["columns"]})
    data = {t: _rows_of(app, case, t, sorted(r[2] for r in schema["columns"] if r[0] == t), '"')
            for t in tables if rows}  # fmt: skip
    return schema, data


def run_flow(case: Case, path: Any, connect: Callable[[str], App],
             state: State) -> tuple[Snapshot, Snapshot]:  # fmt: skip
    """The harness's story (test_strategy_harness._run_case) through ``path``; the schema
    and the data right after contract, and the schema of the window (after expand)."""
    admin = connect("setup")
    for statement in _statements(case.setup):
        admin.execute(statement)
    path.prepare()
    before = state(admin, case, False)[0]

    path.expand()
    window = state(admin, case, False)[0]  # the schema both app versions use
    old, new = connect("old app"), connect("new app")
    case.intermediate(old, new)

    path.rollback()
    assert state(admin, case, False)[0] == before, "rollback did not restore the schema"
    case.after_rollback(old)

    path.expand()
    path.backfill()
    if case.fix_before_verify is not None:
        with pytest.raises(Refused) as refused:
            path.verify()
        assert refused.value.keys == [str(k) for k in case.offending_keys]
        case.fix_before_verify(admin)
    path.verify()
    path.contract()
    schema, data = state(admin, case, True)
    case.after_contract(connect("new app after contract"))
    return {**schema, **{f"window {k}": v for k, v in window.items()}}, data


def assert_same(results: dict[str, tuple[Snapshot, Snapshot]]) -> None:
    (first, (schema, data)), *others = results.items()
    assert data and all(rows for _, rows in data.values()), data
    # the sync triggers (and PostgreSQL's trigger functions) are gone
    triggers = schema.get("triggers", []) + [r for r in schema.get("objects", [])
                                             if r[0] == "trigger"]  # fmt: skip
    assert triggers == [] and schema.get("functions", []) == []
    for name, (other_schema, other_data) in others:
        for key in schema.keys() | other_schema.keys():
            assert other_schema.get(key) == schema.get(key), f"{name} vs {first}: {key}"
        assert other_data == data, f"{name} vs {first}: the rows differ"


def run_straight(case: Case, path: Any, connect: Callable[[str], App],
                 state: State) -> tuple[Any, ...]:  # fmt: skip
    """Every phase in one go, no app writing meanwhile; verify refused once (and the data
    fixed) when the seeded rows break it. The schema, the data and the refused keys."""
    admin = connect("setup")
    for statement in _statements(case.setup):
        admin.execute(statement)
    path.prepare()
    path.expand()
    path.backfill()
    keys: list[str] = []
    try:
        path.verify()
    except Refused as refused:
        assert case.fix_before_verify is not None, refused.keys
        keys = refused.keys
        case.fix_before_verify(admin)
        path.verify()
    path.contract()
    return (*state(admin, case, True), keys)


PATHS = ("sql", "phases", "inline", "sql_straight", "heads")


def _all_ways(case: Case, dialect: str, project: Project, urls: dict[str, str],
              connect: Callable[[str], Callable[[str], App]],
              state: State) -> None:  # fmt: skip
    # the harness's story, three ways
    paths = {
        "sql": RunnerPath(urls["sql"], dialect, _sql_plan(case, dialect)),
        "phases": AlembicPhasesPath(urls["phases"], dialect, project),
        "inline": InlinePath(project, urls["inline"]),
    }
    results = {name: run_flow(case, path, connect(urls[name]), state)
               for name, path in paths.items()}  # fmt: skip
    assert_same(results)
    # plain `alembic upgrade heads` in one go, against the .sql plan's phases in one go
    straight = {
        "sql_straight": RunnerPath(urls["sql_straight"], dialect, _sql_plan(case, dialect)),
        "heads": HeadsPath(project, urls["heads"]),
    }
    outcomes = {name: run_straight(case, path, connect(urls[name]), state)
                for name, path in straight.items()}  # fmt: skip
    assert outcomes["heads"][2] == outcomes["sql_straight"][2], "verify refused other keys"
    assert_same({name: (schema, data) for name, (schema, data, _) in outcomes.items()})


def _close(conns: list[Any]) -> None:
    """Close the apps' connections before their databases are dropped."""
    for conn in reversed(conns):
        with contextlib.suppress(Exception):
            conn.close()
    conns.clear()


# -- databases -------------------------------------------------------------------------


@contextlib.contextmanager
def pg_sibling(url: str) -> Iterator[str]:
    """Another empty database on the server of ``url`` (dropped afterwards)."""
    import psycopg

    base = make_url(url)
    name = f"{base.database}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(**pg_connect_kwargs(base.set(database="postgres")), autocommit=True)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@contextlib.contextmanager
def mysql_sibling(url: str) -> Iterator[str]:
    import pymysql

    base = make_url(url)
    name = f"{base.database}_{uuid.uuid4().hex[:6]}"
    kwargs = mysql_connect_kwargs(base)
    kwargs.pop("database", None)
    admin = pymysql.connect(**kwargs)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci")  # fmt: skip
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """Connections the apps open (closed at teardown)."""
    conns: list[Any] = []
    yield conns
    _close(conns)


@pytest.mark.parametrize("case", _params("postgres"))
def test_same_effect_postgres(case: Case, postgres_url: str, opened: list[Any],
                              projects: Callable[[str, Case], Project]) -> None:  # fmt: skip
    import psycopg

    def connect(url: str) -> Callable[[str], App]:
        def app(name: str) -> App:
            opened.append(psycopg.connect(**pg_connect_kwargs(url), autocommit=True))
            return App(opened[-1], "postgres", name)

        return app

    with contextlib.ExitStack() as stack:
        urls = {"sql": postgres_url}
        urls.update({name: stack.enter_context(pg_sibling(postgres_url)) for name in PATHS[1:]})
        stack.callback(_close, opened)
        _all_ways(case, "postgres", projects("postgres", case), urls, connect, pg_state)


@pytest.mark.parametrize("case", _params("mysql"))
def test_same_effect_mysql(case: Case, mysql_url: str, opened: list[Any],
                           projects: Callable[[str, Case], Project]) -> None:  # fmt: skip
    import pymysql

    def connect(url: str) -> Callable[[str], App]:
        def app(name: str) -> App:
            opened.append(pymysql.connect(**mysql_connect_kwargs(url)))
            return App(opened[-1], "mysql", name)

        return app

    with contextlib.ExitStack() as stack:
        urls = {"sql": mysql_url}
        urls.update({name: stack.enter_context(mysql_sibling(mysql_url)) for name in PATHS[1:]})
        stack.callback(_close, opened)
        _all_ways(case, "mysql", projects("mysql", case), urls, connect, mysql_state)


@pytest.mark.parametrize("case", _params("sqlite"))
def test_same_effect_sqlite(case: Case, tmp_path: Path, opened: list[Any],
                            projects: Callable[[str, Case], Project]) -> None:  # fmt: skip
    def connect(url: str) -> Callable[[str], App]:
        def app(name: str) -> App:
            opened.append(sqlite3.connect(url.split(":///", 1)[1], isolation_level=None))
            return SqliteApp(opened[-1], "sqlite", name)

        return app

    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in PATHS}
    _all_ways(case, "sqlite", projects("sqlite", case), urls, connect, sqlite_state)
